// Refresh tokens: opaque to the client, 256 random bits after the id of their grant, stored only
// as a digest. The grant id lets the server find the grant of a token it no longer recognises,
// which is how a rotated-out token is detected and its grant revoked (reuse detection).
import { randomSecret, secretDigest } from './secrets.ts';

const SHAPE = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/** A new grant id: 128 random bits, not secret (access tokens carry it). */
export function newGrantId(): string {
  return randomSecret(16);
}

export async function newRefreshToken(grantId: string): Promise<{ token: string; digest: string }> {
  const token = `${grantId}.${randomSecret(32)}`;
  return { token, digest: await secretDigest(token) };
}

/** The grant a refresh token names, or undefined if the string is not shaped like one. */
export function refreshTokenGrantId(token: string): string | undefined {
  return SHAPE.exec(token)?.[1];
}
