// authorization_code (RFC 6749 §4.1.3, RFC 7636): a single-use code, bound to its client, its
// redirect URI and its PKCE challenge, becomes a grant. The redemption is one conditional UPDATE:
// of concurrent redemptions exactly one wins, and any later presentation revokes what it issued.
import { createHash } from 'node:crypto';
import { OAuthError } from '../errors.ts';
import { effectiveStatus, grantedDetails } from '../payments/back-channel.ts';
import { newGrantId, newRefreshToken } from '../refresh-tokens.ts';
import { secretDigest } from '../secrets.ts';
import type { ConsentState, GrantRecord } from './ports.ts';
import {
  checkConsent,
  checkEntitlement,
  type GrantHandler,
  required,
  scopeList,
  type TokenDeps,
  tokenResponse,
} from './types.ts';

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** Synchronous (node:crypto, on Node and Deno): WebCrypto's digest is a thread-pool job per call. */
function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** Scope pisp: the code is worth a token only while its payment is authorised and unused. */
async function authorisedPayment(deps: TokenDeps, consent: ConsentState, now: number) {
  if (!consent.authorizationId) return undefined;
  const record = await deps.payments.find(consent.authorizationId);
  const status = record ? effectiveStatus(record, now) : 'unknown';
  if (!record || status !== 'authorised') throw invalidGrant(`the payment authorization is ${status}`);
  return grantedDetails(record);
}

const invalidGrant = (description: string, detail?: string) => new OAuthError('invalid_grant', description, { detail });
const ALREADY_USED = 'the authorization code was already used; the tokens issued from it are revoked';

export const authorizationCodeGrant: GrantHandler<'code' | 'redirect_uri' | 'code_verifier'> = {
  name: 'authorization_code',
  parameters: ['code', 'redirect_uri', 'code_verifier'],
  async handle(context) {
    const { deps, client, tpp, params, now } = context;
    const code = required(params, 'code');
    const redirectUri = required(params, 'redirect_uri');
    const verifier = required(params, 'code_verifier');

    const digest = await secretDigest(code);
    const found = await deps.authorizationCodes.find(digest);
    if (!found) throw invalidGrant('the authorization code is unknown or expired');
    const { code: record } = found;
    // RFC 6749 §4.1.2: a second use means the code leaked; whoever presents it, revoke what it issued.
    if (record.consumedAt !== null) {
      if (record.grantId) await deps.grants.revoke(record.grantId, 'code_reuse', now);
      throw invalidGrant(ALREADY_USED, `grant ${record.grantId ?? 'none'} revoked`);
    }
    if (record.clientId !== client.clientId) throw invalidGrant('the authorization code was issued to another client');
    if (record.expiresAt <= now) throw invalidGrant('the authorization code is unknown or expired');
    if (record.redirectUri !== redirectUri) {
      throw invalidGrant('redirect_uri differs from the one of the authorization request');
    }
    if (!CODE_VERIFIER.test(verifier) || s256(verifier) !== record.codeChallenge) {
      throw invalidGrant('code_verifier does not match the code_challenge (PKCE S256)');
    }
    const consent = checkConsent(found.consent, now);
    const scopes = scopeList(record.scope);
    checkEntitlement(client, tpp, scopes);
    const authorizationDetails = await authorisedPayment(deps, consent, now);

    const grantId = newGrantId();
    // A payment is authorised once: its token is never refreshed.
    const refreshable = client.metadata.grant_types.includes('refresh_token') && !authorizationDetails;
    const refresh = refreshable ? await newRefreshToken(grantId) : undefined;
    const grant: GrantRecord = {
      grantId,
      clientId: client.clientId,
      consentId: consent.consentId,
      psuId: record.psuId,
      scope: record.scope,
      refreshTokenDigest: refresh?.digest ?? null,
      previousRefreshTokenDigest: null,
      createdAt: now,
      // Refresh tokens live as long as the consent they carry.
      expiresAt: consent.expiresAt,
      revokedAt: null,
      revokedReason: null,
    };
    if (!(await deps.authorizationCodes.redeem(digest, grant, now))) {
      // Another redemption won between our read and our write: this one is the second use.
      const winner = await deps.authorizationCodes.find(digest);
      if (winner?.code.grantId) await deps.grants.revoke(winner.code.grantId, 'code_reuse', now);
      throw invalidGrant(ALREADY_USED, 'lost a concurrent redemption');
    }
    return tokenResponse(context, {
      sub: record.psuId,
      scopes,
      grantId,
      consent,
      refreshToken: refresh?.token,
      authorizationDetails,
    });
  },
};
