// Two instances on one PostgreSQL database, each its own process (`psd2-oauth serve`), as behind
// a load balancer: what one acknowledges, the other honours. Both share DATA_DIR's sandbox CA (the
// QWAC trust anchor) and TLS certificate, and one ISSUER, as two instances behind nginx would.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { ensureSandboxCa, ensureSandboxTls, sandboxPaths } from '../../server/pki/sandbox-files.ts';
import type { Psd2Role } from '../../server/protocol/scope-policy.ts';
import { type HttpResponse, request } from '../support/https.ts';
import { freshDatabase, testCluster } from '../support/postgres.ts';
import { productionEnv } from '../support/production.ts';
import { formOf, pkce, sessionCookie, tags } from '../support/psu.ts';
import type { TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/callback';
const ISSUER = 'https://as.psd2.localhost';
const CLI = fileURLToPath(new URL('../../server/bin.ts', import.meta.url));
const deno = 'Deno' in globalThis;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

interface Instance extends Pick<TestServer, 'url' | 'dataDir' | 'caPem'> {
  name: string;
  /** The PSU pages' listener: `url` unless the instance has a PSU_PORT (production). */
  psuUrl: string;
  child: ChildProcess;
  exited: Promise<unknown>;
}

function env(dataDir: string, databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    ISSUER,
    LOG_LEVEL: 'silent',
    ACCESS_TOKEN_SIGNING_THREADS: '0',
    ...extra,
  };
}

async function startInstance(
  name: string,
  dataDir: string,
  caPem: string,
  databaseUrl: string,
  extra: Record<string, string> = {},
): Promise<Instance> {
  const port = await freePort();
  const psuPort = extra.PSU_PORT !== undefined ? await freePort() : undefined;
  if (psuPort !== undefined)
    extra = { ...extra, PSU_PORT: String(psuPort), PSU_BASE_URL: `https://localhost:${psuPort}` };
  const child = spawn(process.execPath, deno ? ['run', '-A', CLI, 'serve'] : [CLI, 'serve'], {
    env: env(dataDir, databaseUrl, { ...extra, PORT: String(port) }),
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `https://localhost:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const up = await request(`${url}/health`, { ca: caPem }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`instance ${name} did not start`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const psuUrl = psuPort === undefined ? url : `https://localhost:${psuPort}`;
  return { name, url, psuUrl, dataDir, caPem, child, exited };
}

async function stopInstance(instance: Instance | undefined): Promise<void> {
  if (!instance || instance.child.exitCode !== null || instance.child.signalCode !== null) return;
  instance.child.kill('SIGKILL');
  await instance.exited;
}

/** `psd2-oauth …` against the shared database, as an operator would run it. */
function cli(
  dataDir: string,
  databaseUrl: string,
  args: string[],
  extra: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      deno ? ['run', '-A', CLI, ...args] : [CLI, ...args],
      { env: env(dataDir, databaseUrl, extra) },
      (error, stdout, stderr) => (error ? reject(new Error(`${args.join(' ')}: ${stderr}`)) : resolve(String(stdout))),
    );
  });
}

/** The TPP's calls, sent to the instance it names. */
function on(instance: Instance, tpp: Tpp) {
  return (method: string, path: string, body?: object | URLSearchParams) =>
    request(`${instance.url}${path}`, { ca: instance.caPem, cert: tpp.certChain, key: tpp.key, method, body });
}

function introspect(instance: Instance, rs: { client_id: string; client_secret: string }, token: string) {
  return request(`${instance.url}/introspect`, {
    ca: instance.caPem,
    method: 'POST',
    headers: { authorization: `Basic ${btoa(`${rs.client_id}:${rs.client_secret}`)}` },
    body: new URLSearchParams({ token }),
  }).then((r) => r.json() as { active: boolean });
}

/** The sandbox page fetched from one instance, its decision posted to the other. */
async function approveAcross(first: Instance, second: Instance, clientId: string, codeChallenge: string) {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'aisp',
    state: 'xyz',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
  });
  const page = await request(`${first.url}/authorize?${query}`, { ca: first.caPem });
  assert.equal(page.status, 200, page.text.slice(0, 200));
  const { action, csrf } = formOf(page.text);
  const inputs = tags(page.text, 'input');
  const body = new URLSearchParams({ csrf_token: csrf, decision: 'approve' });
  const accounts = inputs.filter((i) => i.name === 'account' && 'checked' in i);
  const persona = accounts[0]?.['data-persona'] ?? inputs.find((i) => i.name === 'persona' && 'checked' in i)?.value;
  if (persona) body.set('persona', persona);
  for (const account of accounts) body.append('account', account.value!);
  const decided: HttpResponse = await request(new URL(action, `${second.url}/authorize`).toString(), {
    ca: second.caPem,
    method: 'POST',
    headers: { cookie: sessionCookie(page) },
    body,
  });
  assert.equal(decided.status, 303, decided.text.slice(0, 300));
  const location = new URL(decided.header('location')!);
  assert.equal(location.searchParams.get('iss'), ISSUER);
  assert.equal(location.searchParams.get('state'), 'xyz');
  return location.searchParams.get('code')!;
}

