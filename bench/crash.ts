// `npm run test:crash`: durability under load. psd2-oauth runs as `psd2-oauth serve` on a temporary
// DATA_DIR; a mixed load (registrations, deletions, code exchanges, refreshes, revocations) runs
// against it and is killed with SIGKILL at a random moment; the server restarts and every outcome
// that was acknowledged (2xx, appended to an fsync'd journal before it counts) must still hold.
//
//   npm run test:crash -- [--cycles 50] [--database sqlite|postgres] [--keep]
//
// --database postgres runs the server on a fresh database of a throwaway PostgreSQL cluster
// (test/support/postgres.ts); the integrity check is then that no code is consumed without the
// grant its redemption created (the two are one transaction).
//
// Invariants checked after every restart (sampled: the newest outcomes and a random few others):
// PRAGMA integrity_check is ok; acknowledged registrations exist and acknowledged deletions hold;
// acknowledged refresh tokens still refresh; acknowledged revocations hold (refresh invalid_grant,
// introspection inactive for every access token of the grant); a redeemed code is never redeemed
// again. And a race: 8 concurrent redemptions of one code give exactly one token.
import { spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import type { Pool } from 'undici';
import { freshDatabase, startCluster } from '../test/support/postgres.ts';
import { benchFile, type Child, NODE, startChild } from './children.ts';
import { basic, connectionPool, type Reply, send } from './http.ts';
import { type BenchPki, createBenchPki } from './pki.ts';
import { type IssuedCode, obtainCode, redeemCode } from './psd2-psu.ts';

const { values: flags } = parseArgs({
  options: {
    cycles: { type: 'string', default: '50' },
    keep: { type: 'boolean', default: false },
    database: { type: 'string', default: 'sqlite' },
  },
});
const CYCLES = Number(flags.cycles);
if (flags.database !== 'sqlite' && flags.database !== 'postgres') {
  process.stderr.write(`--database must be sqlite or postgres, not ${flags.database}\n`);
  process.exit(64);
}
const cluster = flags.database === 'postgres' ? await startCluster() : undefined;
const databaseUrl = cluster ? await freshDatabase(cluster.url) : undefined;
const CYCLE_LIMIT_MS = 60_000;
const WORKERS = 6;
const REDIRECT_URI = 'https://tpp.example/cb';
const SAMPLE = 12;

const work = mkdtempSync(join(tmpdir(), 'psd2-oauth-crash-'));
const dataDir = join(work, 'data');
const journalPath = join(work, 'acknowledged.jsonl');
const serverLog = join(work, 'server.log');
const log = (line: string) => process.stderr.write(`${line}\n`);

class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

// ---- what the server acknowledged -------------------------------------------------------------

interface Grant {
  clientId: string;
  refreshToken: string;
  accessTokens: string[];
  busy: boolean;
}

/** The model of acknowledged outcomes; every change is journaled (fsync'd) before it is applied. */
const acknowledged = {
  tokenClients: [] as string[],
  clients: new Map<string, string>(),
  deletedClients: new Map<string, string>(),
  grants: [] as Grant[],
  revoked: [] as Grant[],
  redeemedCodes: [] as { clientId: string; issued: IssuedCode; grant: Grant }[],
};
const journal = openSync(journalPath, 'a');

function journalAppend(entry: Record<string, unknown>): void {
  writeSync(journal, `${JSON.stringify({ at: Date.now(), ...entry })}\n`);
  fsyncSync(journal);
}

// ---- the server ---------------------------------------------------------------------------------

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const port = await freePort();
const origin = `https://127.0.0.1:${port}`;
const serverEnv = {
  DATA_DIR: dataDir,
  PORT: String(port),
  HOST: '127.0.0.1',
  MODE: 'sandbox',
  LOG_LEVEL: 'warn',
  ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
};

async function startServer(pki: BenchPki): Promise<Child> {
  const child = startChild(benchFile('../server/bin.ts'), { args: ['serve'], env: serverEnv, logFile: serverLog });
  const probe = connectionPool(origin, pki, 1, false);
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.process.exitCode !== null)
        throw new Error(`the server exited (${child.process.exitCode}), see ${serverLog}`);
      const ok = await send(probe, 'GET', '/health').then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return child;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the server did not answer /health within 30 s, see ${serverLog}`);
  } finally {
    await probe.destroy();
  }
}

async function integrityCheck(): Promise<void> {
  if (databaseUrl) {
    const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`select count(*)::int as n from authorization_codes c
        where c.consumed_at is not null and not exists (select 1 from grants g where g.grant_id = c.grant_id)`;
      if (row?.n !== 0) throw new InvariantViolation(`${row?.n} codes consumed without their grant`);
    } finally {
      await sql.end();
    }
    return;
  }
  // Opening read-write lets SQLite recover the WAL the killed server left, as the next start would.
  const db = new Database(join(dataDir, 'psd2-oauth.db'));
  try {
    const result = db.pragma('integrity_check', { simple: true });
    if (result !== 'ok') throw new InvariantViolation(`PRAGMA integrity_check: ${String(result)}`);
  } finally {
    db.close();
  }
}

function resourceServer(): Record<string, string> {
  const result = spawnSync(NODE, [benchFile('../server/bin.ts'), 'resource-server', 'add', 'crash-rs', '--json'], {
    env: { ...process.env, ...serverEnv },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0) throw new Error(`resource-server add failed: ${result.stderr}`);
  const { client_id, client_secret } = JSON.parse(result.stdout) as Record<string, string>;
  return basic(client_id as string, client_secret as string);
}

// ---- the load -----------------------------------------------------------------------------------

interface Pools {
  tpp: Pool;
  anonymous: Pool;
}

const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(Math.random() * xs.length)];

async function register(pools: Pools): Promise<{ clientId: string; token: string } | undefined> {
  const reply = await send(pools.tpp, 'POST', '/register', { json: { redirect_uris: [REDIRECT_URI] } });
  if (reply.status !== 201) return undefined;
  const { client_id, registration_access_token } = reply.json();
  return { clientId: client_id, token: registration_access_token };
}

const actions: [weight: number, run: (pools: Pools) => Promise<void>][] = [
  [
    2,
    async (pools) => {
      const client = await register(pools);
      if (!client) return;
      journalAppend({ registered: client.clientId, token: client.token });
      acknowledged.clients.set(client.clientId, client.token);
    },
  ],
  [
    1,
    async (pools) => {
      const clientId = pick([...acknowledged.clients.keys()]);
      if (!clientId) return;
      const token = acknowledged.clients.get(clientId)!;
      // Not acknowledged until 204: until then its fate is unknown and it is checked no more.
      acknowledged.clients.delete(clientId);
      const reply = await send(pools.tpp, 'DELETE', `/register/${clientId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (reply.status !== 204) return;
      journalAppend({ deleted: clientId });
      acknowledged.deletedClients.set(clientId, token);
    },
  ],
  [
    3,
    async (pools) => {
      const clientId = pick(acknowledged.tokenClients)!;
      const issued = await obtainCode(pools.anonymous, clientId, REDIRECT_URI);
      const reply = await redeemCode(pools.tpp, clientId, REDIRECT_URI, issued);
      if (reply.status !== 200) return;
      const { access_token, refresh_token } = reply.json();
      journalAppend({ redeemed: issued.code, clientId, refresh_token, access_token });
      const grant = { clientId, refreshToken: refresh_token, accessTokens: [access_token], busy: false };
      acknowledged.redeemedCodes.push({ clientId, issued, grant });
      acknowledged.grants.push(grant);
    },
  ],
  [
    3,
    async (pools) => {
      const grant = pick(acknowledged.grants.filter((g) => !g.busy));
      if (!grant) return;
      grant.busy = true;
      try {
        const reply = await refresh(pools, grant);
        if (reply.status !== 200) throw new InvariantViolation(`refresh of a live token: ${describe(reply)}`);
        const { access_token } = reply.json();
        journalAppend({ refreshed: grant.refreshToken, access_token });
        grant.accessTokens.push(access_token);
      } finally {
        grant.busy = false;
      }
    },
  ],
  [
    1,
    async (pools) => {
      const grant = pick(acknowledged.grants.filter((g) => !g.busy));
      if (!grant) return;
      // Out of the live set before the request: unknown until acknowledged.
      acknowledged.grants.splice(acknowledged.grants.indexOf(grant), 1);
      const reply = await send(pools.tpp, 'POST', '/revoke', {
        form: { token: grant.refreshToken, token_type_hint: 'refresh_token', client_id: grant.clientId },
      });
      if (reply.status !== 200) return;
      journalAppend({ revoked: grant.refreshToken });
      acknowledged.revoked.push(grant);
    },
  ],
];

