// RTS art. 4(3)(b): the count of failed authentications survives a crash. A production server in
// a child process takes failed logins from several PSUs at once and is killed with SIGKILL at a
// random moment; after each restart every failure it acknowledged is still counted, no counter
// went down, and five acknowledged failures always left a block.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { sqliteOnly } from '../support/backend.ts';
import { request } from '../support/https.ts';
import { productionEnv, startProductionServer } from '../support/production.ts';
import { formOf, pkce, sessionCookie } from '../support/psu.ts';
import { makeTpp } from '../support/tpp.ts';

declare const Deno: unknown;

const REDIRECT = 'https://tpp.example/callback';
const PSUS = 4;
const CYCLES = 3;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function sum(counts: Map<string, number>): number {
  return [...counts.values()].reduce((a, b) => a + b, 0);
}

test('failed-login counters survive SIGKILL: nothing acknowledged is lost, none goes down', {
  skip: sqliteOnly(
    'SIGKILLs a server on the SQLite file, then PRAGMA integrity_check (PostgreSQL: npm run test:crash -- --database postgres)',
  ),
}, async () => {
  // Set-up in process: the PSUs (CLI code) and a registered client, then the server stops.
  const { server, config, dataDir } = await startProductionServer({ PSU_LOCKOUT_DURATION: '3600' });
  const usernames = Array.from({ length: PSUS }, (_, i) => `crash${i}`);
  let clientId = '';
  try {
    for (const username of usernames) {
      const code = await psuCommandWith(
        ['add', '--username', username, '--name', username, '--password-stdin'],
        config,
        {
          out: () => {},
          readStdin: async () => 'the right password\n',
        },
      );
      assert.equal(code, 0);
    }
    const tpp = await makeTpp(server, ['PSP_AI']);
    clientId = (await tpp.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } })).json().client_id;
  } finally {
    await server.close();
  }

  const port = await freePort();
  const psuPort = await freePort();
  const psuBase = `https://localhost:${psuPort}`;
  const env = {
    ...process.env,
    ...(await productionEnv(dataDir, { PSU_LOCKOUT_DURATION: '3600' })),
    DATA_DIR: dataDir,
    PORT: String(port),
    PSU_PORT: String(psuPort),
    LOG_LEVEL: 'silent',
  };
  const cli = new URL('../../server/bin.ts', import.meta.url).pathname;
  const args = typeof Deno === 'undefined' ? [cli, 'serve'] : ['run', '-A', cli, 'serve'];
  const acknowledged = new Map<string, number>(usernames.map((u) => [u, 0]));
  const lastSeen = new Map<string, number>(usernames.map((u) => [u, 0]));
  const { codeChallenge } = pkce();
  const authorize = `${psuBase}/en/authorize?${new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'aisp',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
  })}`;

  /** One failed login; true when the server acknowledged it (303 on to the code page). */
  async function failOnce(username: string): Promise<boolean> {
    const page = await request(authorize, { ca: server.caPem });
    if (page.status !== 200) return false;
    const { action, csrf } = formOf(page.text);
    const body = new URLSearchParams({ csrf_token: csrf, username, password: 'wrong password' });
    const res = await request(`${psuBase}${action}`, {
      ca: server.caPem,
      method: 'POST',
      headers: { cookie: sessionCookie(page) },
      body,
    });
    return res.status === 303;
  }

  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const child = spawn(process.execPath, args, { env, stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        const deadline = Date.now() + 30_000;
        while (
          !(await request(`${psuBase}/health`, { ca: server.caPem }).then(
            (r) => r.status === 200,
            () => false,
          ))
        ) {
          assert.ok(Date.now() < deadline, 'the server answers /health within 30 s');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        let running = true;
        const workers = Array.from({ length: 4 }, async () => {
          while (running) {
            // Once five failures are acknowledged the PSU is blocked: further attempts prove nothing.
            const open = usernames.filter((u) => (acknowledged.get(u) ?? 0) < 5);
            const username = open[Math.floor(Math.random() * open.length)];
            if (!username) {
              await new Promise((resolve) => setTimeout(resolve, 20));
              continue;
            }
            const ok = await failOnce(username).catch(() => false);
            if (ok) acknowledged.set(username, (acknowledged.get(username) ?? 0) + 1);
          }
        });
        await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 1200));
        // On a loaded machine scrypt may not answer within the window: the run must still kill a
        // server that has acknowledged something, or the invariant below is checked on nothing.
        const ackDeadline = Date.now() + 20_000;
        while (sum(acknowledged) === 0 && Date.now() < ackDeadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        child.kill('SIGKILL');
        running = false;
        await Promise.all(workers);
      } finally {
        child.kill('SIGKILL');
        await exited;
      }

      const db = new Database(join(dataDir, 'psd2-oauth.db'));
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        const rows = db.prepare('SELECT username, failed_attempts, locked_until FROM psus').all() as {
          username: string;
          failed_attempts: number;
          locked_until: number | null;
        }[];
        for (const row of rows.filter((r) => acknowledged.has(r.username))) {
          const acked = acknowledged.get(row.username) ?? 0;
          // An attempt on a PSU already blocked is answered alike but not counted (the block holds),
          // so every acknowledgement stands for a counted failure up to the fifth.
          const counted = Math.min(acked, 5);
          assert.ok(
            row.failed_attempts >= counted,
            `${row.username}: ${acked} acknowledged, ${row.failed_attempts} counted`,
          );
          assert.ok(row.failed_attempts >= (lastSeen.get(row.username) ?? 0), `${row.username}: the counter went down`);
          if (acked >= 5) assert.ok(row.locked_until !== null, `${row.username}: five failures and no block`);
          lastSeen.set(row.username, row.failed_attempts);
        }
      } finally {
        db.close();
      }
    }
    assert.ok(sum(acknowledged) > 0, 'the load acknowledged some failures');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
