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
//
// Payment authorisations (issue 13) ride the same load: the bank's resource server registers them
// over the back channel, the PSU approves some on the sandbox payment page, the PISP redeems the
// code, and the bank consumes each with CONSUMERS concurrent callers, also in a burst fired just
// before the SIGKILL; consumes whose outcome the kill hid are hammered again after the restart.
// Checked after every restart: a registration acknowledged 201 exists with its payment_hash; an
// acknowledged authorisation (its token 200) is still `authorised`; a consume acknowledged 200 is
// `consumed`, a further consume gets 409 and its access token introspects inactive; and over the
// whole run no authorisation ever got two 200s from consume.
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
import { approvePayment, benchPayment, registerPayment } from './psd2-payment.ts';
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
/** Concurrent consume calls per payment authorisation: exactly one may get 200. */
const CONSUMERS = 4;

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
  /** The PISP client the payment authorisations are registered for. */
  pispClient: '',
  /** Registrations acknowledged 201. */
  payments: [] as Payment[],
  /** Consumes acknowledged 200. */
  consumed: [] as Payment[],
};

/**
 * A payment authorisation the server acknowledged (201). `stage` is what the client knows:
 * `registered`; `authorised` once the token for it was acknowledged; `consumed` once a consume got
 * 200; `in-doubt` when every consume call of a round failed (the kill): it is hammered again after
 * the restart; `busy` while a step is in flight, `unknown` when a step other than consume was cut.
 */
interface Payment {
  authorizationId: string;
  paymentHash: string;
  href: string;
  accessToken?: string;
  stage: 'registered' | 'authorised' | 'consumed' | 'in-doubt' | 'busy' | 'unknown';
}

/** Every 200 a consume ever got, per authorisation id, before and after every restart. */
const consumeSuccesses = new Map<string, number>();
let consumeCalls = 0;
/** In-doubt consumes found committed after the restart (their 200 was lost with the kill). */
let hiddenCommits = 0;
let inDoubt = 0;
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
  [1, registerOnePayment],
  [1, authoriseOnePayment],
  [1, consumeOnePayment],
];

// ---- payment authorisations ---------------------------------------------------------------------

/** The resource server's Basic credentials: introspection and the payment back channel. */
let resourceServerAuth: Record<string, string> = {};
let paymentCounter = 0;

async function registerOnePayment(pools: Pools): Promise<void> {
  const resourceId = `crash-${process.pid}-${++paymentCounter}`;
  const reply = await registerPayment(
    pools.anonymous,
    resourceServerAuth,
    acknowledged.pispClient,
    resourceId,
    benchPayment(100 + paymentCounter),
  );
  if (reply.status !== 201) return;
  const { authorization_id, payment_hash, consent_approval_href } = reply.json();
  journalAppend({ payment_registered: authorization_id, payment_hash });
  acknowledged.payments.push({
    authorizationId: authorization_id,
    paymentHash: payment_hash,
    href: consent_approval_href,
    stage: 'registered',
  });
}

async function authoriseOnePayment(pools: Pools): Promise<void> {
  const payment = pick(acknowledged.payments.filter((p) => p.stage === 'registered'));
  if (!payment) return;
  // Until its token is acknowledged, the authorisation's fate is unknown: it is left alone.
  payment.stage = 'unknown';
  const issued = await approvePayment(pools.anonymous, payment.href, REDIRECT_URI);
  const reply = await redeemCode(pools.tpp, acknowledged.pispClient, REDIRECT_URI, issued);
  if (reply.status !== 200) return;
  const { access_token } = reply.json();
  journalAppend({ payment_authorised: payment.authorizationId, access_token });
  payment.accessToken = access_token;
  payment.stage = 'authorised';
}

/**
 * CONSUMERS concurrent consume calls on one authorisation, every 200 counted. Settled: `consumed`
 * when one got 200; when none did and some calls failed (the kill), `in-doubt`; when all answered
 * and none got 200, the consume was lost (or, for one in doubt, it had been committed before a kill
 * hid its answer, which the status then shows).
 */
async function consumeConcurrently(pools: Pools, payment: Payment): Promise<void> {
  const wasInDoubt = payment.stage === 'in-doubt';
  payment.stage = 'busy';
  const path = `/payment-authorizations/${payment.authorizationId}/consume`;
  consumeCalls += CONSUMERS;
  const results = await Promise.allSettled(
    Array.from({ length: CONSUMERS }, () => send(pools.anonymous, 'POST', path, { headers: resourceServerAuth })),
  );
  const replies = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const wins = replies.filter((r) => r.status === 200).length;
  if (wins > 0) {
    const total = (consumeSuccesses.get(payment.authorizationId) ?? 0) + wins;
    consumeSuccesses.set(payment.authorizationId, total);
    journalAppend({ payment_consumed: payment.authorizationId, successes: total });
    payment.stage = 'consumed';
    acknowledged.consumed.push(payment);
    if (total > 1)
      throw new InvariantViolation(`payment authorisation ${payment.authorizationId} consumed ${total} times`);
  }
  for (const reply of replies) {
    if (reply.status !== 200 && reply.status !== 409)
      throw new InvariantViolation(`consume of an authorised payment: ${describe(reply)}`);
  }
  if (wins > 0) return;
  if (replies.length < results.length) {
    inDoubt++;
    payment.stage = 'in-doubt';
    return;
  }
  // Every call answered 409 and none 200: only an earlier, hidden commit explains it.
  const status = await send(pools.anonymous, 'GET', `/payment-authorizations/${payment.authorizationId}`, {
    headers: resourceServerAuth,
  });
  if (!wasInDoubt || status.status !== 200 || status.json().status !== 'consumed')
    throw new InvariantViolation(`${CONSUMERS} consumes of an authorised payment, none 200: ${describe(status)}`);
  hiddenCommits++;
  payment.stage = 'consumed';
  acknowledged.consumed.push(payment);
}

