// The default PSU authenticator over the PSU table: a scrypt password (knowledge) and an RFC 6238
// TOTP code (possession), with the RTS art. 4(3)(b) block after 5 consecutive failures.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { PsuAuthenticationResult, PsuAuthenticator } from './bank.ts';
import type { PsuStore } from './psu/ports.ts';

/** RTS art. 4(3)(b): no more than five consecutive failed attempts. */
export const MAX_FAILED_ATTEMPTS = 5;

const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keyLength: 32 };
const TOTP_PERIOD = 30;

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, keyLength, { N, r, p, maxmem: 128 * N * r * 2 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash`, salt and hash base64url: the parameters travel with the hash. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p, keyLength } = SCRYPT;
  const key = await scryptAsync(password, salt, N, r, p, keyLength);
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(
    password,
    Buffer.from(salt, 'base64url'),
    Number(n),
    Number(r),
    Number(p),
    expected.length,
  );
  return timingSafeEqual(key, expected);
}

// An unknown identifier costs as much time as a known one, so timing does not tell them apart.
let decoyHash: Promise<string> | undefined;

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

export function totpFor(secret: string, label: string, issuer = 'psd2-oauth'): TOTP {
  return new TOTP({
    issuer,
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD,
    secret: Secret.fromBase32(secret),
  });
}

/** The current code of a secret (tests, and the CLI to check an enrolment). */
export function currentTotp(secret: string, now = Date.now()): string {
  return totpFor(secret, 'psu').generate({ timestamp: now });
}

export interface LockoutPolicy {
  lockSeconds: number;
}

export function createDatabasePsuAuthenticator(psus: PsuStore, policy: LockoutPolicy): PsuAuthenticator {
  const lock = { maxAttempts: MAX_FAILED_ATTEMPTS, lockMs: policy.lockSeconds * 1000 };

  async function failure(psuId: string, now: number): Promise<PsuAuthenticationResult> {
    const state = await psus.recordFailure(psuId, now, lock);
    const lockedNow = state.lockedUntil !== null && state.failedAttempts >= MAX_FAILED_ATTEMPTS;
    return lockedNow
      ? { ok: false, psuId, lockedUntil: state.lockedUntil ?? undefined, lockedNow }
      : { ok: false, psuId };
  }

  const locked = (psu: { lockedUntil: number | null }, now: number) =>
    psu.lockedUntil !== null && psu.lockedUntil > now;

  return {
    async verifyPassword(username, password, now) {
      const psu = await psus.findByUsername(username.trim());
      if (!psu || psu.sandbox || psu.status !== 'active' || !psu.passwordHash) {
        decoyHash ??= hashPassword('decoy');
        await verifyPassword(password, await decoyHash);
        return { ok: false };
      }
      if (locked(psu, now)) return { ok: false, psuId: psu.psuId, lockedUntil: psu.lockedUntil ?? undefined };
      if (!(await verifyPassword(password, psu.passwordHash))) return failure(psu.psuId, now);
      return { ok: true, psuId: psu.psuId };
    },

    async verifyOneTimeCode(psuId, code, now) {
      const psu = await psus.find(psuId);
      if (psu?.status !== 'active' || !psu.totpSecret) return { ok: false, psuId };
      if (locked(psu, now)) return { ok: false, psuId, lockedUntil: psu.lockedUntil ?? undefined };
      const token = code.replace(/\s+/g, '');
      const delta = /^\d{6}$/.test(token)
        ? totpFor(psu.totpSecret, psu.username).validate({ token, timestamp: now, window: 1 })
        : null;
      // A code is accepted once (RTS art. 4(1)): its time step must be later than the last one used.
      const step = Math.floor(now / 1000 / TOTP_PERIOD) + (delta ?? 0);
      if (delta === null || !(await psus.acceptTotpStep(psuId, step))) return failure(psuId, now);
      await psus.recordSuccess(psuId);
      return { ok: true, psuId };
    },
  };
}
