// Liveness and readiness on the main listener and on the admin listener; a database corrupted while
// the server runs is reported not ready.
import assert from 'node:assert/strict';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { sqliteOnly } from '../support/backend.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ALL_OK = {
  database_read: 'ok',
  database_write: 'ok',
  migrations: 'ok',
  database_integrity: 'ok',
  signing_key: 'ok',
};

describe('health: /health/live and /health/ready', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ ADMIN_PORT: '0' });
  });
  after(() => s.close());

  test('on the main listener', async () => {
    const live = await s.get('/health/live');
    assert.equal(live.status, 200);
    assert.deepEqual(live.json(), { status: 'ok' });
    assert.equal(live.header('cache-control'), 'no-store');
    const ready = await s.get('/health/ready');
    assert.equal(ready.status, 200, ready.text);
    assert.deepEqual(ready.json(), { status: 'ok', checks: ALL_OK });
    assert.deepEqual((await s.get('/health')).json(), { status: 'ok' });
  });

  test('on the admin listener, plain HTTP on 127.0.0.1', async () => {
    const admin = s.server.admin;
    assert.ok(admin);
    assert.match(admin.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const live = await fetch(`${admin.url}/health/live`);
    assert.equal(live.status, 200);
    assert.deepEqual(await live.json(), { status: 'ok' });
    const ready = await fetch(`${admin.url}/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ok', checks: ALL_OK });
    assert.equal((await fetch(`${admin.url}/register`)).status, 404, 'nothing of the API on the admin listener');
  });

  test('the readiness write check commits', {
    skip: sqliteOnly('reads the probe row in the SQLite file (contract suite: HealthProbe on both)'),
  }, async () => {
    await s.get('/health/ready');
    const db = new Database(join(s.dataDir, 'psd2-oauth.db'), { readonly: true });
    try {
      const row = db.prepare('select checked_at from health_probe where id = 1').get() as { checked_at: number };
      assert.ok(Date.now() - row.checked_at < 10_000);
    } finally {
      db.close();
    }
  });
});

test('a database corrupted at run time is reported not ready', {
  skip: sqliteOnly('corrupts the SQLite file under the running server'),
}, async () => {
  const s = await startTestServer({ ADMIN_PORT: '0' });
  try {
    const path = join(s.dataDir, 'psd2-oauth.db');
    // Another connection fills a table and checkpoints; then pages in the middle of the file are
    // overwritten, as a failing disk would.
    const other = new Database(path);
    const insert = other.prepare('insert into health_probe (id, checked_at) values (?, ?)');
    other.transaction(() => {
      for (let i = 10; i < 3000; i++) insert.run(i, i);
    })();
    other.pragma('wal_checkpoint(TRUNCATE)');
    other.close();
    const fd = openSync(path, 'r+');
    const middle = Math.floor(statSync(path).size / 2 / 4096) * 4096;
    writeSync(fd, Buffer.alloc(4096 * 4, 0xa5), 0, 4096 * 4, middle);
    closeSync(fd);

    for (const url of [`${s.url}/health/ready`, `${s.server.admin?.url}/health/ready`]) {
      const res = url.startsWith('https') ? await s.get('/health/ready') : await fetch(url);
      const body = 'json' in res && typeof res.json === 'function' ? await res.json() : undefined;
      assert.equal(res.status, 503, url);
      assert.equal(body.status, 'unavailable');
      assert.match(body.checks.database_integrity, /^failed: /);
    }
    const live = await s.get('/health/live');
    assert.equal(live.status, 200, 'still alive: a restart would not mend the file');
  } finally {
    await s.close();
  }
});
