import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createGroupCommit } from '../../db/group-commit.ts';
import { type Db, openSqlite } from '../../db/sqlite.ts';
import { sqliteOnly } from '../support/backend.ts';

describe('group commit: the writes of one event-loop turn, one transaction', {
  skip: sqliteOnly('the group commit of db/group-commit.ts on a SQLite connection'),
}, () => {
  let dir: string;
  let db: Db;
  let commits: number[] = [];
  // Every COMMIT, with the number of writes it carried.
  const observer = { commit: (batchSize: number) => void commits.push(batchSize), cacheLookup() {} };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-group-'));
    db = openSqlite(join(dir, 'test.db'));
    db.$client.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  });
  after(() => {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const insert = (k: string, v: number) => db.$client.prepare('INSERT INTO t VALUES (?, ?)').run(k, v);
  const value = (k: string) =>
    (db.$client.prepare('SELECT v FROM t WHERE k = ?').get(k) as { v: number } | undefined)?.v;

  test('concurrent writes commit together, and each caller gets its own result once committed', async () => {
    const commit = createGroupCommit(db.$client, observer);
    commits = [];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => commit(() => insert(`a${i}`, i).changes)));
    assert.deepEqual(results, Array(20).fill(1));
    assert.deepEqual(commits, [20], 'one transaction, one fsync');
    assert.equal(value('a19'), 19);
    assert.equal(db.$client.inTransaction, false);
  });

  test('a write that throws is undone alone: the others of its batch commit', async () => {
    const commit = createGroupCommit(db.$client);
    const outcomes = await Promise.allSettled([
      commit(() => insert('b1', 1)),
      commit(() => {
        insert('b2', 2);
        throw new Error('refused half-way');
      }),
      commit(() => insert('b1', 3)), // primary key taken by the first write of the batch
      commit(() => insert('b3', 3)),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
    );
    assert.equal(value('b1'), 1);
    assert.equal(value('b2'), undefined, 'the throwing write left nothing');
    assert.equal(value('b3'), 3);
  });

  test('conditional updates in one batch see each other: exactly one of 8 redemptions wins', async () => {
    const commit = createGroupCommit(db.$client);
    insert('code', 0);
    const redeem = () => db.$client.prepare('UPDATE t SET v = 1 WHERE k = ? AND v = 0').run('code').changes === 1;
    const won = await Promise.all(Array.from({ length: 8 }, () => commit(redeem)));
    assert.equal(won.filter(Boolean).length, 1);
  });

  test('when the batch cannot commit, no write of it is acknowledged and nothing is kept', async () => {
    const commit = createGroupCommit(db.$client);
    const other = openSqlite(join(dir, 'test.db'));
    db.$client.pragma('busy_timeout = 50');
    try {
      other.$client.exec('BEGIN IMMEDIATE'); // another process holds the write lock
      const outcomes = await Promise.allSettled([commit(() => insert('c1', 1)), commit(() => insert('c2', 2))]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['rejected', 'rejected'],
      );
      other.$client.exec('ROLLBACK');
      assert.equal(value('c1'), undefined);
      assert.equal(db.$client.inTransaction, false);
      assert.equal(await commit(() => insert('c3', 3).changes), 1, 'and the next batch commits');
    } finally {
      db.$client.pragma('busy_timeout = 5000');
      other.$client.close();
    }
  });
});
