// refresh_token (RFC 6749 §6) for aisp and cbpii grants. The token is bound to its client and
// lives as long as the consent. A refresh never yields extended_transaction_history (STET: history
// beyond 90 days needs the PSU's SCA). Without rotation (the default, FAPI 2.0) nothing is written.
import { OAuthError } from '../errors.ts';
import { newRefreshToken, refreshTokenGrantId } from '../refresh-tokens.ts';
import { scopesGrantableByRefresh } from '../scope-policy.ts';
import { secretDigest } from '../secrets.ts';
import {
  checkConsent,
  checkEntitlement,
  type GrantHandler,
  parseScopeParameter,
  required,
  scopeList,
  tokenResponse,
} from './types.ts';

const unknownToken = () => new OAuthError('invalid_grant', 'the refresh token is unknown, expired or revoked');

export const refreshTokenGrant: GrantHandler<'refresh_token' | 'scope'> = {
  name: 'refresh_token',
  parameters: ['refresh_token', 'scope'],
  async handle(context) {
    const { deps, client, tpp, params, now } = context;
    const presented = required(params, 'refresh_token');
    const grantId = refreshTokenGrantId(presented);
    const found = grantId ? await deps.grants.find(grantId) : undefined;
    if (!grantId || !found) throw unknownToken();
    const { grant } = found;
    if (grant.clientId !== client.clientId) {
      throw new OAuthError('invalid_grant', 'the refresh token was issued to another client');
    }
    if (grant.revokedAt !== null) throw unknownToken();

    const digest = await secretDigest(presented);
    const current = digest === grant.refreshTokenDigest;
    const retry = deps.refreshTokenRotation && digest === grant.previousRefreshTokenDigest;
    if (!current && !retry) {
      // With rotation, a token of this grant that is neither current nor previous was rotated out
      // long ago: someone kept a copy. Revoke the family (RFC 9700 §4.14.2).
      if (deps.refreshTokenRotation) await deps.grants.revoke(grant.grantId, 'refresh_token_reuse', now);
      throw unknownToken();
    }
    if (grant.expiresAt <= now) throw unknownToken();
    const consent = checkConsent(found.consent, now);

    const granted = scopeList(grant.scope);
    const refreshable = scopesGrantableByRefresh(granted);
    if (!refreshable.some((s) => s === 'aisp' || s === 'cbpii')) {
      throw new OAuthError('invalid_grant', 'refresh_token serves aisp and cbpii grants only');
    }
    const scopes = params.scope === undefined ? refreshable : parseScopeParameter(params.scope);
    for (const scope of scopes) {
      if (!granted.includes(scope)) {
        throw new OAuthError(
          'invalid_scope',
          `${scope} was not granted by the PSU: a refresh may only narrow the scope`,
        );
      }
      if (!refreshable.includes(scope)) {
        throw new OAuthError('invalid_scope', `${scope} needs a new authorization with the PSU (SCA), not a refresh`);
      }
    }
    checkEntitlement(client, tpp, scopes);

    let refreshToken: string | undefined;
    if (deps.refreshTokenRotation) {
      const next = await newRefreshToken(grant.grantId);
      if (!(await deps.grants.rotateRefreshToken(grant.grantId, digest, next.digest))) throw unknownToken();
      refreshToken = next.token;
    }
    return tokenResponse(context, { sub: grant.psuId, scopes, grantId: grant.grantId, consent, refreshToken });
  },
};
