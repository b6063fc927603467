// Sealing at the store boundary: secrets are encrypted on their way into a row and opened on their
// way out, so the ports carry plaintext and the database only ciphertext (server/key-encryption.ts).
// The record ids are the additional authenticated data: a sealed value moved to another row fails.
import { eq, isNotNull } from 'drizzle-orm';
import type { SecretStore } from '../server/protocol/keys/ports.ts';
import { isSealed, type SecretSealer } from '../server/protocol/secret-sealer.ts';
import type { Commit } from './group-commit.ts';
import { psus, signingKeys } from './schema.ts';
import type { Db } from './sqlite.ts';

export const signingKeyRecordId = (kid: string) => `signing_keys/${kid}/private_jwk`;
export const totpRecordId = (psuId: string) => `psus/${psuId}/totp_secret`;

export interface Secrets {
  seal(plaintext: string, recordId: string): string;
  /** A sealed value is opened; a value still in clear (before the start-up migration) is returned as is. */
  open(stored: string, recordId: string): string;
}

export function secretsWith(sealer: SecretSealer | undefined): Secrets {
  return {
    seal(plaintext, recordId) {
      if (!sealer) throw new Error(`no key-encryption key is configured: cannot store ${recordId}`);
      return sealer.seal(plaintext, recordId);
    },
    open(stored, recordId) {
      if (!isSealed(stored)) return stored;
      if (!sealer) throw new Error(`no key-encryption key is configured: cannot read ${recordId}`);
      return sealer.open(stored, recordId);
    },
  };
}

interface SecretColumn {
  recordId: string;
  value: string;
  write(value: string): void;
}

/** Every secret column of every row, with a way to rewrite it. */
function secretColumns(db: Pick<Db, 'select' | 'update'>): SecretColumn[] {
  const keys = db.select({ kid: signingKeys.kid, value: signingKeys.privateJwk }).from(signingKeys).all();
  const totps = db
    .select({ psuId: psus.psuId, value: psus.totpSecret })
    .from(psus)
    .where(isNotNull(psus.totpSecret))
    .all();
  return [
    ...keys.map((row) => ({
      recordId: signingKeyRecordId(row.kid),
      value: row.value,
      write: (value: string) => {
        db.update(signingKeys).set({ privateJwk: value }).where(eq(signingKeys.kid, row.kid)).run();
      },
    })),
    ...totps.map((row) => ({
      recordId: totpRecordId(row.psuId),
      value: row.value as string,
      write: (value: string) => {
        db.update(psus).set({ totpSecret: value }).where(eq(psus.psuId, row.psuId)).run();
      },
    })),
  ];
}

export function sqliteSecretStore(db: Db, commit: Commit, sealer: SecretSealer | undefined): SecretStore {
  const secrets = secretsWith(sealer);
  return {
    sealPlaintext() {
      return commit(() => {
        let sealed = 0;
        for (const column of secretColumns(db)) {
          if (isSealed(column.value)) continue;
          column.write(secrets.seal(column.value, column.recordId));
          sealed++;
        }
        return sealed;
      });
    },
    reseal(next) {
      return commit(() => {
        const columns = secretColumns(db);
        // Everything is opened before anything is written: one value that does not open under the
        // current key aborts the rotation with nothing changed.
        const plain = columns.map((column) => secrets.open(column.value, column.recordId));
        columns.forEach((column, i) => {
          column.write(next.seal(plain[i] as string, column.recordId));
        });
        return columns.length;
      });
    },
    async sealedUnder() {
      const counts = new Map<string, number>();
      for (const column of secretColumns(db)) {
        const id = isSealed(column.value) ? (column.value.split(':')[1] ?? '') : 'plaintext';
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return Object.fromEntries(counts);
    },
  };
}
