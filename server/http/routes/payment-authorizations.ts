// The payment back channel for the bank's resource servers (HTTP Basic, the credentials of
// `psd2-oauth resource-server add`): register a payment or a cancellation and get the
// consentApproval URL, read its status, consume it once, withdraw it. Thin: protocol/payments/.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { OAuthError } from '../../protocol/errors.ts';
import { authenticateResourceServer } from '../../protocol/introspection.ts';
import {
  type BackChannelDeps,
  consumePayment,
  readPayment,
  registerPayment,
  withdrawPayment,
} from '../../protocol/payments/back-channel.ts';
import type { ResourceServerStore } from '../../protocol/token/ports.ts';
import { bodyTooLargeResponse, readJsonObject, unsupportedMediaTypeResponse } from '../body.ts';
import type { AppEnv } from '../env.ts';
import { errorResponses, noStoreHeaders } from '../schemas.ts';
import { basicCredentials } from './introspection.ts';

const TAG = 'Payments';
const registerPath = '/payment-authorizations';
const itemPath = '/payment-authorizations/{authorization_id}';
const consumePath = '/payment-authorizations/{authorization_id}/consume';
const Iban = z.object({ iban: z.string().openapi({ example: 'FR7630006000011234567890189' }) });
const Payment = z
  .object({
    instructedAmount: z.object({
      amount: z.string().openapi({
        description: 'A positive decimal string with at most the currency’s minor digits (ISO 4217).',
        example: '123.50',
      }),
      currency: z.string().openapi({ description: 'ISO 4217 code.', example: 'EUR' }),
    }),
    creditorName: z.string().openapi({
      description: '1 to 70 characters, no control or bidirectional formatting characters.',
      example: 'Boulangerie Martin',
    }),
    creditorAccount: Iban.openapi({ description: 'The IBAN is checked (length, mod-97).' }),
    debtorAccount: Iban.optional().openapi({ description: 'Fixed by the bank; otherwise the PSU chooses.' }),
    remittanceInformation: z
      .string()
      .optional()
      .openapi({ description: 'Up to 140 characters.', example: 'Facture 42' }),
    requestedExecutionDate: z.string().optional().openapi({ description: 'YYYY-MM-DD', example: '2026-12-24' }),
  })
  .openapi('Payment');

const RegistrationRequest = z
  .object({
    client_id: z.string().openapi({ description: 'The PISP’s client_id (from its introspected token).' }),
    action: z.enum(['initiate', 'cancel']),
    payment_request_resource_id: z.string().openapi({ description: 'The bank’s payment request resource id.' }),
    payment: Payment,
  })
  .openapi('PaymentAuthorizationRequest', {
    example: {
      client_id: 'tq3Vb2cN9xVhK1xq0yM2lQqB',
      action: 'initiate',
      payment_request_resource_id: 'pr-2026-000042',
      payment: {
        instructedAmount: { amount: '123.50', currency: 'EUR' },
        creditorName: 'Boulangerie Martin',
        creditorAccount: { iban: 'FR7630006000011234567890189' },
        remittanceInformation: 'Facture 42',
      },
    },
  });

const PaymentAuthorization = z
  .object({
    authorization_id: z.string(),
    client_id: z.string(),
    action: z.enum(['initiate', 'cancel']),
    payment_request_resource_id: z.string(),
    status: z.enum(['awaiting_authorisation', 'authorised', 'rejected', 'expired', 'consumed', 'withdrawn']),
    payment_hash: z.string().openapi({
      description: 'base64url(SHA-256(RFC 8785 canonical JSON of action, ids, client and payment)): dynamic linking.',
    }),
    payment: Payment,
    consent_approval_href: z.string().openapi({
      description:
        'The authorization endpoint with response_type, client_id, scope=pisp and authorization_details: the PISP adds redirect_uri, state, code_challenge and code_challenge_method.',
    }),
    expires_at: z.string().openapi({ description: 'Until then the PSU may approve (PAYMENT_AUTHORIZATION_TTL).' }),
    debtorAccount: Iban.optional().openapi({ description: 'The account the PSU paid from, once authorised.' }),
    sca_at: z
      .string()
      .optional()
      .openapi({ description: 'When the PSU authorised it (strong customer authentication).' }),
  })
  .openapi('PaymentAuthorization');

const IdParam = z.object({
  authorization_id: z
    .string()
    .openapi({ param: { name: 'authorization_id', in: 'path' }, example: 'b7Qe1xZ0nVf3kL2pR8sT5w' }),
});
const security = [{ resourceServerBasic: [] }];
const json = (description: string) => ({
  description,
  headers: noStoreHeaders,
  content: { 'application/json': { schema: PaymentAuthorization } },
});
const UNAUTHENTICATED = {
  description: 'invalid_client: missing or wrong resource server credentials; with WWW-Authenticate: Basic',
  example: new OAuthError('invalid_client', 'resource server authentication failed', { challenge: 'Basic' }),
};
const UNKNOWN = {
  description: 'not_found: no such authorization, or another resource server’s',
  example: new OAuthError('not_found', 'no payment authorization with this id'),
};

