// Secrets at rest (issue 12, item 9): DATA_DIR 0700 and its files 0600 whatever the umask; signing
// private keys and TOTP secrets sealed under the key-encryption key, bound to their row; plaintext
// rows of an older database sealed at start; the KEK rotated by the CLI in one transaction.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { kekCommandWith } from '../../server/cli/kek.ts';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { loadConfig } from '../../server/config.ts';
import { createSecretSealer, parseKek, readKekFile, sandboxKekPath } from '../../server/key-encryption.ts';
import { sandboxPaths } from '../../server/pki/sandbox-files.ts';
import { sqliteOnly } from '../support/backend.ts';
import { request } from '../support/https.ts';
import { productionEnv } from '../support/production.ts';
import { startTestServer } from '../support/server.ts';

declare const Deno: unknown;
const cli = new URL('../../server/bin.ts', import.meta.url).pathname;
const runtime = typeof Deno === 'undefined' ? [cli] : ['run', '-A', cli];

const mode = (path: string) => statSync(path).mode & 0o777;
const rows = (dbPath: string, sql: string) => {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).all() as Record<string, string>[];
  } finally {
    db.close();
  }
};

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('secrets at rest', () => {
  test('umask 000: DATA_DIR is 0700 and every file in it (database, -wal, -shm, sandbox keys, KEK) 0600', {
    skip: sqliteOnly('the modes of the SQLite file and its -wal and -shm'),
  }, async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'psd2-oauth-umask-')), 'data');
    const port = await freePort();
    const command = [process.execPath, ...runtime, 'serve'].map((a) => `'${a}'`).join(' ');
    const child = spawn('/bin/sh', ['-c', `umask 000 && exec ${command}`], {
      env: { ...process.env, DATA_DIR: dir, PORT: String(port), LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const ca = existsSync(sandboxPaths(dir).caCert) ? readFileSync(sandboxPaths(dir).caCert, 'utf8') : undefined;
        const res = ca ? await request(`https://localhost:${port}/health`, { ca }).catch(() => null) : null;
        if (res?.status === 200) break;
        assert.ok(Date.now() < deadline, 'the server answers within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(mode(dir), 0o700, 'DATA_DIR');
      const files = readdirSync(dir);
      for (const expected of ['psd2-oauth.db', 'psd2-oauth.db-wal', 'psd2-oauth.db-shm', 'key-encryption.key']) {
        assert.ok(files.includes(expected), `${expected} exists`);
      }
      for (const name of files) assert.equal(mode(join(dir, name)), 0o600, name);
    } finally {
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a DATA_DIR left 0755 with 0644 files by an older version is narrowed at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-narrow-'));
    writeFileSync(join(dir, 'leftover.pem'), 'x', { mode: 0o644 });
    const { chmodSync } = await import('node:fs');
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'leftover.pem'), 0o644);
    const s = await startTestServer({}, dir);
    try {
      assert.equal(mode(dir), 0o700);
      for (const name of readdirSync(dir)) assert.equal(mode(join(dir, name)), 0o600, name);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('signing keys and TOTP secrets are sealed (AES-256-GCM, row-bound); plaintext rows are sealed at start', {
    skip: sqliteOnly('reads and rewrites the sealed columns in the SQLite file (contract suite: SecretStore on both)'),
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-sealed-'));
    const env = await productionEnv(dir);
    const config = loadConfig({ ...env, DATA_DIR: dir, LOG_LEVEL: 'silent' });
    let s = await startTestServer(env, dir);
    const dbPath = join(dir, 'psd2-oauth.db');
    try {
      const jwks = (await s.get('/jwks')).json() as { keys: { kid: string }[] };
      const out: string[] = [];
      const io = { out: (t: string) => void out.push(t), readStdin: async () => 'a long password\n' };
      assert.equal(
        await psuCommandWith(['add', '--username', 'alice', '--name', 'Alice', '--password-stdin'], config, io),
        0,
      );
      const totp = /^totp_secret: (\w+)$/m.exec(out.join(''))![1]!;

      const keys = rows(dbPath, 'select kid, private_jwk from signing_keys');
      const psus = rows(dbPath, "select psu_id, totp_secret from psus where username = 'alice'");
      assert.equal(keys.length, 3);
      const sealer = createSecretSealer(readKekFile(env.KEY_ENCRYPTION_KEY_FILE, 'test'));
      for (const key of keys) {
        assert.match(key.private_jwk!, /^kek1:/);
        assert.doesNotMatch(key.private_jwk!, /"d"/);
        assert.equal(JSON.parse(sealer.open(key.private_jwk!, `signing_keys/${key.kid}/private_jwk`)).kid, undefined);
      }
      assert.match(psus[0]!.totp_secret!, /^kek1:/);
      assert.ok(!psus[0]!.totp_secret!.includes(totp), 'the TOTP secret is not stored in clear');
      assert.equal(sealer.open(psus[0]!.totp_secret!, `psus/${psus[0]!.psu_id}/totp_secret`), totp);
      // Bound to its row: the value of one key does not open as another's.
      assert.throws(
        () => sealer.open(keys[0]!.private_jwk!, `signing_keys/${keys[1]!.kid}/private_jwk`),
        /does not authenticate/,
      );
      const altered = `${keys[0]!.private_jwk!.slice(0, -3)}AAA`;
      assert.throws(() => sealer.open(altered, `signing_keys/${keys[0]!.kid}/private_jwk`), /does not authenticate/);

      // An older database: secrets in clear. The next start seals them and keeps the same keys.
      await s.close();
      const db = new Database(dbPath);
      for (const key of keys) {
        const plain = sealer.open(key.private_jwk!, `signing_keys/${key.kid}/private_jwk`);
        db.prepare('update signing_keys set private_jwk = ? where kid = ?').run(plain, key.kid);
      }
      db.prepare('update psus set totp_secret = ? where psu_id = ?').run(totp, psus[0]!.psu_id);
      db.close();
      s = await startTestServer(env, dir);
      assert.deepEqual((await s.get('/jwks')).json(), jwks, 'the same keys are published');
      for (const key of rows(dbPath, 'select private_jwk from signing_keys')) assert.match(key.private_jwk!, /^kek1:/);
      const resealed = rows(dbPath, "select psu_id, totp_secret from psus where username = 'alice'")[0]!;
      assert.equal(sealer.open(resealed.totp_secret!, `psus/${resealed.psu_id}/totp_secret`), totp);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('kek rotate re-encrypts every secret in one go; the old key is then refused with a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-kek-'));
    let s = await startTestServer(await productionEnv(dir), dir);
    // Every later start and command on the same database (PSD2_TEST_BACKEND=postgres: its own).
    const env: Record<string, string> = {
      ...(await productionEnv(dir)),
      ...(s.databaseUrl ? { DATABASE_URL: s.databaseUrl } : {}),
    };
    const config = loadConfig({ ...env, DATA_DIR: dir, LOG_LEVEL: 'silent' });
    const newKey = join(dir, 'next.key');
    try {
      const jwks = (await s.get('/jwks')).json();
      const out: string[] = [];
      const io = { out: (t: string) => void out.push(t), readStdin: async () => 'a long password\n' };
      await psuCommandWith(['add', '--username', 'bob', '--name', 'Bob', '--password-stdin'], config, io);
      assert.equal(await kekCommandWith(['generate', newKey], config, io), 0);
      assert.equal(mode(newKey), 0o600);
      // A missing folder is the operator's to fix: exit 74 (EX_IOERR) naming the file, no stack trace.
      await assert.rejects(kekCommandWith(['generate', join(dir, 'no-such-folder', 'k.key')], config, io), {
        exitCode: 74,
        message: /cannot write .*no-such-folder.*ENOENT/,
      });
      const before = createSecretSealer(readKekFile(env.KEY_ENCRYPTION_KEY_FILE as string, 'old'));
      const after = createSecretSealer(readKekFile(newKey, 'new'));
      out.length = 0;
      assert.equal(await kekCommandWith(['rotate', '--new-key-file', newKey, '--json'], config, io), 0);
      assert.deepEqual(JSON.parse(out.join('')), { from: before.kekId, to: after.kekId, resealed: 4 });
      // Every secret is now under the new key, as `kek status` reads the rows (3 keys, 1 TOTP secret).
      out.length = 0;
      const newConfig = loadConfig({ ...env, KEY_ENCRYPTION_KEY_FILE: newKey, DATA_DIR: dir, LOG_LEVEL: 'silent' });
      assert.equal(await kekCommandWith(['status', '--json'], newConfig, io), 0);
      assert.deepEqual(JSON.parse(out.join('')), { kek_id: after.kekId, sealed: { [after.kekId]: 4 } });

      // The running server keeps its keys in memory; restarted with the old key it refuses to start.
      await s.close();
      const stale = spawnSync(process.execPath, [...runtime, 'serve'], {
        env: { ...process.env, ...env, DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'silent' },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(stale.status, 78);
      assert.match(
        stale.stderr,
        new RegExp(`sealed under key-encryption key ${after.kekId}, but the configured key is ${before.kekId}`),
      );
      s = await startTestServer({ ...env, KEY_ENCRYPTION_KEY_FILE: newKey }, dir);
      assert.deepEqual((await s.get('/jwks')).json(), jwks, 'the same signing keys, opened with the new KEK');
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('configuration: production requires a KEK; a malformed one is named; a sandbox generates its own', () => {
    assert.throws(
      () =>
        loadConfig({
          MODE: 'production',
          ISSUER: 'https://bank.example',
          TLS_CERT: 'a',
          TLS_KEY: 'b',
          TRUST_ANCHORS: 'c',
        }),
      /KEY_ENCRYPTION_KEY_FILE \(or KEY_ENCRYPTION_KEY\) is required in production mode/,
    );
    assert.throws(
      () => parseKek('c2hvcnQ=', 'KEY_ENCRYPTION_KEY'),
      /KEY_ENCRYPTION_KEY: decodes to 5 bytes, expected 32/,
    );
    assert.throws(() => parseKek('not base64!', 'KEY_ENCRYPTION_KEY'), /expected the base64 encoding/);
    assert.match(sandboxKekPath('/d'), /key-encryption\.key$/);
  });
});
