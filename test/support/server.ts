// Starts the real server over TLS on an ephemeral port with a fresh DATA_DIR and SQLite file, or a
// fresh PostgreSQL database under PSD2_TEST_BACKEND=postgres.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { pino } from 'pino';
import { type OpenDatabase, openDatabase } from '../../db/open.ts';
import type { Stores } from '../../db/stores.ts';
import { loadConfig } from '../../server/config.ts';
import { lazySecretSealer } from '../../server/key-encryption.ts';
import { type RunningServer, type StartOptions, startServer } from '../../server/main.ts';
import { sandboxPaths } from '../../server/pki/sandbox-files.ts';
import { type RequestOptions, request } from './https.ts';
import { freshDatabase, testCluster } from './postgres.ts';

/**
 * PSD2_TEST_BACKEND=postgres runs every server test on a fresh PostgreSQL database of the test
 * cluster (test/support/postgres.ts) instead of a SQLite file, unless the test sets DATABASE_URL:
 * `{ DATABASE_URL }` to add to the environment, or nothing (DATA_DIR's SQLite file).
 */
export async function testDatabase(env: Record<string, string> = {}): Promise<Record<string, string>> {
  if (env.DATABASE_URL || process.env.PSD2_TEST_BACKEND !== 'postgres') return {};
  const cluster = await testCluster();
  if ('skip' in cluster) throw new Error(`PSD2_TEST_BACKEND=postgres: ${cluster.skip}`);
  return { DATABASE_URL: await freshDatabase(cluster.url) };
}

export interface TestServer {
  server: RunningServer;
  /** The TPP listener (mTLS). */
  url: string;
  /** The PSU listener: `url` unless PSU_PORT is set. */
  psuUrl: string;
  dataDir: string;
  /** DATABASE_URL, when the server does not use DATA_DIR's SQLite file: for CLI commands beside it. */
  databaseUrl?: string;
  /** The sandbox CA: it signed the server's TLS certificate. */
  caPem: string;
  /**
   * The server's database through the store ports, as a second process (the CLI) sees it: what a
   * test sets up or checks there works on SQLite and PostgreSQL alike, and reaches the server's
   * caches through the change feed. Opened on first use, closed with the server. Absent from a
   * TestServer a test assembles by hand.
   */
  stores?(): Promise<Stores>;
  get(path: string, options?: RequestOptions): ReturnType<typeof request>;
  post(path: string, options?: RequestOptions): ReturnType<typeof request>;
  close(): Promise<void>;
}

/** DATA_DIR and, when the server uses one, DATABASE_URL: what a CLI command beside the server needs. */
export function databaseEnv(server: Pick<TestServer, 'dataDir' | 'databaseUrl'>): Record<string, string> {
  return { DATA_DIR: server.dataDir, ...(server.databaseUrl ? { DATABASE_URL: server.databaseUrl } : {}) };
}

export async function startTestServer(
  env: Record<string, string> = {},
  dataDir?: string,
  options: Pick<StartOptions, 'clock'> = {},
): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'psd2-oauth-test-'));
  const database = await testDatabase(env);
  const config = loadConfig({ PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent', ...database, ...env });
  const server = await startServer(config, {
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    ...options,
  });
  const caPem = readFileSync(sandboxPaths(dir).caCert, 'utf8');
  const call =
    (method: string) =>
    (path: string, options: RequestOptions = {}) =>
      request(`${server.url}${path}`, { ca: caPem, method, ...options });
  let opened: Promise<OpenDatabase> | undefined;
  return {
    server,
    url: server.url,
    psuUrl: server.psuUrl,
    dataDir: dir,
    databaseUrl: env.DATABASE_URL ?? database.DATABASE_URL,
    caPem,
    stores() {
      // Sealed secrets (TOTP, signing keys) open with the server's key-encryption key, as the CLI's do.
      opened ??= openDatabase(config.database, { sealer: lazySecretSealer(config) });
      return opened.then((database) => database.stores);
    },
    get: call('GET'),
    post: call('POST'),
    async close() {
      if (opened) await (await opened).close();
      await server.close();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
