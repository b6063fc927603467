import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { accountCommandWith } from '../../server/cli/account.ts';
import { psuCommandWith } from '../../server/cli/psu.ts';
import type { Config } from '../../server/config.ts';
import { currentTotp } from '../../server/protocol/psu-authentication.ts';
import { secretDigest } from '../../server/protocol/secrets.ts';
import { type HttpResponse, request } from '../support/https.ts';
import { productionEnv, startProductionServer } from '../support/production.ts';
import { authorizeUrl, formOf, pkce, sessionCookie, tags } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/callback';
const PASSWORD = 'correct horse battery staple';

async function cli(
  command: typeof psuCommandWith | typeof accountCommandWith,
  config: Config,
  args: string[],
  stdin = '',
) {
  let out = '';
  const code = await command(args, config, {
    out: (t) => {
      out += t;
    },
    readStdin: async () => stdin,
  });
  assert.equal(code, 0, out);
  return out;
}

/** A browser without JavaScript: follows one page at a time, keeps the cookie. */
class Psu {
  cookie = '';
  page: HttpResponse | undefined;
  readonly s: TestServer;
  constructor(s: TestServer) {
    this.s = s;
  }
  async open(url: string) {
    this.page = await request(url, { ca: this.s.caPem });
    if (this.page.headers['set-cookie']) this.cookie = sessionCookie(this.page);
    return this.page;
  }
  async get(path: string) {
    this.page = await request(`${this.s.psuUrl}${path}`, { ca: this.s.caPem, headers: { cookie: this.cookie } });
    return this.page;
  }
  async submit(fields: Record<string, string | string[]>, options: { csrf?: boolean } = {}) {
    const { action, csrf } = formOf(this.page!.text);
    const body = new URLSearchParams();
    if (options.csrf !== false) body.set('csrf_token', csrf);
    for (const [k, v] of Object.entries(fields)) for (const value of [v].flat()) body.append(k, value);
    return request(`${this.s.psuUrl}${action}`, {
      ca: this.s.caPem,
      method: 'POST',
      headers: { cookie: this.cookie },
      body,
    });
  }
  /** Login then one-time code; returns the response to the code. */
  async authenticate(username: string, password: string, otp: string) {
    const login = await this.submit({ username, password });
    assert.equal(login.status, 303, login.text);
    const otpPath = login.header('location')!;
    assert.match(otpPath, /\/authorize\/otp$/, 'always on to the code, right password or not');
    await this.get(otpPath);
    return this.submit({ otp });
  }
  /** "Cancel and return to the TPP" on the current page: its own form, with the CSRF token only. */
  async cancel(options: { csrf?: boolean } = {}) {
    const forms = tags(this.page!.text, 'form');
    const action = forms.find((f) => f.action?.endsWith('/authorize/cancel'))?.action;
    assert.ok(action, 'the page has a way out');
    assert.equal(forms.length, 2, 'the way out is a form of its own');
    const body = new URLSearchParams(options.csrf === false ? {} : { csrf_token: formOf(this.page!.text).csrf });
    return request(`${this.s.psuUrl}${action}`, {
      ca: this.s.caPem,
      method: 'POST',
      headers: { cookie: this.cookie },
      body,
    });
  }
}

