// Signing keys shared by several instances (issue 16, "Signing keys"), on each backend: two real
// server processes started at the same moment on one empty database (a SQLite file; a fresh
// PostgreSQL database) apply the migrations once and make exactly one active key, which both
// publish; each verifies the other's tokens; a key rotated by the CLI signs on both within the
// reload bound while the former key's tokens still verify; retire refuses the active key and a key
// that signed too recently, and a retired key leaves /jwks on both. The key rows are read through
// the store port (db/open.ts), never from the file.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { openDatabase } from '../../db/open.ts';
import { keysCommandWith } from '../../server/cli/keys.ts';
import { loadConfig } from '../../server/config.ts';
import { sandboxPaths } from '../../server/pki/sandbox-files.ts';
import { request } from '../support/https.ts';
import { freshDatabase, testCluster } from '../support/postgres.ts';
import { productionEnv } from '../support/production.ts';
import type { TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

declare const Deno: unknown;
const cli = new URL('../../server/bin.ts', import.meta.url).pathname;
const runtime = typeof Deno === 'undefined' ? [cli] : ['run', '-A', cli];

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const cluster = await testCluster();

/** The drizzle migrations PostgreSQL recorded, and how many this build carries. */
async function postgresMigrations(url: string): Promise<{ recorded: string[]; carried: number }> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ hash: string }[]>`select hash from drizzle.__drizzle_migrations order by id`;
    const journal = JSON.parse(
      readFileSync(new URL('../../db/pg/migrations/meta/_journal.json', import.meta.url), 'utf8'),
    ) as { entries: unknown[] };
    return { recorded: rows.map((r) => r.hash), carried: journal.entries.length };
  } finally {
    await sql.end();
  }
}

test('two instances started at once on one empty SQLite file: one active key, tokens verify across, rotation and retirement reach both', async () => {
  await twoInstances({});
});

test('two instances started at once on one empty PostgreSQL database: migrations once, one active key, tokens verify across, rotation and retirement reach both', {
  skip: 'skip' in cluster ? cluster.skip : undefined,
}, async () => {
  const databaseUrl = await freshDatabase((cluster as { url: string }).url);
  await twoInstances({ DATABASE_URL: databaseUrl });
  const { recorded, carried } = await postgresMigrations(databaseUrl);
  assert.equal(recorded.length, carried, 'every migration recorded once, none twice');
  assert.equal(new Set(recorded).size, recorded.length);
});

