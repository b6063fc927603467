// What every grant handler receives and returns, and the steps they share: reading parameters,
// checking scopes against the certificate and the registration, issuing the token response.
import type { AccessTokens } from '../access-tokens.ts';
import { OAuthError } from '../errors.ts';
import type { PaymentInitiationDetail } from '../payments/payment.ts';
import type { PaymentAuthorizationStore } from '../payments/ports.ts';
import type { ClientRecord, ClientStore } from '../registration/ports.ts';
import { type GrantType, type Scope, scopesAllowedForRoles } from '../scope-policy.ts';
import type { TppIdentity } from '../tpp-identity.ts';
import type { AuthorizationCodeStore, ConsentState, GrantStore } from './ports.ts';

export interface TokenDeps {
  clients: Pick<ClientStore, 'find'>;
  authorizationCodes: AuthorizationCodeStore;
  grants: GrantStore;
  accessTokens: AccessTokens;
  /** Issue a new refresh token on each refresh (off by default, FAPI 2.0). */
  refreshTokenRotation: boolean;
  /** Scope pisp: the payment a code was approved for. */
  payments: Pick<PaymentAuthorizationStore, 'find'>;
  now?: () => number;
}

export interface GrantContext<P extends string = string> {
  deps: TokenDeps;
  client: ClientRecord;
  tpp: TppIdentity;
  /** Only the parameters the grant takes; anything else in the request was dropped. */
  params: Partial<Record<P, string>>;
  now: number;
}

/** RFC 6749 §5.1. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  /** Scope pisp (RFC 9396 §7). */
  authorization_details?: PaymentInitiationDetail[];
}

export interface GrantHandler<P extends string = string> {
  name: GrantType;
  /** The request parameters this grant takes, besides grant_type and client_id. */
  parameters: readonly P[];
  handle(context: GrantContext<P>): Promise<TokenResponse>;
}

const KNOWN_SCOPES: readonly string[] = ['aisp', 'extended_transaction_history', 'cbpii', 'pisp'];

export function required<P extends string>(params: Partial<Record<P, string>>, name: P): string {
  const value = params[name];
  if (value === undefined || value === '') throw new OAuthError('invalid_request', `${name}: required`);
  return value;
}

export function scopeList(scope: string): Scope[] {
  return scope.split(' ').filter(Boolean) as Scope[];
}

/** A requested `scope` parameter (RFC 6749 §3.3): known values, single spaces, none twice. */
export function parseScopeParameter(value: string): Scope[] {
  const names = value.split(' ');
  if (names.some((n) => n === '')) throw new OAuthError('invalid_scope', 'scope values are separated by single spaces');
  for (const name of names) {
    if (!KNOWN_SCOPES.includes(name)) throw new OAuthError('invalid_scope', `unknown scope ${name}`);
  }
  if (new Set(names).size !== names.length) throw new OAuthError('invalid_scope', 'a scope value is repeated');
  return names as Scope[];
}

/**
 * The certificate is checked on every request, not only at registration: a renewed QWAC may have
 * lost a PSD2 role. The registration may also have been narrowed since the consent was given.
 */
export function checkEntitlement(client: ClientRecord, tpp: TppIdentity, scopes: readonly Scope[]): void {
  const allowed = scopesAllowedForRoles(tpp.roles);
  const missing = scopes.filter((s) => !allowed.includes(s));
  if (missing.length > 0) {
    throw new OAuthError(
      'unauthorized_client',
      `the certificate's PSD2 roles (${tpp.roles.join(', ')}) do not allow ${missing.join(' ')}`,
    );
  }
  const registered = scopeList(client.metadata.scope);
  const unregistered = scopes.filter((s) => !registered.includes(s));
  if (unregistered.length > 0) {
    throw new OAuthError('invalid_scope', `the client is not registered for ${unregistered.join(' ')}`);
  }
}

/** A consent still in force at `now`; else the grant it backs is dead. */
export function checkConsent(consent: ConsentState | undefined, now: number): ConsentState {
  if (!consent) throw new OAuthError('invalid_grant', 'the consent behind this grant does not exist');
  if (consent.revokedAt !== null) throw new OAuthError('invalid_grant', 'the PSU consent was revoked');
  if (consent.expiresAt <= now) throw new OAuthError('invalid_grant', 'the PSU consent has expired');
  return consent;
}

export async function tokenResponse(
  context: GrantContext,
  token: {
    sub: string;
    scopes: readonly Scope[];
    grantId?: string;
    consent?: ConsentState;
    refreshToken?: string;
    authorizationDetails?: PaymentInitiationDetail[];
  },
): Promise<TokenResponse> {
  const scope = token.scopes.join(' ');
  const { token: accessToken } = await context.deps.accessTokens.issue(
    {
      sub: token.sub,
      clientId: context.client.clientId,
      scope,
      thumbprint: context.tpp.thumbprint,
      grantId: token.grantId,
      consentId: token.consent?.consentId,
      accountIds: token.consent?.accountIds,
      authorizationDetails: token.authorizationDetails,
    },
    context.now,
  );
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: context.deps.accessTokens.ttl,
    scope,
    ...(token.refreshToken ? { refresh_token: token.refreshToken } : {}),
    ...(token.authorizationDetails ? { authorization_details: token.authorizationDetails } : {}),
  };
}
