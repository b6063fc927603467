// Access tokens: JWTs per RFC 9068, signed by the active key, bound to the client certificate
// (RFC 8705 §3). They are not stored: each carries its jti and, when it comes from a PSU's consent,
// its grant id, so that revoking the one or the other is enough for introspection to refuse it.
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import type { PaymentInitiationDetail } from './payments/payment.ts';
import { type PublicJwkSet, SIGNING_ALGS, type Signer } from './signer.ts';

export const ACCESS_TOKEN_TYPE = 'at+jwt';

export interface AccessTokenClaims {
  iss: string;
  /** The PSU, or the client itself for client_credentials. */
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  cnf: { 'x5t#S256': string };
  /** The grant the token was issued from; absent for client_credentials. */
  grant_id?: string;
  /** The PSU's consent and the accounts it covers (aisp, cbpii). */
  consent_id?: string;
  account_ids?: string[];
  /** Scope pisp: the one payment the PSU authorised (RFC 9396 §9.1). */
  authorization_details?: PaymentInitiationDetail[];
}

export interface AccessTokenRequest {
  sub: string;
  clientId: string;
  scope: string;
  /** x5t#S256 of the certificate the client presented. */
  thumbprint: string;
  grantId?: string;
  consentId?: string;
  accountIds?: string[];
  authorizationDetails?: PaymentInitiationDetail[];
}

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  /** Seconds. */
  ttl: number;
  /** The signing port: this core never holds a private key. */
  keys: Signer;
}

export interface AccessTokens {
  readonly ttl: number;
  issue(request: AccessTokenRequest, now: number): Promise<{ token: string; claims: AccessTokenClaims }>;
  /**
   * The claims of a token this server signed, for this audience, not expired at `now`; undefined
   * for anything else (expired, forged, another issuer's, not a JWT).
   */
  verify(token: string, now: number): Promise<AccessTokenClaims | undefined>;
}

/** A JWT has three dot-separated parts; refresh tokens have two. */
export function looksLikeJwt(token: string): boolean {
  return token.split('.').length === 3;
}

export function createAccessTokens(settings: AccessTokenSettings): AccessTokens {
  const { issuer, audience, ttl, keys } = settings;
  // Rebuilt when the signer publishes another key set (a rotation, here or on another instance).
  let publishedSet: PublicJwkSet | undefined;
  let published: ReturnType<typeof createLocalJWKSet>;
  const publishedKeys = () => {
    const set = keys.jwks();
    if (set !== publishedSet) {
      publishedSet = set;
      published = createLocalJWKSet(set);
    }
    return published;
  };
  const header = { typ: ACCESS_TOKEN_TYPE };
  // A resource server introspects the same token many times: its signature is checked once, then
  // remembered until the token expires (revocation is still looked up on every call).
  const verified = new Map<string, AccessTokenClaims>();
  const VERIFIED_CACHE_SIZE = 10_000;

  return {
    ttl,
    async issue(request, now) {
      const iat = Math.floor(now / 1000);
      const claims: AccessTokenClaims = {
        iss: issuer,
        sub: request.sub,
        aud: audience,
        client_id: request.clientId,
        scope: request.scope,
        jti: randomUUID(),
        iat,
        exp: iat + ttl,
        cnf: { 'x5t#S256': request.thumbprint },
        ...(request.grantId ? { grant_id: request.grantId } : {}),
        ...(request.consentId ? { consent_id: request.consentId } : {}),
        ...(request.accountIds ? { account_ids: [...request.accountIds] } : {}),
        ...(request.authorizationDetails ? { authorization_details: request.authorizationDetails } : {}),
      };
      const token = await keys.sign(header, claims);
      return { token, claims };
    },
    async verify(token, now) {
      const known = verified.get(token);
      if (known) {
        if (known.exp * 1000 > now) return known;
        verified.delete(token);
        return undefined;
      }
      if (!looksLikeJwt(token)) return undefined;
      const check = () =>
        jwtVerify(token, publishedKeys(), {
          issuer,
          audience,
          typ: ACCESS_TOKEN_TYPE,
          algorithms: [...SIGNING_ALGS],
          currentDate: new Date(now),
          requiredClaims: ['sub', 'client_id', 'scope', 'jti', 'iat', 'exp', 'cnf'],
        });
      try {
        const { payload } = await check().catch(async (err: unknown) => {
          // A key another instance activated moments ago: read the published keys once more.
          if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
          await keys.refresh();
          return check();
        });
        if (!isAccessTokenClaims(payload)) return undefined;
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
        verified.set(token, payload);
        return payload;
      } catch {
        return undefined;
      }
    },
  };
}

function isAccessTokenClaims(payload: JWTPayload): payload is JWTPayload & AccessTokenClaims {
  const p = payload as Record<string, unknown>;
  const cnf = p.cnf as Record<string, unknown> | undefined;
  return (
    typeof p.sub === 'string' &&
    typeof p.client_id === 'string' &&
    typeof p.scope === 'string' &&
    typeof p.jti === 'string' &&
    typeof p.aud === 'string' &&
    typeof cnf?.['x5t#S256'] === 'string' &&
    (p.grant_id === undefined || typeof p.grant_id === 'string')
  );
}