async function twoInstances(database: { DATABASE_URL?: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-two-'));
  const env = {
    ...process.env,
    ...(await productionEnv(dir)),
    DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    ACCESS_TOKEN_SIGNING_THREADS: '1',
    ...database,
  };
  const caPem = readFileSync(sandboxPaths(dir).caCert, 'utf8');
  const ports = [await freePort(), await freePort()];
  const children: ChildProcess[] = [];
  const exits: Promise<unknown>[] = [];
  try {
    // Both at once, on an empty database: spawned in the same tick, they race to the migrations
    // and to the first key.
    const stderr = ['', ''];
    for (const [i, child] of ports
      .map((port) =>
        spawn(process.execPath, [...runtime, 'serve'], {
          env: { ...env, PORT: String(port) },
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      )
      .entries()) {
      child.stderr?.on('data', (d) => {
        stderr[i] += d;
      });
      children.push(child);
      exits.push(new Promise((resolve) => child.once('exit', resolve)));
    }
    const instances = ports.map(
      (port) =>
        ({
          url: `https://localhost:${port}`,
          dataDir: dir,
          caPem,
          server: { issuer: 'https://localhost' },
        }) as TestServer,
    );
    const deadline = Date.now() + 60_000;
    for (const [i, instance] of instances.entries()) {
      while (
        !(await request(`${instance.url}/health`, { ca: caPem }).then(
          (r) => r.status === 200,
          () => false,
        ))
      ) {
        const child = children[i]!;
        assert.ok(child.exitCode === null && child.signalCode === null, `instance ${i} exited: ${stderr[i]}`);
        assert.ok(Date.now() < deadline, `both instances answer /health within 60 s: ${stderr.join(' | ')}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const config = loadConfig(env);
    // The database as a third process sees it, through the store port.
    const opened = await openDatabase(config.database);
    let activeKid: string;
    try {
      const keys = await opened.stores.signingKeys.list();
      const active = keys.filter((k) => k.status === 'active');
      assert.equal(active.length, 1, `exactly one active key: ${JSON.stringify(keys)}`);
      activeKid = active[0]!.kid;
      assert.deepEqual(keys.map((k) => k.alg).sort(), ['ES256', 'EdDSA', 'PS256'], 'one key per algorithm, no more');
    } finally {
      await opened.close();
    }
    const jwks = async (i: number) =>
      (await request(`${instances[i]!.url}/jwks`, { ca: caPem }))
        .json()
        .keys.map((k: { kid: string }) => k.kid)
        .sort();
    assert.deepEqual(await jwks(0), await jwks(1));
    assert.ok((await jwks(0)).includes(activeKid), 'both publish the active key');
    for (const instance of instances) {
      const ready = await request(`${instance.url}/health/ready`, { ca: caPem });
      assert.equal(ready.status, 200, ready.text);
      assert.equal(ready.json().checks.migrations, 'ok');
    }

    // A client registered on A; tokens from each instance, introspected on the other.
    const [a, b] = instances as [TestServer, TestServer];
    const tppOnA = await makeTpp(a, ['PSP_PI']);
    const registered = await tppOnA.call('POST', '/register', { body: {} });
    assert.equal(registered.status, 201, registered.text);
    const clientId = registered.json().client_id as string;
    const rs = spawnSync(process.execPath, [...runtime, 'resource-server', 'add', 'api', '--json'], {
      env,
      encoding: 'utf8',
    });
    assert.equal(rs.status, 0, rs.stderr);
    const { client_id: rsId, client_secret: rsSecret } = JSON.parse(rs.stdout);
    const basic = `Basic ${Buffer.from(`${rsId}:${rsSecret}`).toString('base64')}`;
    const tokenFrom = async (instance: TestServer) => {
      const res = await request(`${instance.url}/token`, {
        ca: caPem,
        cert: tppOnA.certChain,
        key: tppOnA.key,
        method: 'POST',
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: 'pisp' }),
      });
      assert.equal(res.status, 200, res.text);
      return res.json().access_token as string;
    };
    const activeOn = async (instance: TestServer, token: string) => {
      const res = await request(`${instance.url}/introspect`, {
        ca: caPem,
        method: 'POST',
        headers: { authorization: basic },
        body: new URLSearchParams({ token }),
      });
      assert.equal(res.status, 200, res.text);
      return res.json().active as boolean;
    };
    const fromA = await tokenFrom(a);
    const fromB = await tokenFrom(b);
    assert.equal(await activeOn(b, fromA), true, "A's token verifies on B");
    assert.equal(await activeOn(a, fromB), true, "B's token verifies on A");
    const firstKid = decodeProtectedHeader(fromA).kid as string;
    assert.equal(firstKid, activeKid, 'A signs with the one active key');
    assert.equal(decodeProtectedHeader(fromB).kid, firstKid);

    // Rotation by the CLI, picked up by both within the bound (1 s poll; slack for a loaded machine).
    const out: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t) };
    assert.equal(await keysCommandWith(['rotate', '--json'], config, io), 0);
    const rotated = JSON.parse(out.join('')).kid as string;
    assert.notEqual(rotated, firstKid);
    const rotatedAt = Date.now();
    for (const instance of instances) {
      while (decodeProtectedHeader(await tokenFrom(instance)).kid !== rotated) {
        assert.ok(Date.now() - rotatedAt < 5000, 'the rotated key signs on every instance within the bound');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const newA = await tokenFrom(a);
    const newB = await tokenFrom(b);
    assert.equal(await activeOn(b, newA), true);
    assert.equal(await activeOn(a, newB), true);
    for (const instance of instances) {
      assert.equal(await activeOn(instance, fromA), true, 'a token of the former key still verifies');
      assert.equal(await activeOn(instance, fromB), true, 'a token of the former key still verifies');
      assert.ok((await request(`${instance.url}/jwks`, { ca: caPem })).text.includes(firstKid), 'still published');
    }

    // Retirement: never the active key, never one that signed less than ACCESS_TOKEN_TTL ago.
    await assert.rejects(
      keysCommandWith(['retire', '--', rotated], config, io),
      (err: Error & { exitCode?: number }) => {
        assert.equal(err.exitCode, 65, err.stack);
        assert.match(err.message, /is the active signing key/);
        return true;
      },
    );
    await assert.rejects(
      keysCommandWith(['retire', '--', firstKid], config, io),
      (err: Error & { exitCode?: number }) => {
        assert.equal(err.exitCode, 65, err.stack);
        assert.match(err.message, /less than ACCESS_TOKEN_TTL/);
        return true;
      },
    );
    out.length = 0;
    assert.equal(await keysCommandWith(['list', '--json'], config, io), 0);
    const listed = JSON.parse(out.join('')) as { kid: string; alg: string; status: string; retirable_from: string }[];
    const neverActive = listed.find((k) => k.alg === 'PS256')!;
    assert.equal(listed.find((k) => k.kid === rotated)?.status, 'active');
    assert.equal(listed.find((k) => k.kid === firstKid)?.status, 'published');
    assert.ok(listed.find((k) => k.kid === firstKid)?.retirable_from, 'says when it may be retired');
    assert.equal(await keysCommandWith(['retire', '--', neverActive.kid], config, io), 0);
    for (const i of [0, 1]) {
      while ((await jwks(i)).includes(neverActive.kid)) {
        assert.ok(Date.now() - rotatedAt < 10_000, 'the retired key leaves /jwks on every instance');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    out.length = 0;
    assert.equal(await keysCommandWith(['--help'], config, io), 0);
    assert.match(out.join(''), /psd2-oauth keys rotate/);
    out.length = 0;
    assert.equal(await keysCommandWith(['list'], config, io), 0);
    assert.match(out.join(''), /KID\s+ALG\s+STATUS/);
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(exits);
    rmSync(dir, { recursive: true, force: true });
  }
}
