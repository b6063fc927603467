// PostgreSQL's migrations under concurrency: eight instances starting together on one empty
// database (each its own connection, as separate processes have) all find the schema complete, and
// every migration is applied exactly once. Without the advisory lock of db/pg/open.ts the losers
// fail on "already exists". At process level (test/security/signing-key-lifecycle.test.ts) start-up
// jitter rarely lets two instances reach the migrations at the same instant; here they do.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import postgres from 'postgres';
import { migratePostgres } from '../../db/pg/open.ts';
import { freshDatabase, testCluster } from '../support/postgres.ts';

const cluster = await testCluster();
const RACERS = 8;

test('eight instances migrating one empty PostgreSQL database at once: each migration applied once, none fails', {
  skip: 'skip' in cluster ? cluster.skip : undefined,
}, async () => {
  const url = await freshDatabase((cluster as { url: string }).url);
  const outcomes = await Promise.allSettled(Array.from({ length: RACERS }, () => migratePostgres(url)));
  const failures = outcomes
    .filter((o) => o.status === 'rejected')
    .map((o) => String((o as PromiseRejectedResult).reason));
  assert.deepEqual(failures, []);
  const journal = JSON.parse(
    readFileSync(new URL('../../db/pg/migrations/meta/_journal.json', import.meta.url), 'utf8'),
  ) as { entries: unknown[] };
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ hash: string }[]>`select hash from drizzle.__drizzle_migrations`;
    assert.equal(rows.length, journal.entries.length, 'one row per migration this build carries');
    assert.equal(new Set(rows.map((r) => r.hash)).size, rows.length, 'none applied twice');
    const [keys] = await sql<{ n: number }[]>`select count(*)::int as n from signing_keys`;
    assert.equal(keys?.n, 0, 'the schema is there (and empty)');
  } finally {
    await sql.end();
  }
});
