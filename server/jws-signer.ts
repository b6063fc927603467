// JWS signatures with node:crypto, shared by the in-process signer (signing-keys.ts) and the signing
// thread (signing-worker.ts), which loads nothing else.
import { constants, type KeyObject, sign } from 'node:crypto';
import type { SigningAlg } from './protocol/signer.ts';

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
