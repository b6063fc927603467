// The log a bank's support and SIEM read: a request id in every line of a request, the OAuth error
// and its description on every 4xx, the TPP's client id and certificate thumbprint, PSU
// authentication events with a pseudonym; and, over a whole production flow, none of the secrets
// it used.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { pino } from 'pino';
import { accountCommandWith } from '../../server/cli/account.ts';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { loadConfig } from '../../server/config.ts';
import { startServer } from '../../server/main.ts';
import { sandboxPaths } from '../../server/pki/sandbox-files.ts';
import { currentTotp } from '../../server/protocol/psu-authentication.ts';
import { request } from '../support/https.ts';
import { addResourceServer, introspector, oauthError, REDIRECT_URI, withClient } from '../support/oauth-tpp.ts';
import { productionEnv } from '../support/production.ts';
import { authorizeUrl, formOf, pkce, sessionCookie, tags } from '../support/psu.ts';
import type { TestServer } from '../support/server.ts';
import { startTestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const PASSWORD = 'a long and secret passphrase';
const KEY = 'k'.repeat(40);

/** A production server whose log lines are kept, as objects. */
async function loggedServer(dataDir: string) {
  const lines: Record<string, unknown>[] = [];
  let text = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  // oauth4webapi discovers from the issuer: it must name the port.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const env = {
    ...(await productionEnv(dataDir)),
    DATA_DIR: dataDir,
    PORT: String(port),
    ISSUER: `https://localhost:${port}`,
    LOG_PSEUDONYM_KEY: KEY,
  };
  const config = loadConfig(env);
  const server = await startServer(config, { logger: pino({ level: 'info' }, sink) });
  const caPem = readFileSync(sandboxPaths(dataDir).caCert, 'utf8');
  const s: TestServer = {
    server,
    url: server.url,
    psuUrl: server.psuUrl,
    dataDir,
    caPem,
    get: (path, options = {}) => request(`${server.url}${path}`, { ca: caPem, ...options }),
    post: (path, options = {}) => request(`${server.url}${path}`, { ca: caPem, method: 'POST', ...options }),
    close: () => server.close(),
  };
  return { s, config, lines, log: () => text };
}

