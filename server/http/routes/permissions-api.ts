// The permission dashboard as a JSON API for the bank's own online banking (PSR art. 43): the
// bank's back office, with its own HTTP Basic credentials (BACK_OFFICE_CLIENT_ID and the digest of
// its secret), reads a PSU's permissions and history and withdraws a permission for the PSU. On the
// TPP listener, beside the payment back channel; never on the PSU listener. Thin: the rules are in
// protocol/permissions.ts, shared with the PSU's own pages.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { OAuthError } from '../../protocol/errors.ts';
import {
  authenticateBackOffice,
  type BackOfficeCredentials,
  type PaymentHistoryItem,
  type Permission,
  type PermissionDeps,
  type PermissionOverview,
  permissionsOf,
  type TppIdentity,
  withdrawPermission,
} from '../../protocol/permissions.ts';
import { bodyTooLargeResponse } from '../body.ts';
import type { AppEnv } from '../env.ts';
import { errorResponses, noStoreHeaders } from '../schemas.ts';
import { basicCredentials } from './introspection.ts';

const TAG = 'Permissions';
const instant = (description: string) => z.string().openapi({ description: `${description} (ISO 8601, UTC).` });

const Tpp = z
  .object({
    client_id: z.string(),
    client_name: z
      .string()
      .openapi({ description: 'The registered `client_name` (self-declared), else the client_id.' }),
    organization_identifier: z.string().nullable().openapi({
      description: 'The organizationIdentifier of the TPP’s QWAC, verified at registration (e.g. PSDFR-ACPR-12345).',
      example: 'PSDFR-ACPR-12345',
    }),
    legal_name: z.string().nullable().openapi({
      description:
        'The organisation name (O=) of the TPP’s QWAC, verified at registration; show it apart from the self-declared client_name.',
      example: 'Exemple Paiements SAS',
    }),
  })
  .openapi('PermissionTpp');

const PermissionSchema = z
  .object({
    consent_id: z.string(),
    tpp: Tpp,
    service: z.enum(['account_information', 'account_information_extended_history', 'funds_confirmation']).openapi({
      description:
        '`aisp` (90 days of transactions), `aisp extended_transaction_history` (older ones too) or `cbpii` (funds confirmation).',
    }),
    accounts: z.array(
      z.object({
        account_id: z.string(),
        iban: z.string().nullable().openapi({ description: 'Null for an account the bank no longer holds.' }),
      }),
    ),
    granted_at: instant('When the PSU granted it'),
    sca_renewal_at: instant(
      'When a new strong customer authentication is due (RTS art. 10a): 180 days after the PSU’s last SCA with this TPP',
    ),
    expires_at: instant('When it ends by itself'),
    status: z.enum(['active', 'withdrawn', 'expired']),
    withdrawn_at: z.string().nullable().openapi({ description: 'When it was withdrawn (ISO 8601), else null.' }),
    withdrawn_by: z.enum(['psu', 'tpp', 'bank']).nullable(),
  })
  .openapi('Permission');

const PaymentSchema = z
  .object({
    authorization_id: z.string(),
    tpp: Tpp,
    action: z.enum(['initiate', 'cancel']),
    amount: z.string().openapi({ example: '123.50' }),
    currency: z.string().openapi({ example: 'EUR' }),
    creditor_name: z.string(),
    creditor_iban: z.string(),
    debtor_iban: z.string().nullable(),
    authorised_at: instant('When the PSU authorised it'),
    status: z.enum(['authorised', 'consumed']),
  })
  .openapi('AuthorisedPayment');

const PermissionsResponse = z
  .object({
    psu_id: z.string(),
    permissions: z.array(PermissionSchema).openapi({ description: 'The active permissions, newest first.' }),
    history: z.object({
      permissions: z
        .array(PermissionSchema)
        .openapi({ description: 'Withdrawn and expired permissions of the last two years, the latest ended first.' }),
      payments: z.array(PaymentSchema).openapi({
        description: 'Payments the PSU authorised in the last two years, newest first; read-only (PSD2 art. 80).',
      }),
    }),
  })
  .openapi('PsuPermissions');

const PsuParam = z.object({
  psu_id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'psu_id', in: 'path' }, example: 'psu-jeanne' }),
});
const ConsentParam = PsuParam.extend({
  consent_id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'consent_id', in: 'path' }, example: 'q1X8bK2w0vR5nL7eT3yZ9a' }),
});

const security = [{ backOfficeBasic: [] }];
const UNAUTHENTICATED = {
  description:
    'invalid_client: missing or wrong back-office credentials (or none configured); with WWW-Authenticate: Basic',
  example: new OAuthError('invalid_client', 'back-office authentication failed', { challenge: 'Basic' }),
};

