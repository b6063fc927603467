// Token revocation (RFC 7009). The caller is an authenticated client. Unknown, expired and already
// revoked tokens are answered as revoked (§2.2). A token of another client is refused and left as
// it is (§2.1): invalid_request, which tells the caller nothing it could not try at the token endpoint.
import { type AccessTokens, looksLikeJwt } from './access-tokens.ts';
import { OAuthError } from './errors.ts';
import { refreshTokenGrantId } from './refresh-tokens.ts';
import type { ClientRecord } from './registration/ports.ts';
import { secretDigest } from './secrets.ts';
import type { GrantStore, RevokedAccessTokenStore } from './token/ports.ts';

export interface RevocationDeps {
  grants: Pick<GrantStore, 'find' | 'revoke'>;
  revokedAccessTokens: Pick<RevokedAccessTokenStore, 'revoke'>;
  accessTokens: Pick<AccessTokens, 'verify'>;
  now?: () => number;
}

const notYours = () =>
  new OAuthError('invalid_request', 'the token was not issued to this client: it is left untouched');

/**
 * Access token: its jti is recorded until it expires. Refresh token: its grant is revoked, which
 * ends the refresh token and every access token issued from the grant. `token_type_hint` is not
 * needed: the two kinds are told apart by their shape (a JWT, or grant id and secret).
 */
export async function revokeToken(
  deps: RevocationDeps,
  client: ClientRecord,
  token: string | undefined,
): Promise<void> {
  if (!token) throw new OAuthError('invalid_request', 'token: required');
  const now = deps.now?.() ?? Date.now();

  if (looksLikeJwt(token)) {
    const claims = await deps.accessTokens.verify(token, now);
    if (!claims) return;
    if (claims.client_id !== client.clientId) throw notYours();
    await deps.revokedAccessTokens.revoke(
      { jti: claims.jti, clientId: claims.client_id, expiresAt: claims.exp * 1000 },
      now,
    );
    return;
  }

  const grantId = refreshTokenGrantId(token);
  const found = grantId ? await deps.grants.find(grantId) : undefined;
  if (!grantId || !found) return;
  const digest = await secretDigest(token);
  const { grant } = found;
  if (digest !== grant.refreshTokenDigest && digest !== grant.previousRefreshTokenDigest) return;
  if (grant.clientId !== client.clientId) throw notYours();
  await deps.grants.revoke(grantId, 'refresh_token_revoked', now);
}
