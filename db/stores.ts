// The SQLite implementations of the protocol's storage ports: the only file that writes drizzle queries.
import { desc, eq, ne, sql } from 'drizzle-orm';
import type { HealthProbe, SigningKeyStore, StoredSigningKey } from '../server/protocol/ports.ts';
import { signingKeys } from './schema.ts';
import type { Db } from './sqlite.ts';

export interface Stores {
  signingKeys: SigningKeyStore;
  health: HealthProbe;
}

export function createSqliteStores(db: Db): Stores {
  return {
    signingKeys: signingKeyStore(db),
    health: {
      async ping() {
        db.get(sql`select 1`);
      },
    },
  };
}

function signingKeyStore(db: Db): SigningKeyStore {
  return {
    async listPublished() {
      const rows = db
        .select()
        .from(signingKeys)
        .where(ne(signingKeys.status, 'retired'))
        .orderBy(desc(signingKeys.createdAt))
        .all();
      return rows.map(
        (row): StoredSigningKey => ({
          kid: row.kid,
          alg: row.alg,
          publicJwk: JSON.parse(row.publicJwk),
          privateJwk: JSON.parse(row.privateJwk),
          status: row.status as StoredSigningKey['status'],
          createdAt: row.createdAt,
        }),
      );
    },
    async insert(key) {
      db.insert(signingKeys)
        .values({
          kid: key.kid,
          alg: key.alg,
          publicJwk: JSON.stringify(key.publicJwk),
          privateJwk: JSON.stringify(key.privateJwk),
          status: key.status,
          createdAt: key.createdAt,
        })
        .run();
    },
    async activate(kid) {
      db.transaction((tx) => {
        tx.update(signingKeys).set({ status: 'published' }).where(eq(signingKeys.status, 'active')).run();
        tx.update(signingKeys).set({ status: 'active' }).where(eq(signingKeys.kid, kid)).run();
      });
    },
  };
}
