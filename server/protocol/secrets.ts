// Bearer secrets (registration access tokens, codes, refresh tokens): random, shown once, stored
// only as a digest. They carry at least 256 bits of entropy, so a plain SHA-256 digest cannot be
// reversed or brute-forced; a slow password hash would only cost latency.
// node:crypto (on Node and Deno alike) hashes synchronously: WebCrypto's digest goes through a
// thread-pool job per call, which showed up as the largest cost of the token endpoint's profile.
import { createHash, randomFillSync } from 'node:crypto';

// The CSPRNG is asked for 4 KiB at a time, as node:crypto's randomUUID does for its own: each
// randomBytes call is a crypto job of its own, a few µs, five to six times a code flow. Every byte
// leaves the pool once, and is zeroed there as it leaves.
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

export function randomSecret(bytes = 32): string {
  if (bytes > POOL_BYTES) return randomFillSync(Buffer.alloc(bytes)).toString('base64url');
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const secret = pool.toString('base64url', offset, offset + bytes);
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return secret;
}

export async function secretDigest(secret: string): Promise<string> {
  return createHash('sha256').update(secret).digest('base64url');
}
