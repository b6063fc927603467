// Opening the PostgreSQL database: a pool of POSTGRES_POOL_SIZE connections (postgres.js), the
// migrations of db/pg/migrations applied under an advisory lock (instances starting together wait
// for the first to finish, then find nothing to do), and the notification connection of the change
// feed. Nothing is served before the migrations are applied.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { StorageObserver } from '../../server/protocol/operations/ports.ts';
import type { SecretSealer } from '../../server/protocol/secret-sealer.ts';
import { type ChangeFeed, postgresChangeFeed } from '../change-feed.ts';
import type { Stores } from '../stores.ts';
import * as schema from './schema.ts';
import { createPostgresStores, type PgDb } from './stores.ts';

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));
/** pg_advisory_lock key of the migrations: "psd2oaut" read as a 64-bit integer, arbitrary but fixed. */
export const MIGRATION_LOCK = 0x707364326f617574n;

export interface PostgresDatabase {
  db: PgDb;
  sql: postgres.Sql;
  feed: ChangeFeed;
  stores: Stores;
  close(): Promise<void>;
}

const quiet = { onnotice: () => {} };

export async function migratePostgres(url: string): Promise<void> {
  // One connection, so that the lock, the migrations and the unlock share one session (an advisory
  // lock belongs to the session that took it).
  const sql = postgres(url, { max: 1, idle_timeout: 0, max_lifetime: null, ...quiet });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK.toString()}::bigint)`;
    try {
      await migrate(drizzle({ client: sql, schema }), { migrationsFolder: MIGRATIONS });
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK.toString()}::bigint)`;
    }
  } finally {
    await sql.end();
  }
}

/** Migrations this build carries that the database has not applied (readiness). */
async function pendingMigrations(sql: postgres.Sql): Promise<number> {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from drizzle.__drizzle_migrations`;
  return journal.entries.length - (row?.n ?? 0);
}

/**
 * The pool as drizzle sees it, with every parameterised query a named prepared statement:
 * drizzle asks postgres.js for an unnamed one (parsed and planned by PostgreSQL on every call)
 * unless the query was built with `.prepare()`. postgres.js keeps the statements per connection
 * (an LRU) and pipelines them; measured, a key lookup costs a fifth of the CPU (client and
 * server together) of an unnamed one. Transactions get the same treatment.
 */
export function preparing(sql: postgres.Sql): postgres.Sql {
  const wrap = <T extends postgres.Sql | postgres.TransactionSql>(client: T): T =>
    new Proxy(client, {
      get(target, property, receiver) {
        if (property === 'unsafe') {
          return (query: string, params?: unknown[], options?: postgres.UnsafeQueryOptions) =>
            target.unsafe(query, params as never, { ...options, prepare: true });
        }
        if (property === 'begin') {
          return (...args: unknown[]) => {
            const fn = args.pop() as (tx: postgres.TransactionSql) => unknown;
            return (target as postgres.Sql).begin(...(args as []), (tx: postgres.TransactionSql) => fn(wrap(tx)));
          };
        }
        if (property === 'savepoint') {
          return (fn: (tx: postgres.TransactionSql) => unknown) =>
            (target as postgres.TransactionSql).savepoint((tx) => fn(wrap(tx)));
        }
        return Reflect.get(target, property, receiver);
      },
    });
  return wrap(sql);
}

export async function openPostgres(
  url: string,
  options: {
    poolSize: number;
    onFeedState?: (state: 'listening' | 'lost', error?: unknown) => void;
    observer?: StorageObserver;
    sealer?: SecretSealer;
  },
): Promise<PostgresDatabase> {
  await migratePostgres(url);
  const sql = postgres(url, { max: options.poolSize, ...quiet });
  const db = drizzle({ client: preparing(sql), schema });
  let feed: ChangeFeed;
  try {
    feed = await postgresChangeFeed(
      (handlers) => postgres(url, { max: 1, idle_timeout: 0, max_lifetime: null, ...quiet, ...handlers }),
      { onState: options.onFeedState },
    );
  } catch (error) {
    await sql.end();
    throw error;
  }
  return {
    db,
    sql,
    feed,
    stores: createPostgresStores(db, feed, {
      pendingMigrations: () => pendingMigrations(sql),
      observer: options.observer,
      sealer: options.sealer,
    }),
    async close() {
      await feed.close();
      await sql.end({ timeout: 5 });
    },
  };
}
