// What start-up opens and reads, with failures an operator can act on: one line that names the
// setting, says what is wrong and what to do, and a sysexits code (74 for a file that cannot be read
// or written, 78 for a setting that is wrong). Used by the server and by every CLI command that
// opens the database.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { openSqlite } from '../db/sqlite.ts';
import { createSqliteStores, type Stores } from '../db/stores.ts';
import type { BrandingAssets } from './app.ts';
import type { Config, DatabaseSetting } from './config.ts';
import { EXIT, OperatorError } from './operator-error.ts';
import { logoContentType, MAX_LOGO_BYTES } from './pages/branding.ts';
import type { StorageObserver } from './protocol/operations/ports.ts';
import type { SecretSealer } from './protocol/secret-sealer.ts';
import { inBinary } from './resources.ts';

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
  if (['SQLITE_CANTOPEN', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EEXIST'].includes(c)) {
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

/** A PostgreSQL server that cannot be reached or refuses us, as the operator should read it. */
export function postgresProblem(err: unknown, setting: string): OperatorError | undefined {
  const c = code(err);
  const message = err instanceof Error ? err.message : String(err);
  if (c === 'ECONNREFUSED' || c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'ETIMEDOUT' || c === 'CONNECT_TIMEOUT') {
    return new OperatorError(
      EXIT.io,
      `${setting}: PostgreSQL cannot be reached (${c}): check the host, the port and that it runs`,
    );
  }
  // 28P01 invalid password, 28000 no such role, 3D000 no such database, 42501 insufficient privilege.
  if (c === '28P01' || c === '28000' || c === '3D000' || c === '42501') {
    return new OperatorError(EXIT.config, `${setting}: PostgreSQL refused the connection (${c}): ${message}`);
  }
  return undefined;
}

/**
 * The single binary is for one process on one SQLite file: it carries neither the PostgreSQL driver
 * nor its migrations (scripts/build-binary.ts), so DATABASE_URL=postgres://… is refused before
 * anything is read or written. A bank that runs PostgreSQL runs the npm package.
 */
export function checkBackendSupported(database: DatabaseSetting, binary = inBinary): void {
  if (database.kind === 'postgres' && binary) {
    throw new OperatorError(
      EXIT.config,
      'DATABASE_URL: the single binary runs on a SQLite file only (unset DATABASE_URL, or point it at a file); for PostgreSQL run the npm package (npx psd2-oauth serve)',
    );
  }
}

export interface OpenedDatabase {
  stores: Stores;
  /** The underlying better-sqlite3 handle (integrity checks); absent on PostgreSQL. */
  client?: ReturnType<typeof openSqlite>['$client'];
  close(): Promise<void>;
}

/**
 * Opens the database, applies the migrations and, with `integrityCheck`, runs `PRAGMA quick_check`
 * (production start-up: a corrupt file is refused before anything is served).
 */
export async function openDatabase(
  database: DatabaseSetting,
  setting: string,
  options: {
    integrityCheck?: boolean;
    observer?: StorageObserver;
    sealer?: SecretSealer;
    /** PostgreSQL: the change feed's connection lost or listening again (for the log). */
    onFeedState?: (state: 'listening' | 'lost', error?: unknown) => void;
  } = {},
): Promise<OpenedDatabase> {
  checkBackendSupported(database);
  if (database.kind === 'postgres') {
    const { openDatabase: openBackend } = await import('../db/open.ts');
    try {
      return await openBackend(database, {
        onFeedState: options.onFeedState,
        observer: options.observer,
        sealer: options.sealer,
      });
    } catch (err) {
      throw postgresProblem(err, setting) ?? err;
    }
  }
  const path = database.path;
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
    return {
      stores: createSqliteStores(db, options.observer, { sealer: options.sealer }),
      client,
      async close() {
        client.close();
      },
    };
  } catch (err) {
    db?.$client.close();
    throw databaseProblem(err, path, setting) ?? err;
  }
}

/** A file a setting names, read whole; a failure names the setting, the path and the cause (74). */
export function readSettingFile(setting: string, path: string): string {
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(readSettingBytes(setting, path));
}

/** The bytes of a file a setting names (a logo); failures as readSettingFile's. */
export function readSettingBytes(setting: string, path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    const c = code(err);
    const what =
      c === 'ENOENT'
        ? 'no such file'
        : c === 'EACCES' || c === 'EPERM'
          ? "not readable by the server's user"
          : c === 'EISDIR'
            ? 'a folder, not a file'
            : (err as Error).message;
    throw new OperatorError(
      EXIT.io,
      `${setting}=${path}: cannot read it (${c || 'error'}: ${what}): fix the path or the file's permissions`,
    );
  }
}

/** The branding settings as the app takes them: a logo file read and recognised (78 if not an image). */
export function loadBranding(branding: Config['branding']): BrandingAssets {
  const { logo, ...rest } = branding;
  if (!logo) return rest;
  if ('url' in logo) return { ...rest, logoUrl: logo.url };
  const bytes = readSettingBytes('BANK_LOGO', logo.path);
  if (bytes.byteLength > MAX_LOGO_BYTES) {
    throw new OperatorError(
      EXIT.config,
      `BANK_LOGO=${logo.path}: ${bytes.byteLength} bytes, more than ${MAX_LOGO_BYTES}: give a smaller image`,
    );
  }
  const contentType = logoContentType(bytes);
  if (!contentType) {
    throw new OperatorError(EXIT.config, `BANK_LOGO=${logo.path}: not a PNG, JPEG, WebP or SVG image`);
  }
  return { ...rest, logoFile: { bytes, contentType } };
}

/** The server's certificate and key parse, and the key is the certificate's (78 otherwise). */
export function checkTlsPair(cert: string, key: string, names = { cert: 'TLS_CERT', key: 'TLS_KEY' }): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (err) {
    throw new OperatorError(
      EXIT.config,
      `${names.cert}: not a PEM certificate (${(err as Error).message}): give the server certificate, leaf first`,
    );
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new OperatorError(
      EXIT.config,
      `${names.key}: not a PEM private key (${(err as Error).message}), or an encrypted one: give the unencrypted key`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new OperatorError(
      EXIT.config,
      `${names.key} does not match ${names.cert} (${certificate.subject.replace(/\n/g, ', ')}): give the key the certificate was issued for`,
    );
  }
}

/** Why `listen` failed, naming the settings (78); undefined if it is none of the known causes. */
export function listenProblem(
  err: unknown,
  port: { setting: string; value: number },
  host: { setting: string; value: string },
): OperatorError | undefined {
  const c = code(err);
  const at = `${port.setting}=${port.value} on ${host.setting}=${host.value}`;
  const h = `${host.setting}=${host.value}`;
  switch (c) {
    case 'EADDRINUSE':
      return new OperatorError(
        EXIT.config,
        `${at}: the address is in use: stop the other process or choose another ${port.setting}`,
      );
    case 'EACCES':
      return new OperatorError(
        EXIT.config,
        `${at}: not allowed (ports below 1024 need a privilege): choose a port from 1024, or grant CAP_NET_BIND_SERVICE`,
      );
    case 'EADDRNOTAVAIL':
    case 'EINVAL': // Deno's word for the same
      return new OperatorError(
        EXIT.config,
        `${h}: not an address of this machine: use one of its addresses, 127.0.0.1 or 0.0.0.0`,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return new OperatorError(
        EXIT.config,
        `${h}: the name cannot be resolved (${c}): use an IP address or a name the resolver knows`,
      );
    default:
      return undefined;
  }
}