async function consumeOnePayment(pools: Pools): Promise<void> {
  const payment = pick(acknowledged.payments.filter((p) => p.stage === 'authorised'));
  if (payment) await consumeConcurrently(pools, payment);
}

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
      // An action with nothing to do (or a pool already closed) settles in microtasks only: yield,
      // or the loop would starve the timers, the kill and the signal handlers.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const workers = Promise.all(Array.from({ length: WORKERS }, worker));
  const violations: unknown[] = [];
  let burst: Promise<void>[] = [];
  try {
    await Promise.race([workers, new Promise((resolve) => setTimeout(resolve, killAfterMs))]);
    // Consumes in flight at the kill: a burst on the authorised payments, then SIGKILL 0-20 ms
    // later, so that some are committed with their answers lost and some never reach the database.
    burst = acknowledged.payments
      .filter((p) => p.stage === 'authorised')
      .slice(0, 3)
      .map((p) =>
        consumeConcurrently(pools, p).catch((err) => {
          if (err instanceof InvariantViolation && running) violations.push(err);
        }),
      );
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    await server.kill();
  } finally {
    // Also when a worker found a violation: the others must stop, not spin on a dead server.
    running = false;
  }
  await Promise.all([workers, ...burst]);
  if (violations.length > 0) throw violations[0];
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
  await checkPayments(pools);
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

async function checkPayments(pools: Pools): Promise<void> {
  const read = async (payment: Payment) => {
    const reply = await send(pools.anonymous, 'GET', `/payment-authorizations/${payment.authorizationId}`, {
      headers: resourceServerAuth,
    });
    expect(reply.status === 200, `acknowledged payment authorisation ${payment.authorizationId} lost`, reply);
    expect(reply.json().payment_hash === payment.paymentHash, 'payment_hash changed', reply);
    return reply;
  };
  for (const payment of sample(acknowledged.payments)) await read(payment);
  for (const payment of sample(acknowledged.payments.filter((p) => p.stage === 'authorised'))) {
    const reply = await read(payment);
    expect(reply.json().status === 'authorised', 'acknowledged payment authorisation no longer authorised', reply);
  }
  // Consumes the kill hid: each either was committed (all 409 now, status consumed) or was not (one 200).
  for (const payment of acknowledged.payments.filter((p) => p.stage === 'in-doubt')) {
    await consumeConcurrently(pools, payment);
  }
  for (const payment of sample(acknowledged.consumed)) {
    const reply = await read(payment);
    expect(reply.json().status === 'consumed', `acknowledged consume of ${payment.authorizationId} lost`, reply);
    const again = await send(pools.anonymous, 'POST', `/payment-authorizations/${payment.authorizationId}/consume`, {
      headers: resourceServerAuth,
    });
    if (again.status === 200) consumeSuccesses.set(payment.authorizationId, 2);
    expect(again.status === 409, `payment authorisation ${payment.authorizationId} consumed twice`, again);
    if (payment.accessToken) {
      const inspected = await send(pools.anonymous, 'POST', '/introspect', {
        form: { token: payment.accessToken },
        headers: resourceServerAuth,
      });
      expect(inspected.text === '{"active":false}', 'access token of a consumed payment still active', inspected);
    }
  }
  const twice = [...consumeSuccesses].filter(([, n]) => n > 1);
  if (twice.length > 0) throw new InvariantViolation(`consumed more than once: ${JSON.stringify(twice)}`);
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
  resourceServerAuth = introspection;
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
            const pisp = await send(pools.tpp, 'POST', '/register', {
              json: { grant_types: ['client_credentials', 'authorization_code'], redirect_uris: [REDIRECT_URI] },
            });
            if (pisp.status !== 201) throw new Error(`cannot register the PISP client: ${describe(pisp)}`);
            acknowledged.pispClient = pisp.json().client_id;
            journalAppend({ registered: acknowledged.pispClient, forPayments: true });
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
      `cycle ${String(cycle).padStart(4)}/${CYCLES}  ${Date.now() - t0} ms (${timings})  clients ${acknowledged.clients.size}  deleted ${acknowledged.deletedClients.size}  grants ${acknowledged.grants.length}  revoked ${acknowledged.revoked.length}  codes ${acknowledged.redeemedCodes.length}  payments ${acknowledged.payments.length}/${acknowledged.payments.filter((p) => p.stage === 'authorised').length}/${acknowledged.consumed.length}`,
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
    `ok (${flags.database}): ${CYCLES} SIGKILL cycles in ${((Date.now() - started) / 1000).toFixed(0)} s, every acknowledged outcome held; payments: ${acknowledged.payments.length} registered, ${acknowledged.consumed.length} consumed by ${consumeCalls} concurrent consume calls (${inDoubt} rounds cut by the kill, ${hiddenCommits} of them committed unseen), none twice`,
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
