// Bearer secrets (registration access tokens, codes, refresh tokens): random, shown once, stored
// only as a digest. They carry at least 256 bits of entropy, so a plain SHA-256 digest cannot be
// reversed or brute-forced; a slow password hash would only cost latency.
import { base64url } from 'jose';

export function randomSecret(bytes = 32): string {
  return base64url.encode(globalThis.crypto.getRandomValues(new Uint8Array(bytes)));
}

export async function secretDigest(secret: string): Promise<string> {
  const hash = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret));
  return base64url.encode(new Uint8Array(hash));
}
