// The signing port. The protocol core asks for signatures and for the public keys to publish; it
// never holds a private key. The shipped implementation (server/signing-keys.ts) keeps the keys in
// the database, sealed under the key-encryption key, and signs in this process; a bank can put a
// PKCS#11 HSM or a cloud KMS behind the same interface (README, "Signer port").
import type { JWK } from 'jose';

// The three algorithms FAPI 2.0 allows (Security Profile §5.4), cheapest first. EdDSA (Ed25519) is
// the default: on one core it signs in about half the time of ES256 and a tenth of PS256, and the
// signature is most of a client_credentials token's cost (docs/PERFORMANCE.md).
export const SIGNING_ALGS = ['EdDSA', 'ES256', 'PS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** The JWK Set document (RFC 7517 §5): public members only. */
export interface PublicJwkSet {
  keys: JWK[];
}

export interface Signer {
  /** The key that signs now: its `kid` and `alg` go into the protected header. */
  active(): { kid: string; alg: SigningAlg };
  /**
   * A compact JWS (RFC 7515 §7.1) of `payload`, signed by the active key. The signer sets `alg` and
   * `kid` itself (so a rotation between two calls cannot pair a header with the wrong key); `header`
   * adds the other protected members (`typ`).
   */
  sign(header: Record<string, string>, payload: object): string | Promise<string>;
  /** The keys to publish at /jwks, the active one and those still verifying earlier tokens. */
  jwks(): PublicJwkSet;
  /** Reads the published keys again now: a token names a key this instance has not seen yet. */
  refresh(): Promise<void>;
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/** The members of a JWK that may be published (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2). */
export function publicJwk(jwk: Record<string, unknown>, kid: string, alg: string): JWK {
  const out: JWK = { kid, alg, use: 'sig' };
  for (const member of PUBLIC_MEMBERS) {
    if (typeof jwk[member] === 'string') out[member] = jwk[member] as string;
  }
  return out;
}
