// The backends the store contract suite runs against: a SQLite file in a temp folder, and a fresh
// database in the test run's PostgreSQL cluster (test/support/postgres.ts). `open()` may be called
// more than once: each call is another process's view of the same database (a second instance on
// PostgreSQL, the CLI on SQLite), with its own caches.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type OpenDatabase, openDatabase } from '../../db/open.ts';
import { createSecretSealer } from '../../server/key-encryption.ts';
import { freshDatabase, testCluster } from '../support/postgres.ts';

/** One key-encryption key for the suite: secrets are sealed in both backends' rows. */
const sealer = createSecretSealer(randomBytes(32));

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Why this backend's tests are skipped, if they are. */
  skip?: string;
  /** A new, empty database; `open` opens it (again). */
  create(): Promise<{ open(): Promise<OpenDatabase>; url: string; dispose(): Promise<void> }>;
}

export const sqlite: Backend = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-stores-'));
    const path = join(dir, 'test.db');
    const opened: OpenDatabase[] = [];
    return {
      url: path,
      async open() {
        const database = await openDatabase({ kind: 'sqlite', path }, { sealer });
        opened.push(database);
        return database;
      },
      async dispose() {
        for (const database of opened) await database.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export async function postgresBackend(): Promise<Backend> {
  const cluster = await testCluster();
  if ('skip' in cluster) {
    return { name: 'postgres', skip: cluster.skip, create: () => Promise.reject(new Error(cluster.skip)) };
  }
  return {
    name: 'postgres',
    async create() {
      const url = await freshDatabase(cluster.url);
      const opened: OpenDatabase[] = [];
      return {
        url,
        async open() {
          const database = await openDatabase({ kind: 'postgres', url, poolSize: 10 }, { sealer });
          opened.push(database);
          return database;
        },
        async dispose() {
          for (const database of opened) await database.close();
        },
      };
    },
  };
}

/** Polls `check` until it holds or `withinMs` has passed; the time it took. */
export async function eventually(check: () => Promise<boolean>, withinMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > withinMs) throw new Error(`not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