function refresh(pools: Pools, grant: Grant): Promise<Reply> {
  return send(pools.tpp, 'POST', '/token', {
    form: { grant_type: 'refresh_token', client_id: grant.clientId, refresh_token: grant.refreshToken },
  });
}

const describe = (reply: Reply) => `${reply.status} ${reply.text.slice(0, 200)}`;

function weightedPick(point: number): (pools: Pools) => Promise<void> {
  let rest = point;
  for (const [weight, run] of actions) {
    rest -= weight;
    if (rest < 0) return run;
  }
  return actions.at(-1)![1];
}

/** Runs the mixed load until the server is killed, `killAfterMs` from now. */
async function loadThenKill(pools: Pools, server: Child, killAfterMs: number): Promise<void> {
  let running = true;
  const totalWeight = actions.reduce((sum, [w]) => sum + w, 0);
  const worker = async () => {
    while (running) {
      const action = weightedPick(Math.random() * totalWeight);
      try {
        await action(pools);
      } catch (err) {
        // A violation seen while the server is up is real; anything else is the kill.
        if (err instanceof InvariantViolation && running) throw err;
      }
    }
  };
  const workers = Promise.all(Array.from({ length: WORKERS }, worker));
  await Promise.race([workers, new Promise((resolve) => setTimeout(resolve, killAfterMs))]);
  await server.kill();
  running = false;
  await workers;
}

