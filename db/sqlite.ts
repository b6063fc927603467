// Opening the SQLite file: the durability pragmas and the migrations, checked before anything is
// served. better-sqlite3's bundled SQLite turns WAL into synchronous=NORMAL, which may lose recent
// commits on power loss, so FULL is set on the connection and verified.
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { type SQL, sql } from 'drizzle-orm';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { migrationsFolder, sqliteNativeBinding } from '../server/resources.ts';
import * as schema from './schema.ts';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

const SYNCHRONOUS_FULL = 2;

/**
 * The database holds secrets (sealed, but still): the file is created 0600 before SQLite opens it,
 * whatever the umask, and SQLite gives its -wal and -shm files the database file's mode.
 */
function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  for (const companion of [`${path}-wal`, `${path}-shm`]) if (existsSync(companion)) chmodSync(companion, 0o600);
}

export function openSqlite(path: string): Db {
  if (path !== ':memory:') createPrivately(path);
  // The data directory also holds what the single binary unpacks (server/resources.ts).
  const dataDir = path === ':memory:' ? '.' : dirname(path);
  const nativeBinding = sqliteNativeBinding(dataDir);
  // better-sqlite3 takes the addon object itself; its type declarations only know a path.
  const sqlite = new Database(path, nativeBinding ? { nativeBinding: nativeBinding as never } : {});
  // The busy timeout first: switching a new file to WAL takes an exclusive lock, and another
  // process starting on the same empty file at the same moment would otherwise fail at once.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  const synchronous = sqlite.pragma('synchronous', { simple: true });
  if (synchronous !== SYNCHRONOUS_FULL) {
    sqlite.close();
    throw new Error(`SQLite refused synchronous=FULL (got ${String(synchronous)}): committed data could be lost`);
  }
  // drizzle reaches its client only through prepare() and transaction(); the rest of the code uses
  // the connection itself ($client).
  const db = drizzle({ client: statementCache(sqlite) as Database.Database, schema }) as Db;
  db.$client = sqlite;
  migrateOnce(db, migrationsFolder(dataDir));
  return db;
}

/**
 * drizzle's migrator reads the last applied migration before its transaction begins. Two
 * processes starting together on one empty file can both read "none"; the one that writes second
 * then fails, on SQLITE_BUSY or on a table the other just created. When another process applied
 * migrations meanwhile (the applied count moved) or the file was busy, the migrator runs again and
 * finds them applied; any other failure is thrown as it is.
 */
function migrateOnce(db: Db, migrationsFolder: string): void {
  const applied = (): number => {
    try {
      return db.$client.prepare('select count(*) from __drizzle_migrations').pluck().get() as number;
    } catch {
      return -1;
    }
  };
  const deadline = Date.now() + 10_000;
  for (let attempt = 1; ; attempt++) {
    const before = applied();
    try {
      migrate(db, { migrationsFolder });
      return;
    } catch (err) {
      const { code, cause } = err as { code?: unknown; cause?: { code?: unknown } };
      const sqliteCode = String(code ?? cause?.code ?? '');
      const raced = sqliteCode.startsWith('SQLITE_BUSY') || applied() !== before;
      if (!raced || Date.now() > deadline) throw err;
      if (db.$client.inTransaction) db.$client.exec('ROLLBACK');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.min(25 * attempt, 250));
    }
  }
}

/**
 * A placeholder to compare a column with (`column = +?`) in a query SQLite plans in full: a join or
 * an ORDER BY. There SQLite 3.54's planner weighs each candidate loop's `column = ?` terms by the
 * value bound to `?` (whereLoopOutputAdjust asks sqlite3ExprIsInteger), and marks the compiled
 * statement to be compiled again whenever that parameter is bound: every call of a prepared
 * query recompiled it, 5-25 µs each (a code exchange's code lookup, a consent page's accounts;
 * an integer is spared only while it is not 0 or 1, so `sandbox = ?` with 1 was recompiled too).
 * A unary plus is the same value with no affinity of its own (the column's applies, as to a bare
 * `?`), the index is still used, and the planner does not look into it. Single-table lookups by
 * key take SQLite's short cut and do not need it.
 */
export const planned = (name: string): SQL => sql`+${sql.placeholder(name)}`;

/** SQL texts whose compiled statement is kept: the store's query shapes are far fewer. */
const CACHED_STATEMENTS = 500;

/**
 * drizzle compiles every query again (`client.prepare(sql)`) each time it runs, which was the
 * largest single cost of a code flow (13 % of the server's CPU). Its queries bind every value as a
 * parameter, so one statement per SQL text serves them all. Only drizzle gets these statements, and
 * it never holds one across calls (it reads results synchronously); `raw()` is the one mode it sets,
 * so a statement taken from the cache is put back to the default first. A statement still busy
 * (an open iterator) is never shared.
 */
function statementCache(sqlite: Database.Database): Pick<Database.Database, 'prepare' | 'transaction'> {
  const statements = new Map<string, Database.Statement>();
  return {
    prepare(source: string) {
      const cached = statements.get(source);
      if (cached && !cached.busy) {
        // Most recently used last: the first entry is the one to evict.
        statements.delete(source);
        statements.set(source, cached);
        if (cached.reader) cached.raw(false);
        return cached;
      }
      const statement = sqlite.prepare(source);
      if (!cached) {
        statements.set(source, statement);
        if (statements.size > CACHED_STATEMENTS) statements.delete(statements.keys().next().value!);
      }
      return statement;
    },
    transaction: (fn) => sqlite.transaction(fn),
  } as Pick<Database.Database, 'prepare' | 'transaction'>;
}

/** better-sqlite3 options for another connection to the file at `path` (the binary's addon). */
export function nativeBindingOf(path: string): { nativeBinding?: never } {
  const binding = sqliteNativeBinding(dirname(path));
  return binding ? { nativeBinding: binding as never } : {};
}

/** Migrations this build carries that the database has not applied (0 after a normal start). */
let carried: number | undefined;
export function pendingMigrations(db: Db): number {
  if (carried === undefined) {
    const folder = migrationsFolder(dirname(db.$client.name));
    carried = (JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] })
      .entries.length;
  }
  const journal = { entries: { length: carried } };
  const applied = db.$client.prepare('select count(*) from __drizzle_migrations').pluck().get() as number;
  return Math.max(0, journal.entries.length - applied);
}

/**
 * A consistent copy of a live database through SQLite's online backup API: the server keeps serving
 * (and writing) meanwhile. Written to `target.partial`, checked (`PRAGMA quick_check`), then renamed,
 * so that `target` is either absent or a whole, sound copy.
 */
export async function backupSqlite(source: string, target: string): Promise<{ bytes: number; pages: number }> {
  const db = new Database(source, { fileMustExist: true, ...nativeBindingOf(source) });
  const partial = `${target}.partial`;
  try {
    db.pragma('busy_timeout = 5000');
    const progress = await db.backup(partial);
    const copy = new Database(partial, { readonly: true, fileMustExist: true, ...nativeBindingOf(source) });
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok')
        throw Object.assign(new Error(`the copy fails quick_check: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
    } finally {
      copy.close();
    }
    // A copy holds what the database holds (sealed secrets, client data): the server's user only.
    chmodSync(partial, 0o600);
    renameSync(partial, target);
    return { bytes: statSync(target).size, pages: progress.totalPages };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    db.close();
  }
}
