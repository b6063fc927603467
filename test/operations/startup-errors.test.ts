// Every start-up failure an operator meets is one line naming the setting, with what to do, and
// exit code 78 (a setting) or 74 (a file): a table of misconfigurations, each started for real.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openSqlite } from '../../db/sqlite.ts';
import { loadConfig } from '../../server/config.ts';
import { startServer } from '../../server/main.ts';
import { OperatorError } from '../../server/operator-error.ts';
import { sqliteOnly } from '../support/backend.ts';
import { productionEnv } from '../support/production.ts';

declare const Deno: unknown;

interface Case {
  name: string;
  env: (base: Record<string, string>) => Record<string, string> | Promise<Record<string, string>>;
  exitCode: 74 | 78;
  message: RegExp;
}

describe('start-up errors name the setting: one line, exit code 78 or 74', () => {
  let dir: string;
  let base: Record<string, string>;
  let busy: ReturnType<typeof createServer>;
  let busyPort: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-startup-'));
    const dataDir = join(dir, 'data');
    base = { ...(await productionEnv(dataDir)), DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' };
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  after(() => {
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A database with data, then `damage` done to its file. */
  function database(name: string, damage: (path: string) => void): string {
    const path = join(dir, name);
    const db = openSqlite(path);
    const insert = db.$client.prepare('insert into health_probe (id, checked_at) values (?, ?)');
    db.$client.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(i, i);
    })();
    db.$client.pragma('wal_checkpoint(TRUNCATE)');
    db.$client.close();
    damage(path);
    return path;
  }

  const cases: Case[] = [
    {
      name: 'the port is in use',
      env: (b) => ({ ...b, PORT: String(busyPort) }),
      exitCode: 78,
      message: /^PORT=\d+ on HOST=127\.0\.0\.1: the address is in use: stop the other process or choose another PORT$/,
    },
    {
      name: 'HOST cannot be resolved',
      env: (b) => ({ ...b, HOST: 'no-such-host.invalid' }),
      exitCode: 78,
      message: /^HOST=no-such-host\.invalid: the name cannot be resolved \(E[A-Z_]+\): use an IP address/,
    },
    {
      name: 'HOST is not an address of this machine',
      env: (b) => ({ ...b, HOST: '192.0.2.1' }),
      exitCode: 78,
      message: /^HOST=192\.0\.2\.1: not an address of this machine/,
    },
    {
      name: 'TLS_CERT is missing',
      env: (b) => ({ ...b, TLS_CERT: join(dir, 'nowhere.pem') }),
      exitCode: 74,
      message: /^TLS_CERT=.*nowhere\.pem: cannot read it \(ENOENT: no such file\)/,
    },
    {
      name: 'TLS_KEY is a folder',
      env: (b) => ({ ...b, TLS_KEY: dir }),
      exitCode: 74,
      message: /^TLS_KEY=.*: cannot read it \(EISDIR: a folder, not a file\)/,
    },
    {
      name: 'TLS_CERT is not a certificate',
      env: (b) => {
        writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
        return { ...b, TLS_CERT: join(dir, 'junk.pem') };
      },
      exitCode: 78,
      message: /^TLS_CERT: not a PEM certificate/,
    },
    {
      name: 'TLS_KEY does not match TLS_CERT',
      env: (b) => {
        const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
        writeFileSync(join(dir, 'other-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
        return { ...b, TLS_KEY: join(dir, 'other-key.pem') };
      },
      exitCode: 78,
      message: /^TLS_KEY does not match TLS_CERT \(.*CN=localhost.*\): give the key the certificate was issued for$/,
    },
    {
      name: 'TRUST_ANCHORS is missing',
      env: (b) => ({ ...b, TRUST_ANCHORS: join(dir, 'anchors.pem') }),
      exitCode: 74,
      message: /^TRUST_ANCHORS=.*anchors\.pem: cannot read it \(ENOENT/,
    },
    {
      name: 'the database path is under a file',
      env: (b) => {
        writeFileSync(join(dir, 'a-file'), '');
        return { ...b, DATABASE_URL: join(dir, 'a-file', 'psd2-oauth.db') };
      },
      exitCode: 74,
      message: /^DATABASE_URL: the database .*a-file\/psd2-oauth\.db cannot be opened \((ENOTDIR|EEXIST)\)/,
    },
    {
      name: 'the database file is not a database',
      env: (b) => {
        writeFileSync(join(dir, 'garbage.db'), Buffer.alloc(8192, 0x5a));
        return { ...b, DATABASE_URL: join(dir, 'garbage.db') };
      },
      exitCode: 74,
      message: /^DATABASE_URL: the database .*garbage\.db is corrupt \(SQLITE_NOTADB\): .*`psd2-oauth backup FILE`$/,
    },
    {
      name: 'the database has corrupt pages (PRAGMA quick_check in production)',
      env: (b) => ({
        ...b,
        DATABASE_URL: database('pages.db', (path) => {
          // Garbage over the middle pages: the header and the schema still read.
          const fd = openSync(path, 'r+');
          const size = statSync(path).size;
          writeSync(fd, Buffer.alloc(4096 * 4, 0xa5), 0, 4096 * 4, Math.floor(size / 2 / 4096) * 4096);
          closeSync(fd);
        }),
      }),
      exitCode: 74,
      message: /^DATABASE_URL: the database .*pages\.db is corrupt \(SQLITE_CORRUPT\): stop the server and restore/,
    },
  ];

  for (const c of cases) {
    test(c.name, {
      skip: c.name.includes('database') && sqliteOnly('a damaged or misplaced SQLite file'),
    }, async () => {
      const env = await c.env(base);
      const config = loadConfig(env);
      const started = Date.now();
      await assert.rejects(startServer(config), (err: unknown) => {
        assert.ok(err instanceof OperatorError, String(err));
        assert.equal(err.exitCode, c.exitCode, err.message);
        assert.match(err.message, c.message);
        assert.equal(err.message.includes('\n'), false, 'one line');
        return true;
      });
      assert.ok(Date.now() - started < 15_000);
    });
  }

  test('a read-only database is refused naming it', {
    skip: sqliteOnly('a read-only SQLite file') || (process.getuid?.() === 0 && 'root ignores file modes'),
  }, async () => {
    const folder = join(dir, 'ro');
    mkdirSync(folder);
    const path = database(join('ro', 'psd2-oauth.db'), () => {});
    spawnSync('chmod', ['0555', folder]);
    spawnSync('chmod', ['0444', path]);
    try {
      await assert.rejects(
        startServer(loadConfig({ ...base, DATABASE_URL: path })),
        /cannot be written|cannot be opened/,
      );
    } finally {
      spawnSync('chmod', ['0755', folder]);
    }
  });

  test('`serve` prints the one line and exits with the code, without hanging', () => {
    const cli = new URL('../../server/bin.ts', import.meta.url).pathname;
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, [...(typeof Deno === 'undefined' ? [] : ['run', '-A']), cli, 'serve'], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const inUse = run({ ...base, PORT: String(busyPort) });
    assert.equal(inUse.status, 78, inUse.stderr);
    assert.match(inUse.stderr, /^psd2-oauth serve: PORT=\d+ on HOST=127\.0\.0\.1: the address is in use: .*\n$/);
    // Its own garbage file: the case above that writes one is skipped on PostgreSQL.
    writeFileSync(join(dir, 'garbage-serve.db'), Buffer.alloc(8192, 0x5a));
    const corrupt = run({ ...base, DATABASE_URL: join(dir, 'garbage-serve.db') });
    assert.equal(corrupt.status, 74, corrupt.stderr);
    assert.equal(corrupt.stderr.trim().split('\n').length, 1, corrupt.stderr);
  });
});
