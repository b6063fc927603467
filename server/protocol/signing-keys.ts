// The server's JOSE signing keys: created on first start, one per supported algorithm, published
// at /jwks by their public members only. One key signs; the others stay published so that a
// rotation does not invalidate tokens already issued.
import { constants, createPrivateKey, type KeyObject, sign } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SigningKeyStore, StoredSigningKey } from './keys/ports.ts';

// The three algorithms FAPI 2.0 allows (Security Profile §5.4), cheapest first. EdDSA (Ed25519) is
// the default: on one core it signs in about half the time of ES256 and a tenth of PS256, and the
// signature is most of a client_credentials token's cost (docs/PERFORMANCE.md).
export const SIGNING_ALGS = ['EdDSA', 'ES256', 'PS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export interface ActiveSigningKey {
  kid: string;
  alg: SigningAlg;
  /** The JWS signature (RFC 7518 §3.3, §3.5, RFC 8037 §3.1) of the signing input, base64url. */
  sign(signingInput: string): string | Promise<string>;
  /** For a signing thread (server/signing-threads.ts): the same key, in that thread. */
  readonly privateJwk: Record<string, unknown>;
}

export interface SigningKeySet {
  active: ActiveSigningKey;
  /** The JWK Set document (RFC 7517 §5): public members only. */
  jwks: { keys: JWK[] };
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

export function publicJwk(jwk: Record<string, unknown>, kid: string, alg: string): JWK {
  const out: JWK = { kid, alg, use: 'sig' };
  for (const member of PUBLIC_MEMBERS) {
    if (typeof jwk[member] === 'string') out[member] = jwk[member] as string;
  }
  return out;
}

async function createKey(alg: SigningAlg, now: number): Promise<StoredSigningKey> {
  const options = alg === 'EdDSA' ? { crv: 'Ed25519' } : alg === 'PS256' ? { modulusLength: 2048 } : {};
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(privateJwk);
  return { kid, alg, publicJwk: publicJwk(privateJwk, kid, alg), privateJwk, status: 'published', createdAt: now };
}

/**
 * Ensures one published key per supported algorithm and that the active key uses `activeAlg`,
 * then loads the set. Changing the configured algorithm activates the existing key of that
 * algorithm; the former active key stays published.
 */
export async function loadSigningKeys(
  store: SigningKeyStore,
  activeAlg: SigningAlg,
  now = Date.now(),
): Promise<SigningKeySet> {
  let keys = await store.listPublished();
  for (const alg of SIGNING_ALGS) {
    if (!keys.some((k) => k.alg === alg)) await store.insert(await createKey(alg, now));
  }
  keys = await store.listPublished();
  let active = keys.find((k) => k.status === 'active');
  if (active?.alg !== activeAlg) {
    const candidate = keys.find((k) => k.alg === activeAlg);
    if (!candidate) throw new Error(`no ${activeAlg} signing key`);
    await store.activate(candidate.kid);
    keys = await store.listPublished();
    active = keys.find((k) => k.kid === candidate.kid);
  }
  if (!active) throw new Error('no active signing key');
  const alg = active.alg as SigningAlg;
  const privateKey = createPrivateKey({ key: active.privateJwk as never, format: 'jwk' });
  return {
    active: { kid: active.kid, alg, sign: jwsSigner(alg, privateKey), privateJwk: active.privateJwk },
    jwks: { keys: keys.map((k) => publicJwk(k.publicJwk, k.kid, k.alg)) },
  };
}

/**
 * Signs with node:crypto rather than jose: jose signs through WebCrypto, asynchronously, one
 * thread-pool job per token, which cost a fifth of the token endpoint's CPU. The output is the
 * same JWS signature; tokens are still verified with jose.
 */
export function jwsSigner(alg: SigningAlg, key: KeyObject): (signingInput: string) => string {
  const signature = signatureOf(alg, key);
  return (input) => signature(Buffer.from(input)).toString('base64url');
}

function signatureOf(alg: SigningAlg, key: KeyObject): (data: Buffer) => Buffer {
  if (alg === 'EdDSA') return (data) => sign(null, data, key);
  if (alg === 'ES256') return (data) => sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
  return (data) => sign('sha256', data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
}