// ---- the invariants -----------------------------------------------------------------------------

/** The newest few (written just before a kill) and a random few others. */
function sample<T>(xs: T[], size = SAMPLE): T[] {
  const newest = xs.slice(-size);
  const older = xs.slice(0, -size);
  const picked = new Set<T>(newest);
  for (let i = 0; i < size && older.length > 0; i++) picked.add(pick(older)!);
  return [...picked];
}

function expect(condition: boolean, what: string, reply: Reply): void {
  if (!condition) throw new InvariantViolation(`${what}: ${describe(reply)}`);
}

async function checkInvariants(pools: Pools, introspection: Record<string, string>): Promise<void> {
  for (const [clientId, token] of sample([...acknowledged.clients])) {
    const reply = await send(pools.tpp, 'GET', `/register/${clientId}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(reply.status === 200, `acknowledged registration ${clientId} lost`, reply);
  }
  for (const [clientId, token] of sample([...acknowledged.deletedClients])) {
    const reply = await send(pools.tpp, 'GET', `/register/${clientId}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(reply.status === 401, `acknowledged deletion of ${clientId} undone`, reply);
  }
  for (const grant of sample(acknowledged.grants)) {
    const reply = await refresh(pools, grant);
    expect(reply.status === 200, 'acknowledged refresh token no longer refreshes', reply);
  }
  for (const grant of sample(acknowledged.revoked)) {
    const reply = await refresh(pools, grant);
    expect(reply.status === 400 && reply.json().error === 'invalid_grant', 'revoked refresh token refreshes', reply);
    for (const token of grant.accessTokens) {
      const inspected = await send(pools.anonymous, 'POST', '/introspect', { form: { token }, headers: introspection });
      expect(inspected.text === '{"active":false}', 'access token of a revoked grant still active', inspected);
    }
  }
  // Few codes: replaying one revokes its grant, which leaves fewer live grants to check.
  for (const { clientId, issued, grant } of sample(acknowledged.redeemedCodes, 3)) {
    const reply = await redeemCode(pools.tpp, clientId, REDIRECT_URI, issued);
    expect(reply.status === 400 && reply.json().error === 'invalid_grant', 'a redeemed code redeemed again', reply);
    // A second use of a code revokes what it issued (RFC 9700 §4.5): from now on a revoked grant.
    const live = acknowledged.grants.indexOf(grant);
    if (live >= 0) {
      acknowledged.grants.splice(live, 1);
      acknowledged.revoked.push(grant);
    }
  }
}

async function raceOneCode(pools: Pools): Promise<void> {
  const clientId = acknowledged.tokenClients[0]!;
  const issued = await obtainCode(pools.anonymous, clientId, REDIRECT_URI);
  const replies = await Promise.all(
    Array.from({ length: 8 }, () => redeemCode(pools.tpp, clientId, REDIRECT_URI, issued)),
  );
  const winners = replies.filter((r) => r.status === 200).length;
  const refused = replies.filter((r) => r.status === 400 && r.json().error === 'invalid_grant').length;
  if (winners !== 1 || refused !== 7) {
    throw new InvariantViolation(`8 concurrent redemptions of one code: ${replies.map((r) => r.status).join(', ')}`);
  }
}

// ---- main ---------------------------------------------------------------------------------------

function withLimit<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function main(): Promise<number> {
  const pki = await createBenchPki(dataDir);
  const introspection = resourceServer();
  const started = Date.now();
  for (let cycle = 1; cycle <= CYCLES; cycle++) {
    const t0 = Date.now();
    let timings = '';
    await withLimit(
      (async () => {
        const server = await startServer(pki);
        const startedIn = Date.now() - t0;
        const pools = {
          tpp: connectionPool(origin, pki, WORKERS, true),
          anonymous: connectionPool(origin, pki, WORKERS, false),
        };
        try {
          if (cycle === 1) {
            for (let i = 0; i < 3; i++) {
              const client = await register(pools);
              if (!client) throw new Error('cannot register the token clients');
              journalAppend({ registered: client.clientId, token: client.token, forTokens: true });
              acknowledged.tokenClients.push(client.clientId);
            }
          }
          await checkInvariants(pools, introspection);
          if (cycle === 1 || cycle % 10 === 0) await raceOneCode(pools);
          const loadMs = 300 + Math.random() * 2700;
          await loadThenKill(pools, server, loadMs);
          timings = `start ${startedIn} ms, load ${loadMs.toFixed(0)} ms`;
        } finally {
          await server.kill();
          await Promise.all([pools.tpp.destroy(), pools.anonymous.destroy()]);
        }
        await integrityCheck();
      })(),
      CYCLE_LIMIT_MS,
      `cycle ${cycle}`,
    );
    log(
      `cycle ${String(cycle).padStart(4)}/${CYCLES}  ${Date.now() - t0} ms (${timings})  clients ${acknowledged.clients.size}  deleted ${acknowledged.deletedClients.size}  grants ${acknowledged.grants.length}  revoked ${acknowledged.revoked.length}  codes ${acknowledged.redeemedCodes.length}`,
    );
  }
  // A last restart: what the final kill left must hold too.
  const server = await startServer(pki);
  const pools = { tpp: connectionPool(origin, pki, 2, true), anonymous: connectionPool(origin, pki, 2, false) };
  try {
    await withLimit(checkInvariants(pools, introspection), CYCLE_LIMIT_MS, 'final check');
  } finally {
    await server.stop();
    await Promise.all([pools.tpp.destroy(), pools.anonymous.destroy()]);
  }
  log(
    `ok (${flags.database}): ${CYCLES} SIGKILL cycles in ${((Date.now() - started) / 1000).toFixed(0)} s, every acknowledged outcome held`,
  );
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
  log(`journal ${journalPath}, server log ${serverLog} (kept)`);
  flags.keep = true;
} finally {
  closeSync(journal);
  if (!flags.keep) rmSync(work, { recursive: true, force: true });
  cluster?.stop();
}
process.exit(code);
