import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Db, openSqlite } from '../../db/sqlite.ts';
import { createSqliteStores, type Stores } from '../../db/stores.ts';
import { schedulePurge } from '../../server/protocol/purge.ts';

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

describe('SQLite durability and the purge', () => {
  let dir: string;
  let db: Db;
  let stores: Stores;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-purge-'));
    db = openSqlite(join(dir, 'test.db'));
    stores = createSqliteStores(db);
  });
  after(() => {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every connection opened by openSqlite is WAL with synchronous=FULL', () => {
    assert.equal(db.$client.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.$client.pragma('synchronous', { simple: true }), 2, 'FULL: commits survive a power loss');
  });

  test('purge deletes what has expired and keeps ended grants for the retention period', async () => {
    const run = (sql: string, ...params: unknown[]) => db.$client.prepare(sql).run(...params);
    const code = (digest: string, expiresAt: number) =>
      run(
        `INSERT INTO authorization_codes (code_digest, client_id, redirect_uri, code_challenge, consent_id, psu_id, scope,
         created_at, expires_at) VALUES (?, 'c', 'https://x', 'ch', 'k', 'p', 'aisp', ?, ?)`,
        digest,
        expiresAt - 60_000,
        expiresAt,
      );
    code('expired', NOW - 1);
    code('live', NOW + 30_000);
    run(`INSERT INTO revoked_access_tokens VALUES ('old', 'c', ?, ?)`, NOW - 1, NOW - 300_000);
    run(`INSERT INTO revoked_access_tokens VALUES ('young', 'c', ?, ?)`, NOW + 60_000, NOW);
    const grant = (id: string, expiresAt: number, revokedAt: number | null) =>
      run(
        `INSERT INTO grants (grant_id, client_id, consent_id, psu_id, scope, refresh_token_digest, created_at, expires_at,
         revoked_at, revoked_reason) VALUES (?, 'c', 'k', 'p', 'aisp', ?, ?, ?, ?, ?)`,
        id,
        `rt-${id}`,
        NOW - 200 * DAY,
        expiresAt,
        revokedAt,
        revokedAt === null ? null : 'refresh_token_revoked',
      );
    grant('expired-long-ago', NOW - 31 * DAY, null);
    grant('expired-recently', NOW - DAY, null);
    grant('revoked-long-ago', NOW + 100 * DAY, NOW - 31 * DAY);
    grant('revoked-recently', NOW + 100 * DAY, NOW - DAY);
    grant('live', NOW + 100 * DAY, null);
    run(
      `INSERT INTO pushed_requests VALUES ('par-old', 'c', '{}', ?, NULL, ?), ('par-new', 'c', '{}', ?, NULL, ?)`,
      NOW - 1,
      NOW - 90_000,
      NOW + 60_000,
      NOW,
    );
    const session = (digest: string, expiresAt: number) =>
      run(
        `INSERT INTO psu_sessions (session_digest, session_id, authorization_request, stage, csrf_token, last_seen_at,
         expires_at, created_at) VALUES (?, ?, '{}', 'login', 'x', ?, ?, ?)`,
        digest,
        `id-${digest}`,
        NOW - 1000,
        expiresAt,
        NOW - 1000,
      );
    session('s-old', NOW - 1);
    session('s-new', NOW + 60_000);

    const counts = await stores.purge.purge(NOW, 30 * DAY);
    assert.deepEqual(counts, {
      authorizationCodes: 1,
      revokedAccessTokens: 1,
      grants: 2,
      pushedRequests: 1,
      psuSessions: 1,
    });
    const ids = (sql: string) => db.$client.prepare(sql).pluck().all();
    assert.deepEqual(ids('SELECT code_digest FROM authorization_codes'), ['live']);
    assert.deepEqual(ids('SELECT jti FROM revoked_access_tokens'), ['young']);
    assert.deepEqual(ids('SELECT grant_id FROM grants ORDER BY grant_id'), [
      'expired-recently',
      'live',
      'revoked-recently',
    ]);
    assert.deepEqual(ids('SELECT request_uri_digest FROM pushed_requests'), ['par-new']);
    assert.deepEqual(ids('SELECT session_digest FROM psu_sessions'), ['s-new']);
    assert.deepEqual(await stores.purge.purge(NOW, 30 * DAY), {
      authorizationCodes: 0,
      revokedAccessTokens: 0,
      grants: 0,
      pushedRequests: 0,
      psuSessions: 0,
    });
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
