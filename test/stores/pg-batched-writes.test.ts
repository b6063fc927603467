// PostgreSQL's group commit (db/pg/batched-writes.ts): the writes of one event-loop turn share one
// batch and one commit; when PostgreSQL refuses the batch, nothing of it is committed and each
// write runs again alone, so that only the failing caller fails.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import postgres from 'postgres';
import { batchedWrites } from '../../db/pg/batched-writes.ts';
import { freshDatabase, testCluster } from '../support/postgres.ts';

const cluster = await testCluster();

describe('PostgreSQL batched writes', { skip: 'skip' in cluster ? cluster.skip : undefined }, () => {
  let sql: postgres.Sql;
  before(async () => {
    if ('skip' in cluster) return;
    sql = postgres(await freshDatabase(cluster.url), { max: 4, onnotice: () => {} });
    await sql`create table t (k text primary key, n integer not null)`;
  });
  after(() => sql?.end({ timeout: 1 }));

  const transactionId = async () =>
    Number((await sql`select pg_snapshot_xmax(pg_current_snapshot())::text as x`)[0]?.x);

  test('the writes of one turn commit together, each caller gets its own results', async () => {
    const write = batchedWrites(sql);
    const before = await transactionId();
    const results = await Promise.all(
      ['a', 'b', 'c'].map((k, n) =>
        write(() => [sql`insert into t values (${k}, ${n}) returning k`, sql`select count(*)::int as c from t`]),
      ),
    );
    assert.deepEqual(
      results.map(([inserted]) => inserted?.[0]?.k),
      ['a', 'b', 'c'],
    );
    // One transaction for the three (the read of the counter takes none).
    assert.equal((await transactionId()) - before, 1);
    assert.deepEqual(
      (await sql`select k from t order by k`).map((r) => r.k),
      ['a', 'b', 'c'],
    );
  });

  test('one refused write fails alone: the others of its batch are committed, all of its statements or none', async () => {
    const write = batchedWrites(sql);
    const outcomes = await Promise.allSettled([
      write(() => [sql`insert into t values ('d', 1)`]),
      // Its second statement fails (duplicate key): its first must not stay committed.
      write(() => [sql`insert into t values ('e', 1)`, sql`insert into t values ('a', 1)`]),
      write(() => [sql`insert into t values ('f', 1)`]),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const refused = outcomes[1] as PromiseRejectedResult;
    assert.ok(refused.reason instanceof postgres.PostgresError);
    assert.equal(refused.reason.code, '23505');
    assert.deepEqual(
      (await sql`select k from t order by k`).map((r) => r.k),
      ['a', 'b', 'c', 'd', 'f'],
    );
  });

  test('racing conditional writes of one row in one batch: exactly one wins', async () => {
    const write = batchedWrites(sql);
    await sql`insert into t values ('race', 0)`;
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        write(() => [sql`update t set n = n + 1 where k = 'race' and n = 0 returning k`]),
      ),
    );
    assert.equal(results.filter(([rows]) => rows?.length === 1).length, 1);
    assert.equal((await sql`select n from t where k = 'race'`)[0]?.n, 1);
  });
});
