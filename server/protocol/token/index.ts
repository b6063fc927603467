// The token endpoint (RFC 6749 §3.2), HTTP-free: authenticate the client (tls_client_auth), pick
// the grant from the registry, keep only the parameters it takes, check the client may use it,
// run it. Each grant lives in its own file; adding one is adding it to GRANTS.
import { authenticateClient } from '../client-authentication.ts';
import { OAuthError } from '../errors.ts';
import type { TppIdentity } from '../tpp-identity.ts';
import { authorizationCodeGrant } from './authorization-code.ts';
import { clientCredentialsGrant } from './client-credentials.ts';
import { refreshTokenGrant } from './refresh-token.ts';
import type { GrantHandler, TokenDeps, TokenResponse } from './types.ts';

export type { TokenDeps, TokenResponse } from './types.ts';

const GRANTS: readonly GrantHandler[] = [
  authorizationCodeGrant as GrantHandler,
  refreshTokenGrant as GrantHandler,
  clientCredentialsGrant as GrantHandler,
];

/** For the RFC 8414 metadata: exactly what the registry serves. */
export const GRANT_TYPES_SUPPORTED: readonly string[] = GRANTS.map((g) => g.name);

/**
 * `form` holds each parameter once: the HTTP layer refuses repeated parameters (RFC 6749 §3.2)
 * before calling this.
 */
export async function tokenRequest(
  deps: TokenDeps,
  tpp: TppIdentity,
  form: Readonly<Record<string, string>>,
): Promise<TokenResponse> {
  const client = await authenticateClient(deps.clients, tpp, form.client_id);
  const grantType = form.grant_type;
  if (!grantType) throw new OAuthError('invalid_request', 'grant_type: required');
  const grant = GRANTS.find((g) => g.name === grantType);
  if (!grant) {
    throw new OAuthError(
      'unsupported_grant_type',
      `grant_type ${grantType} is not supported (${GRANT_TYPES_SUPPORTED.join(', ')})`,
    );
  }
  if (!client.metadata.grant_types.includes(grant.name)) {
    throw new OAuthError('unauthorized_client', `the client is not registered for the ${grant.name} grant type`);
  }
  const params: Record<string, string> = {};
  for (const name of grant.parameters) {
    const value = form[name];
    if (value !== undefined) params[name] = value;
  }
  return grant.handle({ deps, client, tpp, params, now: deps.now?.() ?? Date.now() });
}
