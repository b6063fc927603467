// Secrets at rest: the key-encryption key (KEK) and the AES-256-GCM sealer the stores use for
// signing private keys and PSU TOTP secrets.
//
// node:crypto rather than jose's JWE: sealing happens inside the stores' synchronous row mapping
// (better-sqlite3 answers synchronously), node:crypto's AES-GCM is synchronous and identical on Node
// and Deno, and it takes the record id as additional authenticated data directly; jose's compact
// JWE has no external AAD and encrypts through the asynchronous WebCrypto API.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, OperatorError } from './operator-error.ts';
import { SEALED_PREFIX, type SecretSealer } from './protocol/secret-sealer.ts';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A key-encryption key missing, malformed or not the one that sealed the data: a configuration fault. */
export class KeyEncryptionError extends OperatorError {
  override name = 'KeyEncryptionError';
  constructor(message: string) {
    super(EXIT.config, message);
  }
}

/** The file a sandbox generates its KEK into when none is configured. */
export function sandboxKekPath(dataDir: string): string {
  return join(dataDir, 'key-encryption.key');
}

/** A KEK as written in KEY_ENCRYPTION_KEY or its file: base64 or base64url of 32 random bytes. */
export function parseKek(text: string, source: string): Buffer {
  const value = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) {
    throw new KeyEncryptionError(`${source}: expected the base64 encoding of ${KEY_BYTES} random bytes`);
  }
  const key = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== KEY_BYTES) {
    throw new KeyEncryptionError(`${source}: decodes to ${key.length} bytes, expected ${KEY_BYTES}`);
  }
  return key;
}

export function newKekText(): string {
  return `${randomBytes(KEY_BYTES).toString('base64')}\n`;
}

/**
 * Writes a new KEK file, 0600, refusing to replace an existing one. Written beside the target and
 * hard-linked into place, so that a concurrent reader never sees a half-written key and two
 * processes racing agree on one.
 */
export function writeKekFile(path: string, text = newKekText()): void {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, text, { mode: 0o600, flag: 'wx' });
  chmodSync(temporary, 0o600);
  try {
    linkSync(temporary, path);
  } finally {
    unlinkSync(temporary);
  }
}

export interface KekSettings {
  mode: 'sandbox' | 'production';
  dataDir: string;
  keyEncryptionKey: string | undefined;
  keyEncryptionKeyFile: string | undefined;
}

/** The configured KEK; a sandbox without one generates it into DATA_DIR on first start. */
export function loadKek(settings: KekSettings): Buffer {
  if (settings.keyEncryptionKey) return parseKek(settings.keyEncryptionKey, 'KEY_ENCRYPTION_KEY');
  if (settings.keyEncryptionKeyFile) return readKekFile(settings.keyEncryptionKeyFile, 'KEY_ENCRYPTION_KEY_FILE');
  if (settings.mode === 'production') {
    // The configuration refuses this already; kept so that no caller can end up without a key.
    throw new KeyEncryptionError('KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE is required in production mode');
  }
  const path = sandboxKekPath(settings.dataDir);
  try {
    writeKekFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readKekFile(path, path);
}

export function readKekFile(path: string, source: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new KeyEncryptionError(`${source}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  return parseKek(text, `${source} (${path})`);
}

/**
 * A sealer that reads the KEK when a secret is first sealed or opened: commands that never touch a
 * secret (listing clients, a backup) work without the key.
 */
export function lazySecretSealer(settings: KekSettings): SecretSealer {
  let sealer: SecretSealer | undefined;
  const get = () => {
    sealer ??= createSecretSealer(loadKek(settings));
    return sealer;
  };
  return {
    get kekId() {
      return get().kekId;
    },
    seal: (plaintext, recordId) => get().seal(plaintext, recordId),
    open: (sealed, recordId) => get().open(sealed, recordId),
  };
}

/** Not secret: a short hash that tells which KEK sealed a value. */
export function kekIdOf(key: Buffer): string {
  return createHash('sha256').update('psd2-oauth key-encryption key id\0').update(key).digest('base64url').slice(0, 12);
}

/**
 * AES-256-GCM with a random 96-bit IV per value (NIST SP 800-38D §8.2.2; a few thousand values per
 * key stay far below the 2^32 bound). The record id is the additional authenticated data, so a
 * sealed value copied onto another row does not open.
 * Format: `kek1:<kek id>:<iv>:<ciphertext>:<tag>`, base64url parts.
 */
export function createSecretSealer(key: Buffer): SecretSealer {
  if (key.length !== KEY_BYTES) throw new KeyEncryptionError(`a key-encryption key has ${KEY_BYTES} bytes`);
  const kekId = kekIdOf(key);
  return {
    kekId,
    seal(plaintext, recordId) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(recordId, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const parts = [iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString('base64url'));
      return `${SEALED_PREFIX}${kekId}:${parts.join(':')}`;
    },
    open(sealed, recordId) {
      if (!sealed.startsWith(SEALED_PREFIX)) throw new KeyEncryptionError(`${recordId}: not a sealed value`);
      const [id, iv, ciphertext, tag] = sealed.slice(SEALED_PREFIX.length).split(':');
      if (id !== kekId) {
        throw new KeyEncryptionError(
          `${recordId}: sealed under key-encryption key ${id}, but the configured key is ${kekId}`,
        );
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv ?? '', 'base64url'), {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(Buffer.from(recordId, 'utf8'));
        decipher.setAuthTag(Buffer.from(tag ?? '', 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ciphertext ?? '', 'base64url')), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new KeyEncryptionError(`${recordId}: the sealed value does not authenticate (altered or moved)`);
      }
    },
  };
}