const cluster = await testCluster();

describe('two instances on one PostgreSQL database', { skip: 'skip' in cluster ? cluster.skip : undefined }, () => {
  let dataDir: string;
  let caPem: string;
  let databaseUrl: string;
  let a: Instance;
  let b: Instance;
  let rs: { client_id: string; client_secret: string };
  const instances: Instance[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'psd2-oauth-two-'));
    await ensureSandboxTls(dataDir, await ensureSandboxCa(dataDir));
    caPem = readFileSync(sandboxPaths(dataDir).caCert, 'utf8');
    databaseUrl = await freshDatabase((cluster as { url: string }).url);
    a = await startInstance('A', dataDir, caPem, databaseUrl);
    b = await startInstance('B', dataDir, caPem, databaseUrl);
    instances.push(a, b);
    rs = JSON.parse(await cli(dataDir, databaseUrl, ['resource-server', 'add', 'Accounts API', '--json']));
  });
  after(async () => {
    for (const instance of instances) await stopInstance(instance);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function registered(roles: Psd2Role[], where: Instance) {
    const tpp = await makeTpp(where as unknown as TestServer, roles);
    const body = roles.includes('PSP_AI') ? { redirect_uris: [REDIRECT] } : {};
    const res = await on(where, tpp)('POST', '/register', body);
    assert.equal(res.status, 201, res.text);
    return { tpp, clientId: res.json().client_id as string, registrationToken: res.json().registration_access_token };
  }

  test('registered on A, a token on B; revoked on B, inactive on A within 100 ms', async () => {
    const { tpp, clientId } = await registered(['PSP_PI'], a);
    const tokenRes = await on(b, tpp)(
      'POST',
      '/token',
      new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: 'pisp' }),
    );
    assert.equal(tokenRes.status, 200, tokenRes.text);
    const token = tokenRes.json().access_token as string;
    assert.equal(decodeJwt(token).iss, ISSUER);
    // Each instance verifies the other's signature.
    assert.equal((await introspect(a, rs, token)).active, true);
    assert.equal((await introspect(b, rs, token)).active, true);
    const revoked = await on(b, tpp)('POST', '/revoke', new URLSearchParams({ token, client_id: clientId }));
    assert.equal(revoked.status, 200, revoked.text);
    const start = performance.now();
    for (;;) {
      if (!(await introspect(a, rs, token)).active) break;
      assert.ok(performance.now() - start < 100, 'A still says active 100 ms after B revoked');
    }
  });

  test('a PSU flow alternating instances: page on A, decision on B, code on A, refresh on B', async () => {
    const { tpp, clientId } = await registered(['PSP_AI'], b);
    const { codeVerifier, codeChallenge } = pkce();
    const code = await approveAcross(a, b, clientId, codeChallenge);
    const redeemed = await on(a, tpp)(
      'POST',
      '/token',
      new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: codeVerifier,
        client_id: clientId,
      }),
    );
    assert.equal(redeemed.status, 200, redeemed.text);
    const tokens = redeemed.json();
    assert.equal((await introspect(b, rs, tokens.access_token)).active, true);
    const refreshed = await on(b, tpp)(
      'POST',
      '/token',
      new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: clientId }),
    );
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal((await introspect(a, rs, refreshed.json().access_token)).active, true);
  });

  test('eight concurrent redemptions of one code over A and B: exactly one token, then the grant is revoked on both', async () => {
    const { tpp, clientId } = await registered(['PSP_AI'], a);
    const { codeVerifier, codeChallenge } = pkce();
    const code = await approveAcross(b, a, clientId, codeChallenge);
    const form = () =>
      new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: codeVerifier,
        client_id: clientId,
      });
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => on(i % 2 ? a : b, tpp)('POST', '/token', form())),
    );
    const statuses = answers.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 1, `statuses ${statuses}`);
    for (const r of answers.filter((r) => r.status !== 200)) assert.equal(r.json().error, 'invalid_grant');
    // The code presented again revokes what its one redemption issued (RFC 6749 §4.1.2), on both.
    const won = answers.find((r) => r.status === 200)!.json();
    assert.equal((await introspect(a, rs, won.access_token)).active, false);
    assert.equal((await introspect(b, rs, won.access_token)).active, false);
  });

  test('a client deleted on A is refused on B at once', async () => {
    const { tpp, clientId, registrationToken } = await registered(['PSP_PI'], a);
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, scope: 'pisp' });
    assert.equal((await on(b, tpp)('POST', '/token', form)).status, 200);
    const deleted = await request(`${a.url}/register/${clientId}`, {
      ca: caPem,
      cert: tpp.certChain,
      key: tpp.key,
      method: 'DELETE',
      headers: { authorization: `Bearer ${registrationToken}` },
    });
    assert.equal(deleted.status, 204, deleted.text);
    const start = performance.now();
    for (;;) {
      const res = await on(b, tpp)('POST', '/token', form);
      if (res.status === 401 || res.status === 400) break;
      assert.ok(performance.now() - start < 100, 'B still issues tokens 100 ms after the deletion on A');
    }
  });

  test('SIGKILL A under load: B keeps serving, and every registration A acknowledged is there', async () => {
    const acknowledged: { clientId: string; token: string; tpp: Tpp }[] = [];
    const failuresOnB: number[] = [];
    let running = true;
    const tpps = await Promise.all(Array.from({ length: 4 }, () => makeTpp(a as unknown as TestServer, ['PSP_PI'])));
    const load = tpps.map(async (tpp, i) => {
      const target = i % 2 ? a : b;
      while (running) {
        const res = await on(target, tpp)('POST', '/register', {}).catch(() => undefined);
        if (res?.status === 201) {
          acknowledged.push({ clientId: res.json().client_id, token: res.json().registration_access_token, tpp });
        } else if (target === b) {
          failuresOnB.push(res?.status ?? 0);
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    a.child.kill('SIGKILL');
    await a.exited;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    running = false;
    await Promise.all(load);
    assert.deepEqual(failuresOnB, [], 'B failed requests while A died');
    assert.ok(acknowledged.length > 4, `only ${acknowledged.length} registrations acknowledged`);
    for (const { clientId, token, tpp } of acknowledged) {
      const read = await request(`${b.url}/register/${clientId}`, {
        ca: caPem,
        cert: tpp.certChain,
        key: tpp.key,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(read.status, 200, `${clientId}: ${read.text}`);
    }
  });
});

describe('two production instances: lockout across instances', {
  skip: 'skip' in cluster ? cluster.skip : undefined,
}, () => {
  let dataDir: string;
  let databaseUrl: string;
  let production: Record<string, string>;
  const instances: Instance[] = [];

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'psd2-oauth-two-prod-'));
    production = { ...(await productionEnv(dataDir)), ISSUER };
    databaseUrl = await freshDatabase((cluster as { url: string }).url);
  });
  after(async () => {
    for (const instance of instances) await stopInstance(instance);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test('five failed logins spread over A and B block the PSU on both', async () => {
    const caPem = readFileSync(sandboxPaths(dataDir).caCert, 'utf8');
    const a = await startInstance('A', dataDir, caPem, databaseUrl, production);
    instances.push(a);
    const b = await startInstance('B', dataDir, caPem, databaseUrl, production);
    instances.push(b);
    await cli(dataDir, databaseUrl, ['psu', 'add', '--username', 'spread', '--name', 'Spread'], production);
    const tpp = await makeTpp(a as unknown as TestServer, ['PSP_AI']);
    const reg = await on(a, tpp)('POST', '/register', { redirect_uris: [REDIRECT] });
    assert.equal(reg.status, 201, reg.text);
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: reg.json().client_id,
      redirect_uri: REDIRECT,
      scope: 'aisp',
      code_challenge: pkce().codeChallenge,
      code_challenge_method: 'S256',
    });
    /** The login page from one instance, the password posted to the other: where it sends the PSU. */
    const login = async (first: Instance, second: Instance, password: string) => {
      const page = await request(`${first.psuUrl}/en/authorize?${query}`, { ca: caPem });
      assert.equal(page.status, 200, page.text.slice(0, 200));
      const { action, csrf } = formOf(page.text);
      const res = await request(new URL(action, `${second.psuUrl}/`).toString(), {
        ca: caPem,
        method: 'POST',
        headers: { cookie: sessionCookie(page) },
        body: new URLSearchParams({ csrf_token: csrf, username: 'spread', password }),
      });
      assert.equal(res.status, 303, res.text.slice(0, 200));
      return res.header('location')!;
    };
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) outcomes.push(await login(i % 2 ? a : b, i % 2 ? b : a, 'wrong password'));
    // The page never says which factor was wrong: four failures go on to the code page, the fifth
    // (counted on the other instance than the fourth) blocks.
    assert.ok(
      outcomes.slice(0, 4).every((l) => !/locked/.test(l)),
      outcomes.join(' '),
    );
    assert.match(outcomes[4]!, /retry=locked/);
    // Any password is now refused on both instances: the block is in the shared database.
    assert.match(await login(a, a, 'irrelevant'), /retry=locked/);
    assert.match(await login(b, b, 'irrelevant'), /retry=locked/);
  });
});
