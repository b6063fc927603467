// What start-up opens and reads, with failures an operator can act on: one line that names the
// setting, says what is wrong and what to do, and a sysexits code (74 for a file that cannot be read
// or written, 78 for a setting that is wrong). Used by the server and by every CLI command that
// opens the database.
import { openSqlite } from '../db/sqlite.ts';
import { createSqliteStores, type Stores } from '../db/stores.ts';
import { EXIT, OperatorError } from './operator-error.ts';

/** The variable that chose the database file, for messages. */
export function databaseSetting(env: Record<string, string | undefined>): string {
  return env.DATABASE_URL ? 'DATABASE_URL' : 'DATA_DIR';
}

const code = (err: unknown): string =>
  err && typeof err === 'object' && 'code' in err ? String((err as { code: unknown }).code) : '';

/** A failure to open or use the SQLite file, as the operator should read it; undefined if it is not one. */
export function databaseProblem(err: unknown, path: string, setting: string): OperatorError | undefined {
  const c = code(err);
  const where = `${setting}: the database ${path}`;
  if (c === 'SQLITE_CORRUPT' || c.startsWith('SQLITE_CORRUPT_') || c === 'SQLITE_NOTADB') {
    return new OperatorError(
      EXIT.io,
      `${where} is corrupt (${c}): stop the server and restore the last copy made with \`psd2-oauth backup FILE\``,
    );
  }
  if (c === 'SQLITE_READONLY' || c.startsWith('SQLITE_READONLY_') || c === 'EROFS') {
    return new OperatorError(
      EXIT.io,
      `${where} cannot be written (${c}): give the server's user write access to the file and its folder`,
    );
  }
  if (c === 'SQLITE_CANTOPEN' || c === 'EACCES' || c === 'EPERM' || c === 'ENOTDIR' || c === 'EISDIR') {
    return new OperatorError(
      EXIT.io,
      `${where} cannot be opened (${c}): check that the path is a file in a folder the server's user may write`,
    );
  }
  if (c === 'SQLITE_FULL' || c === 'ENOSPC') {
    return new OperatorError(EXIT.io, `${where}: the disk is full (${c}): free space, then start again`);
  }
  if (c.startsWith('SQLITE_IOERR')) {
    return new OperatorError(EXIT.io, `${where}: I/O error (${c}): check the disk and the file system`);
  }
  return undefined;
}

export interface OpenedDatabase {
  stores: Stores;
  /** The underlying better-sqlite3 handle (backup, integrity checks). */
  client: ReturnType<typeof openSqlite>['$client'];
  close(): void;
}

/**
 * Opens the database, applies the migrations and, with `integrityCheck`, runs `PRAGMA quick_check`
 * (production start-up: a corrupt file is refused before anything is served).
 */
export function openDatabase(
  path: string,
  setting: string,
  options: { integrityCheck?: boolean } = {},
): OpenedDatabase {
  let db: ReturnType<typeof openSqlite> | undefined;
  try {
    db = openSqlite(path);
    if (options.integrityCheck) {
      const result = db.$client.pragma('quick_check', { simple: true });
      if (result !== 'ok') {
        throw Object.assign(new Error(`quick_check: ${String(result)}`), { code: 'SQLITE_CORRUPT' });
      }
    }
    const client = db.$client;
    return { stores: createSqliteStores(db), client, close: () => client.close() };
  } catch (err) {
    db?.$client.close();
    throw databaseProblem(err, path, setting) ?? err;
  }
}
