// Pushed authorization requests (RFC 9126): the TPP posts the authorization parameters over mTLS
// and gets a single-use request_uri to send the PSU to /authorize with.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { pushAuthorizationRequest } from '../../protocol/authorization.ts';
import { authenticateClient } from '../../protocol/client-authentication.ts';
import { OAuthError } from '../../protocol/errors.ts';
import type { PaymentAuthorizationStore } from '../../protocol/payments/ports.ts';
import type { PushedRequestStore } from '../../protocol/psu/ports.ts';
import type { ClientStore } from '../../protocol/registration/ports.ts';
import { bodyTooLargeResponse } from '../body.ts';
import type { AppEnv } from '../env.ts';
import { formEndpoint } from '../form.ts';
import { errorResponses, noStoreHeaders } from '../schemas.ts';

const PushedRequest = z
  .object({
    client_id: z.string().openapi({ description: 'The client the presented QWAC is registered for.' }),
    response_type: z.string().openapi({ enum: ['code'], example: 'code' }),
    redirect_uri: z.string().openapi({ example: 'https://tpp.example/cb' }),
    scope: z.string().openapi({ example: 'aisp extended_transaction_history' }),
    state: z.string().optional(),
    code_challenge: z.string().openapi({ example: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' }),
    code_challenge_method: z.string().openapi({ enum: ['S256'], example: 'S256' }),
    request_uri: z.string().openapi({ description: 'Refused: a pushed request cannot name another (RFC 9126 §2.1).' }),
    authorization_details: z.string().openapi({
      description:
        'Scope pisp only (RFC 9396): `[{"type":"payment_initiation","identifier":"<authorization_id>"}]`, as the consentApproval href carries it; `actions` may be given, no other field.',
    }),
  })
  .partial()
  .openapi('PushedAuthorizationRequest');

const PushedResponse = z
  .object({
    request_uri: z.string(),
    expires_in: z.number().int(),
  })
  .openapi('PushedAuthorizationResponse', {
    example: { request_uri: 'urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c', expires_in: 60 },
  });

export const parRoute = createRoute({
  method: 'post',
  path: '/par',
  tags: ['Authorization'],
  summary: 'Push an authorization request (RFC 9126)',
  description:
    'The parameters of an authorization request, checked as /authorize checks them. The `request_uri` is single use, bound to the client, and expires after `expires_in` seconds; send the PSU to `/{lang}/authorize?client_id=…&request_uri=…`.',
  operationId: 'pushAuthorizationRequest',
  security: [{ mutualTLS: [] }],
  request: {
    body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: PushedRequest } } },
  },
  responses: {
    201: {
      description: 'Stored.',
      headers: noStoreHeaders,
      content: { 'application/json': { schema: PushedResponse } },
    },
    ...errorResponses({
      400: {
        description:
          'invalid_request (a missing, repeated or wrong parameter, PKCE missing or not S256, unregistered redirect_uri), invalid_scope, unauthorized_client',
        example: new OAuthError('invalid_request', 'the redirect_uri is not registered for this client'),
      },
      401: {
        description: 'invalid_client: no acceptable QWAC, or the certificate is not the one registered for client_id',
        example: new OAuthError('invalid_client', 'client certificate rejected: no client certificate was presented', {
          challenge: 'mTLS',
        }),
      },
      413: bodyTooLargeResponse('/par'),
    }),
  },
});

export function mountPar(
  app: OpenAPIHono<AppEnv>,
  deps: {
    clients: ClientStore;
    pushedRequests: PushedRequestStore;
    payments: Pick<PaymentAuthorizationStore, 'find'>;
    authenticate: MiddlewareHandler<AppEnv>;
    expiresInSeconds: number;
  },
): void {
  app.on('POST', '/par', deps.authenticate, formEndpoint);
  app.openapi(parRoute, async (c) => {
    const body = c.req.valid('form');
    const client = await authenticateClient(deps.clients, c.get('tpp'), body.client_id);
    c.set('clientId', client.clientId);
    const pushed = await pushAuthorizationRequest(deps, client.clientId, body, Date.now(), deps.expiresInSeconds);
    return c.json(pushed, 201, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  });
  // Not an operation of the API: only POST is (RFC 9126 §2).
  app.get('/par', (c) => {
    c.header('Allow', 'POST');
    throw new OAuthError('method_not_allowed', 'use POST (RFC 9126 §2)');
  });
}