describe('authorization endpoint, production mode: login, SCA, consent', () => {
  let s: TestServer;
  let config: Config;
  let dataDir: string;
  let clientId: string;
  const secrets: Record<string, string> = {};
  before(async () => {
    ({ server: s, config, dataDir } = await startProductionServer({ PSU_LOCKOUT_DURATION: '600' }));
    for (const username of ['jdupont', 'mlocked', 'replay', 'idle', 'leaver']) {
      const out = await cli(
        psuCommandWith,
        config,
        ['add', '--username', username, '--name', `PSU ${username}`, '--password-stdin'],
        `${PASSWORD}\n`,
      );
      secrets[username] = /^totp_secret: (\w+)$/m.exec(out)![1]!;
      assert.match(out, /^totp_uri: otpauth:\/\/totp\//m);
      assert.doesNotMatch(out, /password:/, 'a password given on stdin is not echoed');
      await cli(accountCommandWith, config, [
        'add',
        '--username',
        username,
        '--iban',
        'FR7630006000011234567890189',
        '--name',
        'Compte Chèques',
      ]);
      await cli(accountCommandWith, config, [
        'add',
        '--username',
        username,
        '--iban',
        'FR4030006000019876543210142',
        '--name',
        'Livret A',
        '--type',
        'savings',
      ]);
    }
    const tpp = await makeTpp(s, ['PSP_AI']);
    const reg = await tpp.call('POST', '/register', { body: { redirect_uris: [REDIRECT], client_name: 'Acme' } });
    assert.equal(reg.status, 201, reg.text);
    clientId = reg.json().client_id;
  });
  after(async () => {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const url = (state = 'st') =>
    authorizeUrl(s, {
      clientId,
      redirectUri: REDIRECT,
      scope: 'aisp extended_transaction_history',
      state,
      codeChallenge: pkce().codeChallenge,
      lang: 'en',
    });

  /** The PSU's authentication log as the bank reads it: `psu events PSU_ID --json`. */
  const eventsOf = async (psuId: string) =>
    JSON.parse(await cli(psuCommandWith, config, ['events', psuId, '--json'])) as {
      session_id: string;
      event: string;
      detail: Record<string, unknown> | null;
    }[];
  const psuNamed = async (username: string) => {
    const psu = await (await s.stores!()).authorization.psus.findByUsername(username);
    assert.ok(psu, username);
    return psu;
  };

  test('no sandbox personas in production; the login page asks for identifier and password', async () => {
    assert.deepEqual(await (await s.stores!()).authorization.psus.list({ sandbox: true }), []);
    const psu = new Psu(s);
    const page = await psu.open(url());
    assert.equal(page.status, 200, page.text);
    const names = tags(page.text, 'input').map((i) => i.name);
    assert.deepEqual(names, ['csrf_token', 'username', 'password', 'csrf_token'], 'the login form, then the way out');
    assert.ok(page.text.includes('<label class="field" for="password">Password</label>'));
    const far = await psu.get('/en/authorize/login?retry=locked&until=99999999999999999');
    assert.equal(far.status, 200, 'a lock end beyond what a Date holds is left out, not a 500');
  });

  test('password, TOTP, then the PSU picks accounts: consent, code, SCA time recorded, every step logged', async () => {
    const psu = new Psu(s);
    await psu.open(url('prod-state'));
    const sca = await psu.authenticate('jdupont', PASSWORD, currentTotp(secrets.jdupont!));
    assert.equal(sca.status, 303);
    assert.match(sca.header('location')!, /\/en\/authorize\/consent$/);
    const consent = await psu.get(sca.header('location')!);
    assert.equal(consent.status, 200, consent.text);
    const accounts = tags(consent.text, 'input').filter((i) => i.name === 'account');
    assert.equal(accounts.length, 2);
    assert.ok(
      accounts.every((a) => !('checked' in a)),
      'the PSU chooses: nothing preselected',
    );
    assert.ok(consent.text.includes('older than 90 days'));

    const done = await psu.submit({ decision: 'approve', account: accounts[1]!.value! });
    assert.equal(done.status, 303);
    const location = new URL(done.header('location')!);
    assert.equal(location.searchParams.get('state'), 'prod-state');
    assert.equal(location.searchParams.get('iss'), 'https://localhost');
    assert.ok(location.searchParams.get('code'));

    const stores = await s.stores!();
    const { psuId } = await psuNamed('jdupont');
    const [row, ...others] = await stores.authorization.consents.list({ psuId });
    assert.equal(others.length, 0);
    assert.deepEqual(row!.accountIds, [accounts[1]!.value]);
    assert.equal(row!.scope, 'aisp extended_transaction_history');
    const lastSca = (await stores.permissions.lastScaTimes(psuId)).get(clientId);
    assert.ok(lastSca !== undefined && lastSca <= Date.now() && lastSca > Date.now() - 60_000);
    const events = await eventsOf(psuId);
    assert.deepEqual(
      events.map((e) => e.event),
      ['session.started', 'login.succeeded', 'sca.succeeded', 'consent.granted'],
    );
    assert.equal(new Set(events.map((e) => e.session_id)).size, 1, 'keyed by one session');
  });

  test('a used TOTP code is refused the second time (RTS art. 4(1))', async () => {
    const code = currentTotp(secrets.replay!);
    const first = new Psu(s);
    await first.open(url());
    assert.match((await first.authenticate('replay', PASSWORD, code)).header('location')!, /consent$/);
    const second = new Psu(s);
    await second.open(url());
    assert.match((await second.authenticate('replay', PASSWORD, code)).header('location')!, /login\?retry=failed$/);
  });

  test('a failure does not say which element was wrong', async () => {
    const messages: string[] = [];
    for (const [user, password, otp] of [
      ['jdupont', 'wrong password', currentTotp(secrets.jdupont!)],
      ['jdupont', PASSWORD, '000000'],
      ['nobody', PASSWORD, '123456'],
    ] as const) {
      const psu = new Psu(s);
      await psu.open(url());
      const res = await psu.authenticate(user, password, otp);
      assert.equal(res.status, 303);
      const page = await psu.get(res.header('location')!);
      messages.push(/<p class="alert" role="alert">([^<]*)<\/p>/.exec(page.text)![1]!);
    }
    assert.equal(new Set(messages).size, 1, messages.join(' | '));
  });

  test('CSRF token missing on the login form: 403, nothing checked', async () => {
    const psu = new Psu(s);
    await psu.open(url());
    const res = await psu.submit({ username: 'jdupont', password: PASSWORD }, { csrf: false });
    assert.equal(res.status, 403);
  });

  test('"Cancel and return" on the login, one-time code and consent pages: access_denied with state and iss', async () => {
    const cancelled = async (psu: Psu, state: string, step: string) => {
      assert.match(psu.page!.text, /Cancel and return to Acme/, step);
      const res = await psu.cancel();
      assert.equal(res.status, 303, `${step}: ${res.text}`);
      const location = new URL(res.header('location')!);
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
      assert.equal(location.searchParams.get('error'), 'access_denied', step);
      assert.equal(location.searchParams.get('state'), state, step);
      assert.equal(location.searchParams.get('iss'), s.server.issuer, step);
      assert.equal(location.searchParams.get('code'), null);
      const again = await psu.cancel();
      assert.equal(again.status, 409, `${step}: the session has ended`);
      // Cancelled at the login, the session has no PSU yet: the client's events are read.
      const cancelled = (await (await s.stores!()).authorization.events.list({ clientId })).filter(
        (e) => e.event === 'session.cancelled',
      );
      assert.deepEqual(cancelled.at(-1)?.detail, { at: step });
    };

    const atLogin = new Psu(s);
    await atLogin.open(url('leave-at-login'));
    const forged = await atLogin.cancel({ csrf: false });
    assert.equal(forged.status, 403, 'the way out needs the CSRF token too');
    await cancelled(atLogin, 'leave-at-login', 'login');

    const atSca = new Psu(s);
    await atSca.open(url('leave-at-sca'));
    const login = await atSca.submit({ username: 'leaver', password: PASSWORD });
    await atSca.get(login.header('location')!);
    await cancelled(atSca, 'leave-at-sca', 'sca');

    const atConsent = new Psu(s);
    await atConsent.open(url('leave-at-consent'));
    const sca = await atConsent.authenticate('leaver', PASSWORD, currentTotp(secrets.leaver!));
    await atConsent.get(sca.header('location')!);
    await cancelled(atConsent, 'leave-at-consent', 'consent');
    const { psuId } = await psuNamed('leaver');
    const consents = await (await s.stores!()).authorization.consents.list({ psuId });
    assert.equal(consents.length, 0, 'leaving grants nothing');
  });

  test('the session ends after 5 minutes of inactivity: redirected with access_denied', async () => {
    const psu = new Psu(s);
    await psu.open(url('idle-state'));
    // Five minutes and a second pass, as the session store sees it: its last activity moved back.
    const digest = await secretDigest(psu.cookie.slice(psu.cookie.indexOf('=') + 1));
    const { sessions } = (await s.stores!()).authorization;
    const session = await sessions.find(digest);
    assert.ok(session, 'the session cookie names a stored session');
    assert.equal(await sessions.advance(digest, session.stage, { lastSeenAt: session.lastSeenAt - 301_000 }), true);
    const res = await psu.submit({ username: 'idle', password: PASSWORD });
    assert.equal(res.status, 303);
    const location = new URL(res.header('location')!);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('state'), 'idle-state');
  });

  test('5 wrong passwords or codes block the PSU, and the block survives a restart', async () => {
    const attempt = async (password: string, otp: string) => {
      const psu = new Psu(s);
      await psu.open(url());
      const res = await psu.authenticate('mlocked', password, otp);
      return (await psu.get(res.header('location')!)).text;
    };
    for (let i = 0; i < 3; i++) assert.ok((await attempt('bad', '111111')).includes('Authentication failed'));
    for (let i = 0; i < 2; i++) await attempt(PASSWORD, '111111');
    const locked = await psuNamed('mlocked');
    assert.equal(locked.failedAttempts, 5);
    assert.ok(locked.lockedUntil !== null && locked.lockedUntil > Date.now() + 590_000);
    const events = await eventsOf(locked.psuId);
    assert.equal(events.filter((e) => e.event === 'psu.locked').length, 1);

    // The same database again (on PostgreSQL the test server would otherwise get a fresh one).
    const database: Record<string, string> = s.databaseUrl ? { DATABASE_URL: s.databaseUrl } : {};
    await s.close();
    s = await startTestServer(
      { ...(await productionEnv(dataDir, { PSU_LOCKOUT_DURATION: '600' })), ...database },
      dataDir,
    );
    const psu = new Psu(s);
    await psu.open(url());
    const login = await psu.submit({ username: 'mlocked', password: PASSWORD });
    assert.match(login.header('location')!, /retry=locked/);
    const page = await psu.get(login.header('location')!);
    assert.ok(page.text.includes('Too many failed attempts'), page.text);

    const list = await cli(psuCommandWith, config, ['list', '--json']);
    assert.equal(JSON.parse(list).find((p: any) => p.username === 'mlocked').status, 'locked');
    const reset = await cli(psuCommandWith, config, ['reset-totp', '--username', 'mlocked']);
    const secret = /^totp_secret: (\w+)$/m.exec(reset)![1]!;
    const again = new Psu(s);
    await again.open(url());
    assert.match((await again.authenticate('mlocked', PASSWORD, currentTotp(secret))).header('location')!, /consent$/);
  });

  test('a disabled PSU cannot log in', async () => {
    await cli(psuCommandWith, config, ['disable', '--username', 'jdupont']);
    const psu = new Psu(s);
    await psu.open(url());
    const res = await psu.authenticate('jdupont', PASSWORD, currentTotp(secrets.jdupont!));
    assert.match(res.header('location')!, /retry=failed/);
  });
});
