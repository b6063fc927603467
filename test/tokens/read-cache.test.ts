import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Db, openSqlite } from '../../db/sqlite.ts';
import { createSqliteStores, type Stores } from '../../db/stores.ts';
import { basicCredentials } from '../../server/http/routes/introspection.ts';
import { sqliteOnly } from '../support/backend.ts';

const NOW = 1_800_000_000_000;

describe('read caches and a second writer on the same file', {
  skip: sqliteOnly('read caches emptied on PRAGMA data_version (PostgreSQL: test/stores/change-feed.test.ts)'),
}, () => {
  let dir: string;
  let server: Db;
  let cli: Db;
  let stores: Stores;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-cache-'));
    server = openSqlite(join(dir, 'test.db'));
    cli = openSqlite(join(dir, 'test.db'));
    stores = createSqliteStores(server);
  });
  after(() => {
    server.$client.close();
    cli.$client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const record = (clientId: string) => ({
    clientId,
    name: clientId,
    secretDigest: 'd',
    createdAt: NOW,
    disabledAt: null,
  });

  test('a resource server disabled by another process is refused from the next event-loop turn', async () => {
    await stores.resourceServers.insert(record('rs-1'));
    assert.ok(await stores.resourceServers.find('rs-1'));
    await createSqliteStores(cli).resourceServers.disable('rs-1', NOW);
    await nextTurn();
    assert.equal(await stores.resourceServers.find('rs-1'), undefined);
  });

  test('a resource server added by another process is found, although "not found" was cached', async () => {
    assert.equal(await stores.resourceServers.find('rs-2'), undefined);
    await createSqliteStores(cli).resourceServers.insert(record('rs-2'));
    await nextTurn();
    assert.equal((await stores.resourceServers.find('rs-2'))?.clientId, 'rs-2');
  });

  test('a revocation is answered from the cache at once, and survives in the file', async () => {
    assert.equal(await stores.revokedAccessTokens.isRevoked('jti-1'), false);
    await stores.revokedAccessTokens.revoke({ jti: 'jti-1', clientId: 'c', expiresAt: NOW + 60_000 }, NOW);
    assert.equal(await stores.revokedAccessTokens.isRevoked('jti-1'), true);
    assert.equal(await createSqliteStores(cli).revokedAccessTokens.isRevoked('jti-1'), true);
  });

  test('a revocation written by another process is seen from the next turn', async () => {
    assert.equal(await stores.revokedAccessTokens.isRevoked('jti-2'), false);
    await createSqliteStores(cli).revokedAccessTokens.revoke({ jti: 'jti-2', clientId: 'c', expiresAt: NOW + 1 }, NOW);
    await nextTurn();
    assert.equal(await stores.revokedAccessTokens.isRevoked('jti-2'), true);
  });
});

describe('HTTP Basic credentials of a resource server (RFC 6749 §2.3.1)', () => {
  const header = (raw: string) => `Basic ${Buffer.from(raw).toString('base64')}`;
  test('both halves are form-urlencoded', () => {
    assert.deepEqual(basicCredentials(header('rs%3Aa:s%25+x')), { clientId: 'rs:a', secret: 's% x' });
    assert.deepEqual(basicCredentials(header('rs-1:plain')), { clientId: 'rs-1', secret: 'plain' });
    assert.deepEqual(basicCredentials(`basic  ${Buffer.from('é:ü').toString('base64')}`), {
      clientId: 'é',
      secret: 'ü',
    });
  });
  test('anything else is no credentials', () => {
    for (const bad of [
      undefined,
      '',
      'Bearer x',
      header('no-colon'),
      header(':secret'),
      header('id:'),
      header('id:%zz'),
      'Basic ???',
    ]) {
      assert.equal(basicCredentials(bad), undefined, String(bad));
    }
  });
});