export const getPermissionsRoute = createRoute({
  method: 'get',
  path: '/psus/{psu_id}/permissions',
  tags: [TAG],
  operationId: 'getPsuPermissions',
  summary: 'A PSU’s permissions and their history (permission dashboard)',
  description:
    'What the PSU’s permission dashboard shows, for the bank’s own online banking: the active permissions per TPP, the withdrawn and expired ones and the authorised payments of the last two years.',
  security,
  request: { params: PsuParam },
  responses: {
    200: {
      description: 'The permissions.',
      headers: noStoreHeaders,
      content: { 'application/json': { schema: PermissionsResponse } },
    },
    ...errorResponses({
      401: UNAUTHENTICATED,
      404: {
        description: 'not_found: no PSU with this id (none known here, and none who ever granted a permission)',
        example: new OAuthError('not_found', 'no PSU with this id'),
      },
    }),
  },
});

const withdrawPath = '/psus/{psu_id}/permissions/{consent_id}/withdraw';
export const withdrawPermissionRoute = createRoute({
  method: 'post',
  path: withdrawPath,
  tags: [TAG],
  operationId: 'withdrawPsuPermission',
  summary: 'Withdraw a permission for the PSU',
  description:
    'The PSU withdraws it in the bank’s app: the consent and its grants are revoked at once (the TPP’s refresh token answers invalid_grant, its access tokens introspect inactive) and the withdrawal is written to the authentication log.',
  security,
  request: { params: ConsentParam },
  responses: {
    204: { description: 'Withdrawn.', headers: noStoreHeaders },
    ...errorResponses({
      401: UNAUTHENTICATED,
      404: {
        description: 'not_found: no such permission for this PSU (another PSU’s, a payment’s, or unknown)',
        example: new OAuthError('not_found', 'no permission with this id for this PSU'),
      },
      409: {
        description: 'conflict: the permission was already withdrawn or has expired',
        example: new OAuthError('conflict', 'this permission was already withdrawn or has expired'),
      },
      413: bodyTooLargeResponse(withdrawPath),
    }),
  },
});

const iso = (ms: number) => new Date(ms).toISOString();
const tppView = (tpp: TppIdentity) => ({
  client_id: tpp.clientId,
  client_name: tpp.clientName,
  organization_identifier: tpp.organizationId,
  legal_name: tpp.legalName,
});
const permissionView = (p: Permission): z.infer<typeof PermissionSchema> => ({
  consent_id: p.consentId,
  tpp: tppView(p.tpp),
  service: p.service,
  accounts: p.accounts.map((a) => ({ account_id: a.accountId, iban: a.iban })),
  granted_at: iso(p.grantedAt),
  sca_renewal_at: iso(p.scaRenewalAt),
  expires_at: iso(p.expiresAt),
  status: p.status,
  withdrawn_at: p.withdrawnAt === null ? null : iso(p.withdrawnAt),
  withdrawn_by: p.withdrawnBy as 'psu' | 'tpp' | 'bank' | null,
});
const paymentView = (p: PaymentHistoryItem): z.infer<typeof PaymentSchema> => ({
  authorization_id: p.authorizationId,
  tpp: tppView(p.tpp),
  action: p.action,
  amount: p.amount,
  currency: p.currency,
  creditor_name: p.creditorName,
  creditor_iban: p.creditorIban,
  debtor_iban: p.debtorIban,
  authorised_at: iso(p.authorisedAt),
  status: p.status,
});

/** The overview as the API (and the CLI's `--json`) writes it. */
export function permissionsBody(overview: PermissionOverview): z.infer<typeof PermissionsResponse> {
  return {
    psu_id: overview.psuId,
    permissions: overview.current.map(permissionView),
    history: { permissions: overview.ended.map(permissionView), payments: overview.payments.map(paymentView) },
  };
}

export function mountPermissionsApi(
  app: OpenAPIHono<AppEnv>,
  deps: PermissionDeps & { backOffice: BackOfficeCredentials | undefined; clock: () => number },
): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'backOfficeBasic', {
    type: 'http',
    scheme: 'basic',
    description:
      'The bank’s back office: `BACK_OFFICE_CLIENT_ID` and the secret whose SHA-256 is `BACK_OFFICE_SECRET_SHA256` (`npx psd2-oauth back-office credentials`).',
  });
  const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
  async function backOffice(c: Context<AppEnv>): Promise<string> {
    const clientId = await authenticateBackOffice(deps.backOffice, basicCredentials(c.req.header('authorization')));
    c.set('clientId', clientId);
    return clientId;
  }

  app.openapi(getPermissionsRoute, async (c) => {
    await backOffice(c);
    const overview = await permissionsOf(deps, c.req.valid('param').psu_id, deps.clock());
    return c.json(permissionsBody(overview), 200, noStore);
  });

  app.openapi(withdrawPermissionRoute, async (c) => {
    const clientId = await backOffice(c);
    const { psu_id, consent_id } = c.req.valid('param');
    // An unknown PSU is 404 as such, before the consent is looked for.
    await permissionsOf(deps, psu_id, deps.clock());
    await withdrawPermission(deps, {
      psuId: psu_id,
      consentId: consent_id,
      now: deps.clock(),
      actor: { sessionId: `back-office:${clientId}`, channel: 'back_office' },
    });
    return c.body(null, 204, noStore);
  });
}