export const registerPaymentRoute = createRoute({
  method: 'post',
  path: registerPath,
  tags: [TAG],
  operationId: 'registerPaymentAuthorization',
  summary: 'Register a payment (or a cancellation) the PSU is to authorise',
  description:
    'Called by the bank’s resource server when a PISP posts a payment request. The same client_id, payment_request_resource_id and action with the same payment answer 200 and the same body (a retry); with another payment 409. Nothing is stored for a rejected request.',
  security,
  request: { body: { required: true, content: { 'application/json': { schema: RegistrationRequest } } } },
  responses: {
    201: json('Registered: send the PISP `consent_approval_href` as `_links.consentApproval.href`.'),
    200: json('Already registered with the same payment.'),
    ...errorResponses({
      400: {
        description:
          'invalid_request: a field is missing or wrong (named in error_description); unauthorized_client: unknown, deleted or suspended client, or no PSP_PI role',
        example: new OAuthError(
          'invalid_request',
          'payment.creditorAccount.iban: the check digits do not match (mod-97): a typo?',
        ),
      },
      401: UNAUTHENTICATED,
      409: {
        description: 'conflict: the resource id and action are registered with another payment',
        example: new OAuthError(
          'conflict',
          'this payment_request_resource_id and action are registered with another payment: register a new resource id',
        ),
      },
      413: bodyTooLargeResponse(registerPath),
      415: unsupportedMediaTypeResponse,
    }),
  },
});

export const getPaymentRoute = createRoute({
  method: 'get',
  path: itemPath,
  tags: [TAG],
  operationId: 'getPaymentAuthorization',
  summary: 'The status of a payment authorization',
  description: 'The status, the debtor account the PSU chose and the time of the SCA: map them to STET statuses.',
  security,
  request: { params: IdParam },
  responses: { 200: json('The payment authorization.'), ...errorResponses({ 401: UNAUTHENTICATED, 404: UNKNOWN }) },
});

export const consumePaymentRoute = createRoute({
  method: 'post',
  path: consumePath,
  tags: [TAG],
  operationId: 'consumePaymentAuthorization',
  summary: 'Use an authorised payment once (on the PISP’s confirmation)',
  description:
    'One conditional update: of concurrent calls exactly one gets 200; every later call 409. The payment’s access token then introspects `{"active": false}`.',
  security,
  request: { params: IdParam },
  responses: {
    200: json('Consumed: execute the payment.'),
    ...errorResponses({
      401: UNAUTHENTICATED,
      404: UNKNOWN,
      409: {
        description: 'conflict: not authorised (awaiting, already consumed, rejected, expired or withdrawn)',
        example: new OAuthError('conflict', 'the payment authorization is awaiting_authorisation, not authorised'),
      },
      413: bodyTooLargeResponse(consumePath),
    }),
  },
});

export const withdrawPaymentRoute = createRoute({
  method: 'delete',
  path: itemPath,
  tags: [TAG],
  operationId: 'withdrawPaymentAuthorization',
  summary: 'Withdraw a payment authorization (the bank dropped the payment)',
  description:
    'A PSU still on the payment page ends with access_denied and no code; a token already issued for it introspects inactive.',
  security,
  request: { params: IdParam },
  responses: {
    204: { description: 'Withdrawn.' },
    ...errorResponses({
      401: UNAUTHENTICATED,
      404: UNKNOWN,
      409: {
        description: 'conflict: already consumed, rejected, expired or withdrawn',
        example: new OAuthError('conflict', 'the payment authorization is withdrawn: it cannot be withdrawn'),
      },
      413: bodyTooLargeResponse(itemPath),
    }),
  },
});

export function mountPaymentAuthorizations(
  app: OpenAPIHono<AppEnv>,
  deps: BackChannelDeps & { resourceServers: Pick<ResourceServerStore, 'find'>; clock: () => number },
): void {
  const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
  async function caller(c: Context<AppEnv>) {
    const server = await authenticateResourceServer(
      deps.resourceServers,
      basicCredentials(c.req.header('authorization')),
    );
    c.set('clientId', server.clientId);
    return server.clientId;
  }

  // The body is read by body.ts and checked by the protocol core, so that every error names its field.
  app.openAPIRegistry.registerPath(registerPaymentRoute);
  app.post(registerPaymentRoute.path, async (c) => {
    const resourceServerId = await caller(c);
    const body = await readJsonObject(c, 'invalid_request');
    const { created, view } = await registerPayment(deps, resourceServerId, body, deps.clock());
    return c.json(view, created ? 201 : 200, noStore);
  });

  app.openapi(getPaymentRoute, async (c) => {
    const resourceServerId = await caller(c);
    const view = await readPayment(deps, resourceServerId, c.req.valid('param').authorization_id, deps.clock());
    return c.json(view, 200, noStore);
  });

  app.openapi(consumePaymentRoute, async (c) => {
    const resourceServerId = await caller(c);
    const view = await consumePayment(deps, resourceServerId, c.req.valid('param').authorization_id, deps.clock());
    return c.json(view, 200, noStore);
  });

  app.openapi(withdrawPaymentRoute, async (c) => {
    const resourceServerId = await caller(c);
    await withdrawPayment(deps, resourceServerId, c.req.valid('param').authorization_id, deps.clock());
    return c.body(null, 204, noStore);
  });
}
