import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Db, openSqlite } from '../../db/sqlite.ts';
import { schedulePurge } from '../../server/protocol/purge.ts';
import { sqliteOnly } from '../support/backend.ts';

// SQLite's durability settings (inherently SQLite) and the purge's schedule. What the purge deletes
// is in the store contract suite (test/stores/contract.test.ts, PurgeStore), on both backends.
describe('SQLite durability and the purge', () => {
  let dir: string;
  let db: Db;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-purge-'));
    db = openSqlite(join(dir, 'test.db'));
  });
  after(() => {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every connection opened by openSqlite is WAL with synchronous=FULL', {
    skip: sqliteOnly('the pragmas of a SQLite connection'),
  }, () => {
    assert.equal(db.$client.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.$client.pragma('synchronous', { simple: true }), 2, 'FULL: commits survive a power loss');
  });

  test('the schedule runs the purge periodically and stops', async () => {
    let runs = 0;
    const schedule = schedulePurge({
      store: {
        async purge() {
          runs++;
          return { authorizationCodes: 0, revokedAccessTokens: 0, grants: 0, pushedRequests: 0, psuSessions: 0 };
        },
      },
      intervalMs: 10,
      retentionMs: 0,
      onResult: () => {},
    });
    // Waits for the runs rather than a fixed time: a loaded machine may fire a 10 ms timer late.
    const deadline = Date.now() + 5_000;
    while (runs < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    schedule.stop();
    const seen = runs;
    assert.ok(seen >= 2, `ran ${seen} times`);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(runs, seen, 'stopped');
  });
});
