// The files the server needs at run time besides its code: the SQL migrations, the signing
// thread's code, Swagger UI's assets and the SQLite addon. Under `node` and `deno run` they are read
// from the source tree and node_modules; in the single binary (scripts/build-binary.ts) they are SEA
// assets embedded at build time, and nothing is read from a source tree. Every such file goes
// through this module: a new one is added here AND to ASSETS in scripts/build-binary.ts (README,
// "The single binary"), and `npm run test:binary` proves the binary still runs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pkg from '../package.json' with { type: 'json' };

interface SeaApi {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
}

/** What scripts/build-binary.ts embeds as the asset `manifest.json`. */
export interface BinaryManifest {
  version: string;
  commit: string;
  /** Asset key → SHA-256 (hex) of its content. */
  assets: Record<string, string>;
  /** Asset keys of the migrations folder, relative to it (`meta/_journal.json`, `0000_….sql`). */
  migrations: string[];
}

function seaApi(): SeaApi | undefined {
  // node:sea is Node's; Deno has no such module, so it is looked up, never imported.
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  try {
    const sea = typeof get === 'function' ? (get('node:sea') as SeaApi | undefined) : undefined;
    return sea?.isSea() ? sea : undefined;
  } catch {
    return undefined;
  }
}

const sea = seaApi();
let manifest: BinaryManifest | undefined;

/** True when running as the single binary. */
export const inBinary = sea !== undefined;

function binaryManifest(): BinaryManifest {
  manifest ??= JSON.parse(new TextDecoder().decode(asset('manifest.json'))) as BinaryManifest;
  return manifest;
}

function asset(key: string): Uint8Array {
  if (!sea) throw new Error(`not the single binary: no embedded asset ${key}`);
  return new Uint8Array(sea.getAsset(key));
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Set by scripts/build-package.ts in the npm package's compiled lib/. */
declare const PSD2_OAUTH_COMMIT: string | undefined;

/** `psd2-oauth --version`: the package version and the commit it was built from. */
export function buildInfo(): { version: string; commit: string } {
  if (sea) return { version: binaryManifest().version, commit: binaryManifest().commit };
  if (typeof PSD2_OAUTH_COMMIT === 'string') return { version: pkg.version, commit: PSD2_OAUTH_COMMIT };
  let commit = 'unknown';
  try {
    const root = fileURLToPath(new URL('..', import.meta.url));
    commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {}
  return { version: pkg.version, commit };
}

/**
 * The private directory the binary writes the files it must hand to the OS or to drizzle: the
 * SQLite addon (dlopen needs a file) and the migrations. It lives in the data directory, one per
 * build, mode 0700 and owned by this user, never in a shared /tmp where another user could swap a
 * file between its write and its load. Each file is checked against the manifest before use.
 */
function runtimeDirectory(dataDir: string): string {
  const base = join(dataDir, 'runtime');
  const dir = join(base, binaryManifest().assets['manifest.json']?.slice(0, 16) ?? 'build');
  for (const path of [base, dir]) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const stat = lstatSync(path);
    if (!stat.isDirectory() || stat.uid !== process.getuid?.()) {
      throw new Error(`${path} must be a directory owned by this user`);
    }
    if ((stat.mode & 0o077) !== 0) chmodSync(path, 0o700);
  }
  return dir;
}

/** Writes an embedded asset into the runtime directory, unless the same content is there. */
function materialize(dir: string, key: string, mode: number): string {
  const target = join(dir, ...key.split('/'));
  const expected = binaryManifest().assets[key];
  try {
    if (sha256(readFileSync(target)) === expected) return target;
  } catch {}
  const content = asset(key);
  if (sha256(content) !== expected) throw new Error(`embedded asset ${key} does not match its manifest`);
  mkdirSync(join(target, '..'), { recursive: true, mode: 0o700 });
  const temporary = `${target}.${process.pid}.tmp`;
  rmSync(temporary, { force: true });
  writeFileSync(temporary, content, { mode, flag: 'wx' });
  renameSync(temporary, target);
  return target;
}

/** The drizzle migrations folder; `dataDir` is where the database lives. */
export function migrationsFolder(dataDir: string): string {
  if (!sea) return fileURLToPath(new URL('../db/migrations', import.meta.url));
  const dir = runtimeDirectory(dataDir);
  for (const file of binaryManifest().migrations) materialize(dir, `migrations/${file}`, 0o400);
  return join(dir, 'migrations');
}

let sqliteAddon: object | undefined;

/**
 * better-sqlite3's `nativeBinding`: undefined under node/deno (it finds its own prebuild); in the
 * binary, the N-API prebuild embedded at build time, loaded with process.dlopen from the runtime
 * directory. The data directory must therefore not be on a `noexec` mount (README).
 */
export function sqliteNativeBinding(dataDir: string): object | undefined {
  if (!sea) return undefined;
  if (!sqliteAddon) {
    const file = materialize(runtimeDirectory(dataDir), 'better_sqlite3.node', 0o500);
    const module = { exports: {} as object };
    process.dlopen(module, file);
    sqliteAddon = module.exports;
  }
  return sqliteAddon;
}

/** How to start the signing thread: its source file, or in the binary its bundled code. */
export function signingWorkerSource(): { file: URL } | { code: string } {
  // Beside this module: server/signing-worker.ts in the sources, lib/signing-worker.js in the package.
  if (!sea)
    return {
      file: new URL(import.meta.url.endsWith('.ts') ? './signing-worker.ts' : './signing-worker.js', import.meta.url),
    };
  return { code: new TextDecoder().decode(asset('signing-worker.cjs')) };
}

/** A file of the swagger-ui-dist package, for /docs. */
export function swaggerUiAsset(file: 'swagger-ui.css' | 'swagger-ui-bundle.js'): Uint8Array {
  if (sea) return asset(`swagger-ui-dist/${file}`);
  return readFileSync(createRequire(import.meta.url).resolve(`swagger-ui-dist/${file}`));
}
