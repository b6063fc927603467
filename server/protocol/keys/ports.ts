// Storage ports of the signing keys (server/signing-keys.ts, the in-process Signer) and of the
// sealed secrets: shared by every instance on one database.
import type { SecretSealer } from '../secret-sealer.ts';

export type SigningKeyStatus = 'active' | 'published' | 'retired';

export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  /** In clear here; the store keeps it sealed under the key-encryption key. */
  privateJwk: Record<string, unknown>;
  status: SigningKeyStatus;
  createdAt: number;
  /** When it stopped signing: tokens it signed live at most one access-token lifetime longer. */
  deactivatedAt: number | null;
}

export type SigningKeySummary = Omit<StoredSigningKey, 'privateJwk'>;

export type RetireOutcome = 'retired' | 'active' | 'too_recent' | 'unknown';

/**
 * The signing keys of the in-process signer. Every instance on one database shares them; the
 * writes that decide which key is active are atomic in the backend.
 */
export interface SigningKeyStore {
  /** Keys that are not retired, newest first. */
  listPublished(): Promise<StoredSigningKey[]>;
  /** Every key, retired ones too, newest first, without private members. */
  list(): Promise<SigningKeySummary[]>;
  /**
   * Under the backend's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock): inserts
   * each candidate whose algorithm has no published key yet, then, if no key is active or the
   * active one is not of `activeAlg`, activates the newest published key of `activeAlg`. Instances
   * starting together on an empty database therefore end with one key per algorithm and exactly
   * one active key.
   */
  ensure(candidates: StoredSigningKey[], activeAlg: string, now: number): Promise<void>;
  /** Rotation: inserts `key` as the only active key; the former active key stays published. */
  insertActive(key: StoredSigningKey, now: number): Promise<void>;
  /**
   * Removes a key from /jwks. Refuses the active key, and a key that signed after `inactiveBefore`
   * (tokens it signed may still be alive).
   */
  retire(kid: string, inactiveBefore: number, now: number): Promise<RetireOutcome>;
  /** Changes whenever a key is added, activated or retired: each instance polls it cheaply. */
  version(): Promise<string>;
}

/** The secret columns (signing private keys, TOTP secrets) as a whole: migration and KEK rotation. */
export interface SecretStore {
  /** Seals, in one transaction, every secret still stored in clear; returns how many. */
  sealPlaintext(): Promise<number>;
  /** Re-seals every secret under `next`, in one transaction (nothing changes if one fails to open). */
  reseal(next: SecretSealer): Promise<number>;
  /** How many secrets each key-encryption key (by id) sealed; `plaintext` for those in clear. */
  sealedUnder(): Promise<Record<string, number>>;
}
