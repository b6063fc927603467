// A payment in production mode: the PSU logs in, then enters the one-time code on the page that
// shows amount and payee (RTS art. 5(1)(a)); a wrong code goes back to the login with the single
// failure message and counts towards the block; French and English.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { accountCommandWith } from '../../server/cli/account.ts';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { currentTotp } from '../../server/protocol/psu-authentication.ts';
import { type Bank, startBank } from '../support/bank.ts';
import { sql } from '../support/grants.ts';
import { type HttpResponse, request } from '../support/https.ts';
import { startProductionServer } from '../support/production.ts';
import { formOf, pkce, sessionCookie, tags } from '../support/psu.ts';
import type { TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/callback';
const PASSWORD = 'correct horse battery staple';
const IBAN = 'FR7630006000011234567890189';

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
  let secret: string;

  before(async () => {
    const started = await startProductionServer({ PSU_LOCKOUT_DURATION: '600' });
    ({ server: s, dataDir } = started);
    let out = '';
    const io = {
      out: (t: string) => {
        out += t;
      },
      readStdin: async () => `${PASSWORD}
`,
    };
    await psuCommandWith(['add', '--username', 'payer', '--name', 'Payer', '--password-stdin'], started.config, io);
    secret = /^totp_secret: (\w+)$/m.exec(out)![1]!;
    await accountCommandWith(
      ['add', '--username', 'payer', '--iban', IBAN, '--name', 'Compte Chèques'],
      started.config,
      io,
    );
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

  async function toPaymentPage(lang: string, state: string) {
    const { authorizationId, consentApprovalHref } = await bank.postPaymentRequest(clientId, {
      instructedAmount: { amount: '123.50', currency: 'EUR' },
      creditorName: 'Boulangerie Martin',
      creditorAccount: { iban: 'FR7630004000031234567890143' },
    });
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
    const browser = new Browser(s);
    const login = await browser.go(url.toString(), { 'accept-language': lang });
    assert.equal(login.status, 200, login.text);
    const next = await browser.post({ username: 'payer', password: PASSWORD });
    assert.equal(next.status, 303);
    assert.match(next.header('location')!, new RegExp(`^/${lang}/authorize/payment$`));
    const page = await browser.go(`${s.psuUrl}${next.header('location')}`);
    assert.equal(page.status, 200, page.text);
    return { browser, page, authorizationId };
  }

  test('confirmed with the code on the payment page (fr): code, state, iss; the payment authorised', async () => {
    const { browser, page, authorizationId } = await toPaymentPage('fr', 'fr-state');
    assert.match(page.text, /123,50\s€/u);
    assert.ok(page.text.includes('FR76 3000 4000 0312 3456 7890 143'));
    assert.ok(
      tags(page.text, 'input').some((i) => i.name === 'otp'),
      'the code is entered on this page',
    );
    assert.match(page.text, /Annuler et revenir à PayCo/);
    const hash = tags(page.text, 'input').find((i) => i.name === 'payment_hash')!.value!;
    const account = tags(page.text, 'input').find((i) => i.name === 'account')!.value!;
    const res = await browser.post({ decision: 'approve', otp: currentTotp(secret), account, payment_hash: hash });
    assert.equal(res.status, 303, res.text);
    const location = new URL(res.header('location')!);
    assert.ok(location.searchParams.get('code'));
    assert.equal(location.searchParams.get('state'), 'fr-state');
    assert.equal(location.searchParams.get('iss'), s.server.issuer);
    const status = (await bank.call('GET', `/payment-authorizations/${authorizationId}`)).json();
    assert.equal(status.status, 'authorised');
    assert.deepEqual(status.debtorAccount, { iban: IBAN });
    const events = sql<{ event: string }>(
      s,
      "select event from authentication_events where event in ('sca.succeeded', 'consent.granted') order by occurred_at",
    ).map((e) => e.event);
    assert.deepEqual(events, ['sca.succeeded', 'consent.granted']);
  });

  test('a wrong code (en): back to the login with the single message, the failure counted, no code', async () => {
    const { browser, page, authorizationId } = await toPaymentPage('en', 'en-state');
    assert.ok(page.text.includes('€123.50'));
    const hash = tags(page.text, 'input').find((i) => i.name === 'payment_hash')!.value!;
    const res = await browser.post({ decision: 'approve', otp: '000000', payment_hash: hash });
    assert.equal(res.status, 303);
    assert.match(res.header('location')!, /\/en\/authorize\/login\?retry=failed$/);
    const [row] = sql<{ failed_attempts: number }>(s, "select failed_attempts from psus where username = 'payer'");
    assert.equal(row!.failed_attempts, 1);
    assert.equal(
      (await bank.call('GET', `/payment-authorizations/${authorizationId}`)).json().status,
      'awaiting_authorisation',
    );
    const again = await browser.go(`${s.psuUrl}${res.header('location')}`);
    assert.match(again.text, /Authentication failed/);
  });
});
