// Token introspection (RFC 7662) for the bank's resource servers, which authenticate with the
// credentials `psd2-oauth resource-server add` created. An access token is active when its
// signature and lifetime are good, its jti is not revoked, its client still exists and, when it
// comes from a PSU's consent, its grant is not revoked and the consent is in force. Refresh tokens
// are not introspectable here: resource servers never hold them.
import type { AccessTokenClaims, AccessTokens } from './access-tokens.ts';
import { OAuthError } from './errors.ts';
import { effectiveStatus } from './payments/back-channel.ts';
import type { PaymentInitiationDetail } from './payments/payment.ts';
import type { PaymentAuthorizationStore } from './payments/ports.ts';
import type { ClientStore } from './registration/ports.ts';
import { secretDigest } from './secrets.ts';
import type { GrantStore, ResourceServerRecord, ResourceServerStore, RevokedAccessTokenStore } from './token/ports.ts';

export interface IntrospectionDeps {
  clients: Pick<ClientStore, 'find'>;
  grants: Pick<GrantStore, 'find'>;
  revokedAccessTokens: Pick<RevokedAccessTokenStore, 'isRevoked'>;
  accessTokens: Pick<AccessTokens, 'verify'>;
  /** Scope pisp: a payment's token is active only while the payment is authorised (not yet consumed). */
  payments: Pick<PaymentAuthorizationStore, 'find'>;
  now?: () => number;
}

export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      scope: string;
      client_id: string;
      sub: string;
      exp: number;
      iat: number;
      iss: string;
      aud: string;
      jti: string;
      token_type: 'Bearer';
      cnf: { 'x5t#S256': string };
      consent_id?: string;
      account_ids?: string[];
      authorization_details?: PaymentInitiationDetail[];
    };

const INACTIVE = { active: false } as const;

function refused(): OAuthError {
  return new OAuthError('invalid_client', 'resource server authentication failed', { challenge: 'Basic' });
}

export async function authenticateResourceServer(
  store: Pick<ResourceServerStore, 'find'>,
  credentials: { clientId: string; secret: string } | undefined,
): Promise<ResourceServerRecord> {
  if (!credentials) throw refused();
  const server = await store.find(credentials.clientId);
  // Digests of 256-bit secrets: comparing them leaks nothing usable about the secret.
  if (!server || server.secretDigest !== (await secretDigest(credentials.secret))) throw refused();
  return server;
}

export async function introspect(deps: IntrospectionDeps, token: string | undefined): Promise<IntrospectionResponse> {
  if (!token) throw new OAuthError('invalid_request', 'token: required');
  const now = deps.now?.() ?? Date.now();
  const claims = await deps.accessTokens.verify(token, now);
  if (!claims || !(await isLive(deps, claims, now))) return INACTIVE;
  return {
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    sub: claims.sub,
    exp: claims.exp,
    iat: claims.iat,
    iss: claims.iss,
    aud: claims.aud,
    jti: claims.jti,
    token_type: 'Bearer',
    cnf: { 'x5t#S256': claims.cnf['x5t#S256'] },
    ...(claims.consent_id ? { consent_id: claims.consent_id } : {}),
    ...(claims.account_ids ? { account_ids: claims.account_ids } : {}),
    ...(claims.authorization_details ? { authorization_details: claims.authorization_details } : {}),
  };
}

async function isLive(deps: IntrospectionDeps, claims: AccessTokenClaims, now: number): Promise<boolean> {
  if (await deps.revokedAccessTokens.isRevoked(claims.jti)) return false;
  const client = await deps.clients.find(claims.client_id);
  if (!client || client.suspendedAt) return false;
  if (claims.grant_id === undefined) return claims.consent_id === undefined;
  const found = await deps.grants.find(claims.grant_id);
  if (!found) return false;
  const { grant, consent } = found;
  if (grant.revokedAt !== null || grant.expiresAt <= now || grant.clientId !== claims.client_id) return false;
  if (consent === undefined || consent.revokedAt !== null || consent.expiresAt <= now) return false;
  if (!consent.authorizationId) return claims.authorization_details === undefined;
  // RFC 9396 §9.2: active while the payment is authorised; consumed, withdrawn or changed ends it.
  const payment = await deps.payments.find(consent.authorizationId);
  return (
    payment !== undefined &&
    effectiveStatus(payment, now) === 'authorised' &&
    claims.authorization_details?.[0]?.payment_hash === payment.paymentHash
  );
}
