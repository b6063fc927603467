// A payment in production mode: the PSU logs in, then enters the one-time code on the page that
// shows amount and payee (RTS art. 5(1)(a)), then chooses the account to pay from unless the bank
// fixed it. The payment page is the same after a wrong password as after a right one (art.
// 4(3)(a)); a wrong code goes back to the login with the single failure message and counts towards
// the block; 5 failures block the PSU; 5 minutes of inactivity end the session (by the injected
// clock, no sleeping); French and English.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { accountCommandWith } from '../../server/cli/account.ts';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { currentTotp } from '../../server/protocol/psu-authentication.ts';
import { type Bank, type PaymentRequest, startBank } from '../support/bank.ts';
import { type HttpResponse, request } from '../support/https.ts';
import { startProductionServer } from '../support/production.ts';
import { formOf, pkce, sessionCookie, tags } from '../support/psu.ts';
import type { TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/callback';
const PASSWORD = 'correct horse battery staple';
const IBAN = 'FR7630006000011234567890189';
const IBAN2 = 'FR7610107001011234567890129';
const CREDITOR_IBAN = 'FR7630004000031234567890143';

class Browser {
  cookie = '';
  page!: HttpResponse;
  readonly s: TestServer;
  constructor(s: TestServer) {
    this.s = s;
  }
  async go(url: string, headers: Record<string, string> = {}) {
    this.page = await request(url, { ca: this.s.caPem, headers: { cookie: this.cookie, ...headers } });
    if (this.page.headers['set-cookie']) this.cookie = sessionCookie(this.page);
    return this.page;
  }
  async post(fields: Record<string, string>) {
    const { action, csrf } = formOf(this.page.text);
    return request(`${this.s.psuUrl}${action}`, {
      ca: this.s.caPem,
      method: 'POST',
      headers: { cookie: this.cookie },
      body: new URLSearchParams({ csrf_token: csrf, ...fields }),
    });
  }
}

describe('payments in production mode: login, then the code on the payment page', () => {
  let s: TestServer;
  let dataDir: string;
  let bank: Bank;
  let clientId: string;
  const secrets: Record<string, string> = {};
  /** The server's clock: real time plus what a test moved it by. */
  let offset = 0;
  const clock = () => Date.now() + offset;
  /** A code of a later time step: each step is accepted once (RTS art. 4(1)), so time moves on. */
  const nextCode = (username: string) => {
    offset += 30_000;
    return currentTotp(secrets[username]!, clock());
  };

  before(async () => {
    const started = await startProductionServer({ PSU_LOCKOUT_DURATION: '600' }, undefined, { clock });
    ({ server: s, dataDir } = started);
    for (const username of ['payer', 'twin', 'locked', 'idle']) {
      let out = '';
      const io = {
        out: (t: string) => {
          out += t;
        },
        readStdin: async () => `${PASSWORD}
`,
      };
      await psuCommandWith(['add', '--username', username, '--name', username, '--password-stdin'], started.config, io);
      secrets[username] = /^totp_secret: (\w+)$/m.exec(out)![1]!;
      for (const [iban, name] of [
        [IBAN, 'Compte Chèques'],
        [IBAN2, 'Compte Joint'],
      ] as const) {
        await accountCommandWith(['add', '--username', username, '--iban', iban, '--name', name], started.config, io);
      }
    }
    const reg = await (await makeTpp(s, ['PSP_PI'])).call('POST', '/register', {
      body: {
        grant_types: ['client_credentials', 'authorization_code'],
        redirect_uris: [REDIRECT],
        client_name: 'PayCo',
      },
    });
    assert.equal(reg.status, 201, reg.text);
    clientId = reg.json().client_id;
    bank = await startBank(s);
  });
  after(async () => {
    await s.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function register(payment: Partial<PaymentRequest> = {}) {
    return bank.postPaymentRequest(clientId, {
      instructedAmount: { amount: '123.50', currency: 'EUR' },
      creditorName: 'Boulangerie Martin',
      creditorAccount: { iban: CREDITOR_IBAN },
      ...payment,
    });
  }

  function redirectUrl(consentApprovalHref: string, state: string) {
    const href = new URL(consentApprovalHref);
    // The PSU listener's public base (PSU_BASE_URL) is not where the test reaches it.
    const url = new URL(`${href.pathname}${href.search}`, s.psuUrl);
    for (const [k, v] of Object.entries({
      redirect_uri: REDIRECT,
      state,
      code_challenge: pkce().codeChallenge,
      code_challenge_method: 'S256',
    })) {
      url.searchParams.set(k, v);
    }
    return url.toString();
  }

  /** Login (right or wrong password) up to the payment page. */
  async function toPaymentPage(
    lang: string,
    state: string,
    options: { username?: string; password?: string; href?: string; payment?: Partial<PaymentRequest> } = {},
  ) {
    const registered = options.href ? undefined : await register(options.payment);
    const browser = new Browser(s);
    const login = await browser.go(redirectUrl(options.href ?? registered!.consentApprovalHref, state), {
      'accept-language': lang,
    });
    assert.equal(login.status, 200, login.text);
    const next = await browser.post({ username: options.username ?? 'payer', password: options.password ?? PASSWORD });
    assert.equal(next.status, 303);
    assert.match(next.header('location')!, new RegExp(`^/${lang}/authorize/payment$`));
    const page = await browser.go(`${s.psuUrl}${next.header('location')}`);
    assert.equal(page.status, 200, page.text);
    return { browser, page, authorizationId: registered?.authorizationId, href: registered?.consentApprovalHref };
  }

  const hashOf = (page: HttpResponse) => tags(page.text, 'input').find((i) => i.name === 'payment_hash')!.value!;
  /** What differs between two sessions' pages by construction: the CSRF token. */
  const withoutSession = (page: HttpResponse) =>
    page.text.replace(/name="csrf_token" value="[^"]*"/g, 'name="csrf_token" value=""');

  test('confirmed with the code on the payment page, then the account chosen (fr): code, state, iss', async () => {
    const { browser, page, authorizationId } = await toPaymentPage('fr', 'fr-state');
    assert.match(page.text, /123,50\s€/u);
    assert.ok(page.text.includes('FR76 3000 4000 0312 3456 7890 143'));
    assert.ok(
      tags(page.text, 'input').some((i) => i.name === 'otp'),
      'the code is entered on this page',
    );
    assert.ok(!tags(page.text, 'input').some((i) => i.name === 'account'), 'no account before the code');
    assert.ok(!page.text.includes('FR76 3000 6000'), 'none of the PSU’s IBANs before the code');
    assert.match(page.text, /Vous le choisirez après avoir saisi votre code/);
    assert.match(page.text, /Annuler et revenir à PayCo/);
    const sca = await browser.post({ decision: 'approve', otp: nextCode('payer'), payment_hash: hashOf(page) });
    assert.equal(sca.status, 303, sca.text);
    assert.equal(sca.header('location'), '/fr/authorize/debtor-account');
    const choice = await browser.go(`${s.psuUrl}${sca.header('location')}`);
    assert.equal(choice.status, 200, choice.text);
    assert.match(choice.text, /123,50\s€/u, 'the payment is shown again');
    const accounts = tags(choice.text, 'input').filter((i) => i.name === 'account');
    assert.equal(accounts.length, 2);
    assert.ok(choice.text.includes('FR76 1010 7001 0112 3456 7890 129'));
    const none = await browser.post({ decision: 'approve', payment_hash: hashOf(choice) });
    assert.equal(none.status, 400, 'no account chosen: the page again');
    const res = await browser.post({ decision: 'approve', account: accounts[1]!.value!, payment_hash: hashOf(choice) });
    assert.equal(res.status, 303, res.text);
    const location = new URL(res.header('location')!);
    assert.ok(location.searchParams.get('code'));
    assert.equal(location.searchParams.get('state'), 'fr-state');
    assert.equal(location.searchParams.get('iss'), s.server.issuer);
    const status = (await bank.call('GET', `/payment-authorizations/${authorizationId}`)).json();
    assert.equal(status.status, 'authorised');
    assert.deepEqual(status.debtorAccount, { iban: IBAN2 });
    const { authorization } = await s.stores!();
    const payer = await authorization.psus.findByUsername('payer');
    const events = (await authorization.events.list({ psuId: payer!.psuId }))
      .map((e) => e.event)
      .filter((e) => e === 'sca.succeeded' || e === 'consent.granted');
    assert.deepEqual(events, ['sca.succeeded', 'consent.granted']);
  });

  test('the bank fixed the debtor account: the code on the payment page approves at once (en)', async () => {
    const { browser, page, authorizationId } = await toPaymentPage('en', 'fixed', {
      payment: { debtorAccount: { iban: IBAN2 } },
    });
    assert.ok(page.text.includes('FR76 1010 7001 0112 3456 7890 129'), 'the fixed account is on the page');
    const res = await browser.post({ decision: 'approve', otp: nextCode('payer'), payment_hash: hashOf(page) });
    assert.equal(res.status, 303, res.text);
    assert.ok(new URL(res.header('location')!).searchParams.get('code'));
    const status = (await bank.call('GET', `/payment-authorizations/${authorizationId}`)).json();
    assert.deepEqual([status.status, status.debtorAccount], ['authorised', { iban: IBAN2 }]);
  });

  test('a wrong password and a right one give the same payment page (RTS art. 4(3)(a))', async () => {
    for (const payment of [{}, { debtorAccount: { iban: IBAN } }]) {
      const { consentApprovalHref: href } = await register(payment);
      const right = await toPaymentPage('en', 'same', { href, username: 'twin' });
      const wrong = await toPaymentPage('en', 'same', { href, username: 'twin', password: 'not the password' });
      const unknown = await toPaymentPage('en', 'same', { href, username: 'nobody', password: 'x' });
      assert.equal(withoutSession(wrong.page), withoutSession(right.page));
      assert.equal(withoutSession(unknown.page), withoutSession(right.page));
      assert.notEqual(wrong.page.text, right.page.text, 'the CSRF tokens differ, nothing else');
      // Then the code: a wrong password fails like a wrong code, with the same message.
      const failed = await wrong.browser.post({
        decision: 'approve',
        otp: nextCode('twin'),
        payment_hash: hashOf(wrong.page),
      });
      assert.equal(failed.header('location'), '/en/authorize/login?retry=failed');
      const badCode = await right.browser.post({
        decision: 'approve',
        otp: '000000',
        payment_hash: hashOf(right.page),
      });
      assert.equal(badCode.header('location'), '/en/authorize/login?retry=failed');
    }
  });

  test('a wrong code (en): back to the login with the single message, the failure counted, no code', async () => {
    const { browser, page, authorizationId } = await toPaymentPage('en', 'en-state');
    assert.ok(page.text.includes('€123.50'));
    const res = await browser.post({ decision: 'approve', otp: '000000', payment_hash: hashOf(page) });
    assert.equal(res.status, 303);
    assert.match(res.header('location')!, /\/en\/authorize\/login\?retry=failed$/);
    const payer = await (await s.stores!()).authorization.psus.findByUsername('payer');
    assert.equal(payer?.failedAttempts, 1);
    assert.equal(
      (await bank.call('GET', `/payment-authorizations/${authorizationId}`)).json().status,
      'awaiting_authorisation',
    );
    const again = await browser.go(`${s.psuUrl}${res.header('location')}`);
    assert.match(again.text, /Authentication failed/);
  });

  test('5 failures on the payment page block the PSU, one message for each failure; the block ends', async () => {
    const alertOf = async (browser: Browser, location: string) => {
      const page = await browser.go(`${s.psuUrl}${location}`);
      return /<p class="alert" role="alert">([^<]*)<\/p>/.exec(page.text)![1]!;
    };
    // 2 wrong passwords, then 3 wrong codes after the right password: the same message each time,
    // until the fifth failure blocks the PSU and says so (RTS art. 4(3)(b)).
    const seen: string[] = [];
    for (const password of ['wrong', 'wrong', PASSWORD, PASSWORD, PASSWORD]) {
      const { browser, page } = await toPaymentPage('en', 'lock', { username: 'locked', password });
      const res = await browser.post({ decision: 'approve', otp: '000000', payment_hash: hashOf(page) });
      seen.push(await alertOf(browser, res.header('location')!));
    }
    assert.deepEqual(seen.slice(0, 4), Array(4).fill('Authentication failed. Check your details and try again.'));
    assert.match(seen[4]!, /^Too many failed attempts: access is blocked until /);
    // Blocked: the right password is refused at once, and the PSU is told until when.
    const blocked = new Browser(s);
    await blocked.go(redirectUrl((await register()).consentApprovalHref, 'lock'), { 'accept-language': 'en' });
    const login = await blocked.post({ username: 'locked', password: PASSWORD });
    assert.match(login.header('location')!, /^\/en\/authorize\/login\?retry=locked&until=\d+$/);
    assert.match(await alertOf(blocked, login.header('location')!), /^Too many failed attempts/);
    // PSU_LOCKOUT_DURATION=600 later (by the clock), the right factors go through again.
    offset += 601_000;
    const { browser: after, page } = await toPaymentPage('en', 'unlocked', { username: 'locked' });
    const res = await after.post({ decision: 'approve', otp: nextCode('locked'), payment_hash: hashOf(page) });
    assert.equal(res.header('location'), '/en/authorize/debtor-account');
  });

  test('5 minutes without activity on the payment page: access_denied, nothing authorised', async () => {
    const { browser, page, authorizationId } = await toPaymentPage('fr', 'idle-state', { username: 'idle' });
    offset += 300_000;
    const res = await browser.post({
      decision: 'approve',
      otp: currentTotp(secrets.idle!, clock()),
      payment_hash: hashOf(page),
    });
    assert.equal(res.status, 303);
    const location = new URL(res.header('location')!);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('state'), 'idle-state');
    assert.equal(location.searchParams.get('code'), null);
    assert.equal(
      (await bank.call('GET', `/payment-authorizations/${authorizationId}`)).json().status,
      'awaiting_authorisation',
    );
    // After the code, the debtor-account page times out the same way.
    const second = await toPaymentPage('fr', 'idle-2', { username: 'idle' });
    const sca = await second.browser.post({
      decision: 'approve',
      otp: nextCode('idle'),
      payment_hash: hashOf(second.page),
    });
    assert.equal(sca.header('location'), '/fr/authorize/debtor-account');
    const choice = await second.browser.go(`${s.psuUrl}${sca.header('location')}`);
    offset += 299_000;
    const still = await second.browser.go(`${s.psuUrl}/fr/authorize/debtor-account`);
    assert.equal(still.status, 200, 'under 5 minutes: the page again, and the session is kept alive');
    offset += 300_000;
    const late = await second.browser.post({
      decision: 'approve',
      account: tags(choice.text, 'input').find((i) => i.name === 'account')!.value!,
      payment_hash: hashOf(choice),
    });
    assert.equal(new URL(late.header('location')!).searchParams.get('error'), 'access_denied');
  });
});