test('a production flow: request ids, errors, TPP identity, PSU events, and not one secret in the log', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'psd2-oauth-logs-'));
  const { s, config, lines, log } = await loggedServer(dataDir);
  const secrets: Record<string, string> = { password: PASSWORD };
  try {
    let out = '';
    const io = {
      out: (t: string) => {
        out += t;
      },
      readStdin: async () => `${PASSWORD}\n`,
    };
    await psuCommandWith(
      ['add', '--username', 'jdupont', '--name', 'Jean Dupont', '--password-stdin', '--json'],
      config,
      io,
    );
    const psu = JSON.parse(out);
    secrets.totp_secret = psu.totp_secret;
    secrets.psu_id = psu.psu_id;
    await accountCommandWith(
      ['add', '--username', 'jdupont', '--iban', 'FR7630006000011234567890189', '--name', 'Compte'],
      config,
      { out: () => {} },
    );

    const holder = await makeTpp(s, ['PSP_AI']);
    const registered = await holder.call('POST', '/register', { body: { redirect_uris: [REDIRECT_URI] } });
    assert.equal(registered.status, 201, registered.text);
    secrets.registration_access_token = registered.json().registration_access_token;
    const tpp = await withClient(s, holder, registered.json().client_id);
    const rs = await addResourceServer(s, 'accounts-api');
    secrets.rs_secret = rs.client_secret;

    // The PSU: one failed attempt (wrong password), then password and one-time code, then consent.
    const { codeVerifier, codeChallenge } = pkce();
    secrets.code_verifier = codeVerifier;
    const url = authorizeUrl(s, {
      clientId: tpp.clientId,
      redirectUri: REDIRECT_URI,
      scope: 'aisp',
      codeChallenge,
      state: 'st',
      lang: 'en',
    });
    let page = await request(url, { ca: s.caPem });
    const cookie = sessionCookie(page);
    const submit = async (fields: Record<string, string>) => {
      const { action, csrf } = formOf(page.text);
      return request(new URL(action, s.psuUrl).toString(), {
        ca: s.caPem,
        method: 'POST',
        headers: { cookie },
        body: new URLSearchParams({ csrf_token: csrf, ...fields }),
      });
    };
    const go = async (path: string) => {
      page = await request(new URL(path, s.psuUrl).toString(), { ca: s.caPem, headers: { cookie } });
      return page;
    };
    const attempt = async (password: string, otp: string) => {
      const login = await submit({ username: 'jdupont', password });
      await go(login.header('location') as string);
      return submit({ otp });
    };
    const failed = await attempt('not the password', '000000');
    await go(failed.header('location') as string);
    const otp = currentTotp(psu.totp_secret);
    secrets.otp = otp;
    const sca = await attempt(PASSWORD, otp);
    await go(sca.header('location') as string);
    const account = tags(page.text, 'input').find((i) => i.name === 'account')?.value as string;
    const done = await submit({ decision: 'approve', account });
    const redirect = new URL(done.header('location') as string);
    secrets.code = redirect.searchParams.get('code') as string;
    assert.ok(secrets.code, done.text);

    const params = oauth.validateAuthResponse(tpp.as, tpp.client, redirect, 'st');
    const tokens = await oauth.processAuthorizationCodeResponse(
      tpp.as,
      tpp.client,
      await oauth.authorizationCodeGrantRequest(
        tpp.as,
        tpp.client,
        tpp.auth,
        params,
        REDIRECT_URI,
        codeVerifier,
        tpp.options,
      ),
    );
    secrets.access_token = tokens.access_token;
    secrets.refresh_token = tokens.refresh_token as string;
    const refreshed = await oauth.processRefreshTokenResponse(
      tpp.as,
      tpp.client,
      await oauth.refreshTokenGrantRequest(tpp.as, tpp.client, tpp.auth, secrets.refresh_token, tpp.options),
    );
    secrets.refreshed_access_token = refreshed.access_token;
    assert.equal((await (await introspector(s, rs))(refreshed.access_token)).active, true);
    await oauth.revocationRequest(tpp.as, tpp.client, tpp.auth, secrets.refresh_token, tpp.options);
    const stranger = await withClient(s, holder, 'no-such-client');
    const refused = await oauthError(
      oauth
        .clientCredentialsGrantRequest(stranger.as, stranger.client, stranger.auth, {}, stranger.options)
        .then((r) => oauth.processClientCredentialsResponse(stranger.as, stranger.client, r)),
    );
    assert.equal(refused.error, 'invalid_client');
  } finally {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  }

  // Every request has its own id, in every line written while serving it.
  const requests = lines.filter((l) => l.msg === 'request');
  assert.ok(requests.length >= 12, `${requests.length} requests`);
  const ids = new Set(requests.map((l) => l.request_id));
  assert.equal(ids.size, requests.length);
  for (const id of ids) assert.match(String(id), /^[0-9a-f-]{36}$/);

  // A 4xx says what the client was told; TPP calls carry the client and the certificate thumbprint.
  const unauthorized = requests.find((l) => l.path === '/token' && l.status === 401);
  assert.ok(unauthorized);
  assert.equal(unauthorized.error, 'invalid_client');
  assert.match(String(unauthorized.error_description), /client_id is unknown/);
  assert.match(String(unauthorized.tpp_thumbprint), /^[A-Za-z0-9_-]{43}$/);
  const token = requests.find((l) => l.path === '/token' && l.status === 200);
  assert.ok(token?.client_id && token.tpp_thumbprint && token.tpp_organization);

  // PSU authentication events: pseudonymised, in the request's lines.
  const psuId = lines.find((l) => l.psu_event && l.psu)?.psu;
  const events = lines.filter((l) => l.psu_event).map((l) => l.psu_event);
  assert.deepEqual(
    events.filter((e) => e !== 'session.started'),
    ['login.failed', 'sca.failed', 'login.succeeded', 'sca.succeeded', 'consent.granted'],
  );
  const failedLine = lines.find((l) => l.psu_event === 'login.failed');
  assert.equal(failedLine?.level, 40, 'a failure is a warning');
  assert.ok(ids.has(failedLine?.request_id), 'the event carries the request id');
  assert.equal(
    psuId,
    createHmac('sha256', KEY)
      .update(secrets.psu_id as string)
      .digest('base64url')
      .slice(0, 22),
  );

  // Not one secret of the flow, not the PSU's id.
  const text = log();
  assert.equal(lines.find((l) => l.psu_event === 'login.succeeded')?.psu, psuId, 'the same PSU, the same pseudonym');
  for (const [name, value] of Object.entries(secrets)) {
    assert.ok(value && value.length >= 6, name);
    assert.equal(text.includes(value), false, `${name} is in the log`);
  }
});

test('X-Request-Id: honoured from a trusted proxy, replaced from anyone else, always returned', async () => {
  const trusting = await startTestServer({ TRUSTED_PROXIES: '127.0.0.1' });
  const other = await startTestServer();
  try {
    const honoured = await trusting.get('/health/live', { headers: { 'x-request-id': 'lb-1234' } });
    assert.equal(honoured.header('x-request-id'), 'lb-1234');
    const malformed = await trusting.get('/health/live', { headers: { 'x-request-id': 'has spaces\tand tabs' } });
    assert.match(malformed.header('x-request-id') as string, /^[0-9a-f-]{36}$/);
    const untrusted = await other.get('/health/live', { headers: { 'x-request-id': 'lb-1234' } });
    assert.match(untrusted.header('x-request-id') as string, /^[0-9a-f-]{36}$/);
    const error = await other.get('/nowhere');
    assert.match(error.header('x-request-id') as string, /^[0-9a-f-]{36}$/, 'on errors too');
  } finally {
    await trusting.close();
    await other.close();
  }
});
