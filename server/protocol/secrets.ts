// Bearer secrets (registration access tokens, codes, refresh tokens): random, shown once, stored
// only as a digest. They carry at least 256 bits of entropy, so a plain SHA-256 digest cannot be
// reversed or brute-forced; a slow password hash would only cost latency.
// node:crypto (on Node and Deno alike) hashes synchronously: WebCrypto's digest goes through a
// thread-pool job per call, which showed up as the largest cost of the token endpoint's profile.
import { createHash, randomBytes } from 'node:crypto';

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export async function secretDigest(secret: string): Promise<string> {
  return createHash('sha256').update(secret).digest('base64url');
}
