// A throwaway PostgreSQL cluster for the tests: initdb in a temp folder, 127.0.0.1 on a free port,
// its socket in that folder, stopped and deleted at the end. It never touches another cluster.
// `npm test` starts one for the whole run (--test-global-setup, this file's globalSetup) and passes
// its URL to every test file in PSD2_TEST_POSTGRES_URL; a file run on its own (or under Deno)
// starts its own. Every suite asks for a fresh database (freshDatabase) in it.
//
// Without PostgreSQL 15+ the tests that need it are skipped with a reason, except under CI=true,
// where that is a failure: CI must prove the PostgreSQL backend.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';

const URL_VARIABLE = 'PSD2_TEST_POSTGRES_URL';
const SKIP_VARIABLE = 'PSD2_TEST_POSTGRES_SKIP';
const MIN_MAJOR = 15;

export interface Cluster {
  /** postgres://postgres@127.0.0.1:PORT/postgres: the maintenance database, to create others. */
  url: string;
  port: number;
  dir: string;
  stop(): void;
}

/** The bin folder of the newest installed PostgreSQL >= 15, or why there is none. */
export function findPostgres(): { bin: string } | { missing: string } {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv)
    return existsSync(join(fromEnv, 'initdb')) ? { bin: fromEnv } : { missing: `PG_BIN=${fromEnv} has no initdb` };
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .map(Number)
        .filter((major) => major >= MIN_MAJOR && existsSync(join(root, String(major), 'bin', 'initdb')))
        .sort((a, b) => b - a)
    : [];
  if (majors.length === 0) {
    return { missing: `PostgreSQL ${MIN_MAJOR}+ is not installed (apt-get install -y postgresql)` };
  }
  return { bin: join(root, String(majors[0]), 'bin') };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user. */
function asClusterOwner(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ['runuser', ['-u', 'postgres', '--', command, ...args]];
}

function run(command: string, args: string[]): void {
  const [file, argv] = asClusterOwner(command, args);
  const result = spawnSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
  }
}

/**
 * Starts a cluster. `durable: false` (tests) turns fsync off: the tests kill the server processes,
 * never PostgreSQL, so what they prove does not depend on it. The bench keeps fsync on.
 */
export async function startCluster(options: { durable?: boolean } = {}): Promise<Cluster> {
  const found = findPostgres();
  if ('missing' in found) throw new Error(found.missing);
  const dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-pg-'));
  if (process.getuid?.() === 0) {
    const owner = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const group = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    chownSync(dir, Number(owner), Number(group));
  }
  const data = join(dir, 'data');
  run(join(found.bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '-N']);
  const port = await freePort();
  const settings = [
    '-c listen_addresses=127.0.0.1',
    `-c port=${port}`,
    `-c unix_socket_directories=${dir}`,
    '-c max_connections=200',
    '-c shared_buffers=64MB',
    ...(options.durable ? [] : ['-c fsync=off', '-c full_page_writes=off']),
  ].join(' ');
  run(join(found.bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-o', settings, '-w', '-t', '60', 'start']);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(join(found.bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

let own: Promise<Cluster> | undefined;

/**
 * The run's cluster, or why the PostgreSQL tests are skipped. Throws under CI=true when
 * PostgreSQL is missing: there the skip would hide a failure.
 */
export async function testCluster(): Promise<{ url: string } | { skip: string }> {
  const fromSetup = process.env[URL_VARIABLE];
  if (fromSetup) return { url: fromSetup };
  const reason =
    process.env[SKIP_VARIABLE] ??
    (() => {
      const found = findPostgres();
      return 'missing' in found ? found.missing : undefined;
    })();
  if (reason) {
    if (process.env.CI === 'true') throw new Error(`CI=true requires PostgreSQL: ${reason}`);
    return { skip: reason };
  }
  own ??= startCluster().then((cluster) => {
    // A file run on its own: the cluster goes with the process.
    process.on('exit', () => cluster.stop());
    globalThis.addEventListener?.('unload', () => cluster.stop());
    return cluster;
  });
  return { url: (await own).url };
}

/** A new, empty database in the cluster at `clusterUrl`; its URL. */
export async function freshDatabase(clusterUrl: string): Promise<string> {
  const name = `psd2_${randomBytes(6).toString('hex')}`;
  const { default: postgres } = await import('postgres');
  const sql = postgres(clusterUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`create database ${name}`);
  } finally {
    await sql.end();
  }
  const url = new URL(clusterUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

// --test-global-setup: one cluster for the whole `npm test` run.
let shared: Cluster | undefined;

export async function globalSetup(): Promise<void> {
  const found = findPostgres();
  if ('missing' in found) {
    if (process.env.CI === 'true') throw new Error(`CI=true requires PostgreSQL: ${found.missing}`);
    process.env[SKIP_VARIABLE] = found.missing;
    return;
  }
  shared = await startCluster();
  process.env[URL_VARIABLE] = shared.url;
}

export async function globalTeardown(): Promise<void> {
  shared?.stop();
}
