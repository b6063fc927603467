// The one place that picks the backend: DATABASE_URL=postgres://… opens PostgreSQL, anything else
// the SQLite file. Both give the same Stores (the ports of server/protocol/*/ports.ts).
import type { DatabaseSetting } from '../server/config.ts';
import type { StorageObserver } from '../server/protocol/operations/ports.ts';
import type { SecretSealer } from '../server/protocol/secret-sealer.ts';
import { openSqlite } from './sqlite.ts';
import { createSqliteStores, type Stores } from './stores.ts';

export interface OpenDatabase {
  kind: DatabaseSetting['kind'];
  stores: Stores;
  close(): Promise<void>;
}

export async function openDatabase(
  database: DatabaseSetting,
  options: {
    onFeedState?: (state: 'listening' | 'lost', error?: unknown) => void;
    observer?: StorageObserver;
    sealer?: SecretSealer;
  } = {},
): Promise<OpenDatabase> {
  if (database.kind === 'postgres') {
    // Loaded only when asked for: a SQLite deployment never loads the PostgreSQL driver.
    const { openPostgres } = await import('./pg/open.ts');
    const pg = await openPostgres(database.url, {
      poolSize: database.poolSize,
      onFeedState: options.onFeedState,
      observer: options.observer,
      sealer: options.sealer,
    });
    return { kind: 'postgres', stores: pg.stores, close: () => pg.close() };
  }
  const db = openSqlite(database.path);
  return {
    kind: 'sqlite',
    stores: createSqliteStores(db, options.observer, { sealer: options.sealer }),
    async close() {
      db.$client.close();
    },
  };
}
