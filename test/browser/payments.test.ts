// The payment pages in headless Chromium, end to end with real parts: the server over TLS in
// production (login, the one-time code on the payment page, then the debtor account) and in the
// sandbox (persona), oauth4webapi as the PISP over mTLS, and the STET-like bank of
// test/support/bank.ts on the back channel (register -> redirect -> the PSU confirms -> code ->
// token -> consume once -> introspection inactive). French and English, initiation and
// cancellation, refusal, a withdrawn payment between page load and submit, markup in the payment
// escaped. One browser and one page for the file; screenshots (1280 and 390 px wide) go to
// test-artifacts/.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { paymentRedirect } from '../../sdk/index.ts';
import { accountCommandWith } from '../../server/cli/account.ts';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { currentTotp } from '../../server/protocol/psu-authentication.ts';
import { type Bank, type PaymentRequest, startBank } from '../support/bank.ts';
import { brandingEnv } from '../support/branding.ts';
import {
  type Browser,
  browserSkipReason,
  cspViolations,
  launch,
  type Page,
  REDIRECT,
  screenshot,
} from '../support/browser.ts';
import { type Fetch, mtlsFetch } from '../support/mtls-fetch.ts';
import { discover, type OAuthTpp } from '../support/oauth-tpp.ts';
import { startProductionServer } from '../support/production.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const skip = browserSkipReason();

const PASSWORD = 'correct horse battery staple';
const CREDITOR_IBAN = 'FR7630004000031234567890143';
const PAYER_IBANS = ['FR7630006000011234567890189', 'FR7610107001011234567890129'] as const;
const BLOCKED_IBAN = 'FR4030006000019876543210142';
const PAYMENT: PaymentRequest = {
  instructedAmount: { amount: '123.50', currency: 'EUR' },
  creditorName: 'Boulangerie Martin',
  creditorAccount: { iban: CREDITOR_IBAN },
  remittanceInformation: 'Facture 2026-042',
  requestedExecutionDate: '2026-12-24',
};

const L = {
  fr: {
    amount: /123,50\s€/u,
    date: '24 décembre 2026',
    id: 'Identifiant client',
    password: 'Mot de passe',
    go: 'Continuer',
    otp: /Code à usage unique/,
    confirm: 'Confirmer',
    refuse: 'Refuser',
    asks: 'PayCo (FR) vous demande de confirmer ce paiement :',
    cancel: /PayCo \(FR\) vous demande d’annuler le paiement de 123,50\s€ à Boulangerie Martin/u,
    later: 'Vous le choisirez après avoir saisi votre code.',
    withdrawn: 'Ce paiement a été retiré',
    back: 'Revenir à PayCo (FR)',
    failed: 'L’authentification a échoué. Vérifiez vos informations et réessayez.',
    blocked: /^Trop de tentatives échouées : l’accès est bloqué jusqu’à /u,
  },
  en: {
    amount: /€123\.50/,
    date: '24 December 2026',
    id: 'Customer identifier',
    password: 'Password',
    go: 'Continue',
    otp: /One-time code/,
    confirm: 'Confirm',
    refuse: 'Refuse',
    asks: 'PayCo asks you to confirm this payment:',
    cancel: /PayCo asks you to cancel the payment of €123\.50 to Boulangerie Martin/,
    later: 'You choose it after entering your code.',
    withdrawn: 'This payment was withdrawn',
    back: 'Return to PayCo',
    failed: 'Authentication failed. Check your details and try again.',
    blocked: /^Too many failed attempts: access is blocked until /,
  },
} as const;
type Lang = keyof typeof L;

interface Side {
  s: TestServer;
  bank: Bank;
  pisp: OAuthTpp;
}

describe('payment pages in Chromium (production with TOTP, sandbox with personas)', { skip }, () => {
  let browser: Browser;
  let page: Page;
  let violations: string[];
  let prod: Side;
  let sandbox: Side;
  let prodDir: string;
  let prodServer: TestServer | undefined;
  let sandboxServer: TestServer | undefined;
  let totpSecret: string;
  // The bank's branding, as a bank runs it: the screenshots show its header.
  const logoDir = mkdtempSync(join(tmpdir(), 'psd2-oauth-brand-'));
  let blockedSecret: string;
  /** The production server's clock: real time plus what a test moved it by. */
  let offset = 0;
  const clock = () => Date.now() + offset;
  /** Each time step's code is accepted once (RTS art. 4(1)): every confirmation uses the next step. */
  const nextCode = () => {
    offset += 30_000;
    return currentTotp(totpSecret, clock());
  };
  /** The TPP's redirect URI is not on this machine: the page's route answers it and hands it over. */
  let reached: ((url: URL) => void) | undefined;
  const redirected = async () => {
    const url = await new Promise<URL>((resolve) => {
      reached = resolve;
    });
    // The callback's page loads before the next navigation, which it would otherwise interrupt.
    await page.waitForURL((u) => u.origin === url.origin);
    return url;
  };

  async function side(s: TestServer): Promise<Side> {
    const registration = {
      grant_types: ['client_credentials', 'authorization_code'],
      redirect_uris: [REDIRECT],
      client_name: 'PayCo',
      'client_name#fr': 'PayCo (FR)',
    };
    const tpp = await makeTpp(s, ['PSP_PI']);
    const registered = await tpp.call('POST', '/register', { body: registration });
    assert.equal(registered.status, 201, registered.text);
    const mtls = await mtlsFetch({ ca: s.caPem, cert: tpp.certChain, key: tpp.key });
    // Production names a public issuer (https://localhost): its endpoints are reached where the test runs them.
    const issuer = s.server.issuer;
    const fetch: Fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      return mtls(url.startsWith(issuer) ? `${s.url}${url.slice(issuer.length)}` : url, init);
    };
    const clientId = registered.json().client_id as string;
    const pisp: OAuthTpp = {
      tpp,
      as: await discover(s, fetch),
      client: { client_id: clientId },
      clientId,
      auth: oauth.TlsClientAuth(),
      fetch,
      options: { [oauth.customFetch]: fetch },
    };
    return { s, bank: await startBank(s), pisp };
  }

  before(async () => {
    // Each assigned as soon as it exists, so that `after` closes it even if another start failed.
    const [started, sandboxStarted] = await Promise.all([
      startProductionServer(brandingEnv(logoDir), undefined, { clock }).then((started) => {
        prodDir = started.dataDir;
        prodServer = started.server;
        return started;
      }),
      startTestServer(brandingEnv(logoDir)).then((s) => {
        sandboxServer = s;
        return s;
      }),
      launch().then((b) => {
        browser = b;
      }),
    ]);
    [prod, sandbox] = await Promise.all([side(started.server), side(sandboxStarted)]);
    let out = '';
    const io = {
      out: (t: string) => {
        out += t;
      },
      readStdin: async () => `${PASSWORD}\n`,
    };
    await psuCommandWith(['add', '--username', 'payer', '--name', 'Payer', '--password-stdin'], started.config, io);
    totpSecret = /^totp_secret: (\w+)$/m.exec(out)![1]!;
    // The lockout test blocks its own PSU, so the other tests' PSU is never blocked.
    out = '';
    await psuCommandWith(['add', '--username', 'blocked', '--name', 'Blocked', '--password-stdin'], started.config, io);
    blockedSecret = /^totp_secret: (\w+)$/m.exec(out)![1]!;
    await accountCommandWith(
      ['add', '--username', 'blocked', '--iban', BLOCKED_IBAN, '--name', 'Compte Bloqué'],
      started.config,
      io,
    );
    for (const [iban, name] of [
      [PAYER_IBANS[0], 'Compte Chèques'],
      [PAYER_IBANS[1], 'Compte Joint'],
    ] as const) {
      await accountCommandWith(['add', '--username', 'payer', '--iban', iban, '--name', name], started.config, io);
    }
    page = await browser.context.newPage();
    violations = cspViolations(page);
    await page.route(`${new URL(REDIRECT).origin}/**`, (route) => {
      reached?.(new URL(route.request().url()));
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'TPP callback' });
    });
  });

  after(async () => {
    await browser?.close();
    await prodServer?.close();
    await sandboxServer?.close();
    if (prodDir) rmSync(prodDir, { recursive: true, force: true });
    rmSync(logoDir, { recursive: true, force: true });
  });

  /**
   * The PISP's side: the bank registers the payment, the SDK turns consentApproval into the
   * redirect (PKCE, state), the PSU's browser goes there in `lang`.
   */
  async function start(
    side: Side,
    lang: Lang,
    payment: Partial<PaymentRequest> = {},
    action: 'initiate' | 'cancel' = 'initiate',
  ) {
    const registered = await side.bank.postPaymentRequest(side.pisp.clientId, { ...PAYMENT, ...payment }, { action });
    const { url, state, codeVerifier } = await paymentRedirect(registered.consentApprovalHref, {
      redirectUri: REDIRECT,
    });
    // The href names the PSU listener's public base (PSU_BASE_URL), not where the test reaches it.
    const href = new URL(url);
    const target = new URL(`${href.pathname}${href.search}`, side.s.psuUrl);
    target.searchParams.set('ui_locales', lang);
    const res = await page.goto(target.toString());
    assert.equal(res?.status(), 200);
    assert.equal(await page.getAttribute('html', 'lang'), lang);
    return { ...registered, state, codeVerifier };
  }

  /** Production: the login, right or wrong, leads to the payment page. */
  async function login(lang: Lang, password = PASSWORD, username = 'payer') {
    await page.getByLabel(L[lang].id).fill(username);
    await page.getByLabel(L[lang].password).fill(password);
    await page.getByRole('button', { name: L[lang].go, exact: true }).click();
    await page.getByLabel(L[lang].otp).waitFor();
  }

  async function text(selector = 'main') {
    return (await page.textContent(selector)) ?? '';
  }

  /** The payment as the page shows it: amount and date for the language, payee, IBAN by four, reference. */
  async function assertPaymentShown(lang: Lang) {
    const main = await text();
    assert.match(main, L[lang].amount);
    assert.ok(main.includes('Boulangerie Martin'));
    assert.ok(main.includes('FR76 3000 4000 0312 3456 7890 143'), 'the payee’s IBAN in groups of four');
    assert.ok(main.includes('Facture 2026-042'));
    assert.ok(main.includes(L[lang].date), 'the execution date in words, in the language');
  }

  async function shots(name: string) {
    await screenshot(page, `${name}-1280`);
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, `${name}-390`);
    await page.setViewportSize({ width: 1280, height: 800 });
  }

  /** The PISP exchanges the code over mTLS with PKCE (oauth4webapi). */
  async function token(side: Side, url: URL, state: string, codeVerifier: string) {
    const { pisp } = side;
    const params = oauth.validateAuthResponse(pisp.as, pisp.client, url, state);
    const response = await oauth.authorizationCodeGrantRequest(
      pisp.as,
      pisp.client,
      pisp.auth,
      params,
      REDIRECT,
      codeVerifier,
      pisp.options,
    );
    return oauth.processAuthorizationCodeResponse(pisp.as, pisp.client, response);
  }

  const introspect = async (side: Side, accessToken: string) =>
    (await side.bank.call('POST', '/introspect', new URLSearchParams({ token: accessToken }) as never)).json();

  /** The bank executes once: confirmation 200, a second 403 (token inactive), consume 409. */
  async function executeOnce(side: Side, authorizationId: string, accessToken: string, action: 'initiate' | 'cancel') {
    assert.equal((await introspect(side, accessToken)).active, true);
    const wrongAction = action === 'initiate' ? 'cancel' : 'initiate';
    assert.equal(await side.bank.confirm(authorizationId, accessToken, wrongAction), 403, 'not a token for that');
    assert.equal(await side.bank.confirm(authorizationId, accessToken, action), 200);
    assert.equal(await side.bank.confirm(authorizationId, accessToken, action), 403, 'the token is spent');
    const again = await side.bank.call('POST', `/payment-authorizations/${authorizationId}/consume`);
    assert.equal(again.status, 409);
    assert.deepEqual(await introspect(side, accessToken), { active: false });
    assert.equal((await side.bank.call('GET', `/payment-authorizations/${authorizationId}`)).json().status, 'consumed');
  }

  test('production (fr): login, the code on the payment page, the account, then token and one execution', async () => {
    await page.setViewportSize({ width: 1280, height: 800 });
    const { authorizationId, state, codeVerifier } = await start(prod, 'fr');
    await login('fr');
    assert.equal(new URL(page.url()).pathname, '/fr/authorize/payment');
    await assertPaymentShown('fr');
    assert.ok((await text()).includes(L.fr.asks));
    assert.ok((await text()).includes(L.fr.later), 'no account of the PSU before the code');
    assert.equal(await page.getByRole('radio').count(), 0);
    await shots('payment-initiation-fr');
    await page.getByLabel(L.fr.otp).fill(nextCode());
    await page.getByRole('button', { name: L.fr.confirm, exact: true }).click();
    await page.waitForURL(/\/fr\/authorize\/debtor-account$/);
    await assertPaymentShown('fr');
    assert.equal(await page.getByRole('radio').count(), 2);
    assert.ok((await text()).includes('FR76 1010 7001 0112 3456 7890 129'), 'the PSU’s IBANs by four');
    await page.getByRole('radio', { name: /Compte Joint/ }).check();
    await shots('payment-debtor-account-fr');
    const back = redirected();
    await page.getByRole('button', { name: L.fr.confirm, exact: true }).click();
    const url = await back;
    assert.equal(url.searchParams.get('iss'), prod.s.server.issuer);
    const tokens = await token(prod, url, state, codeVerifier);
    assert.equal(tokens.refresh_token, undefined);
    const [detail] = tokens.authorization_details as any[];
    assert.deepEqual(detail.actions, ['initiate']);
    assert.deepEqual(detail.debtorAccount, { iban: PAYER_IBANS[1] }, 'the account the PSU chose');
    assert.equal(detail.identifier, authorizationId);
    await executeOnce(prod, authorizationId, tokens.access_token, 'initiate');
  });

  test('production (en): the bank fixed the debtor account, so the code approves at once', async () => {
    const { authorizationId, state, codeVerifier } = await start(prod, 'en', {
      debtorAccount: { iban: PAYER_IBANS[0] },
    });
    await login('en');
    await assertPaymentShown('en');
    assert.ok((await text()).includes(L.en.asks));
    assert.ok((await text()).includes('FR76 3000 6000 0112 3456 7890 189'), 'the fixed account');
    await shots('payment-initiation-en');
    await page.getByLabel(L.en.otp).fill(nextCode());
    const back = redirected();
    await page.getByRole('button', { name: L.en.confirm, exact: true }).click();
    const tokens = await token(prod, await back, state, codeVerifier);
    assert.deepEqual((tokens.authorization_details as any[])[0].debtorAccount, { iban: PAYER_IBANS[0] });
    await executeOnce(prod, authorizationId, tokens.access_token, 'initiate');
  });

  for (const lang of ['en', 'fr'] as const) {
    test(`production (${lang}): a cancellation end to end ("cancel the payment of X to Y")`, async () => {
      const { authorizationId, state, codeVerifier } = await start(prod, lang, {}, 'cancel');
      await login(lang);
      assert.match(await text(), L[lang].cancel);
      await shots(`payment-cancellation-${lang}`);
      await page.getByLabel(L[lang].otp).fill(nextCode());
      await page.getByRole('button', { name: L[lang].confirm, exact: true }).click();
      await page.waitForURL(/\/authorize\/debtor-account$/);
      assert.match(await text(), L[lang].cancel);
      const back = redirected();
      await page.getByRole('button', { name: L[lang].confirm, exact: true }).click();
      const tokens = await token(prod, await back, state, codeVerifier);
      assert.deepEqual((tokens.authorization_details as any[])[0].actions, ['cancel']);
      await executeOnce(prod, authorizationId, tokens.access_token, 'cancel');
    });
  }

  test('production (en): a wrong password shows the same payment page, then the single failure message', async () => {
    await start(prod, 'en');
    await login('en', 'not the password');
    assert.ok((await text()).includes(L.en.later));
    assert.equal(await page.getByRole('radio').count(), 0);
    await page.getByLabel(L.en.otp).fill(nextCode());
    await page.getByRole('button', { name: L.en.confirm, exact: true }).click();
    await page.getByRole('alert').waitFor();
    assert.equal(
      (await page.getByRole('alert').textContent())?.trim(),
      'Authentication failed. Check your details and try again.',
    );
  });

  test('sandbox (en): a persona’s account, then token and one execution; the markup of a payment is text', async () => {
    const remittance = '<script>window.__injected = 1</script><img src=x onerror="window.__injected = 2">';
    const { authorizationId, state, codeVerifier } = await start(sandbox, 'en', {
      remittanceInformation: remittance,
    });
    assert.match(await text(), L.en.amount);
    assert.ok((await text()).includes(remittance), 'shown as the bank registered it, as text');
    assert.ok((await page.content()).includes('&lt;script&gt;window.__injected'));
    assert.equal(await page.evaluate(() => document.querySelectorAll('main script, main img').length), 0);
    assert.equal(await page.evaluate(() => (globalThis as { __injected?: number }).__injected), undefined);
    assert.equal(await page.getByLabel(L.en.otp).count(), 0, 'no code in the sandbox');
    await page.getByRole('radio', { name: /Chloé Bernard \(EI\) · Compte Professionnel/ }).check();
    await shots('payment-sandbox-en');
    const back = redirected();
    await page.getByRole('button', { name: L.en.confirm, exact: true }).click();
    const tokens = await token(sandbox, await back, state, codeVerifier);
    const [detail] = tokens.authorization_details as any[];
    assert.equal(detail.remittanceInformation, remittance);
    assert.deepEqual(detail.debtorAccount, { iban: PAYER_IBANS[1] }, 'Chloé Bernard’s Compte Professionnel');
    await executeOnce(sandbox, authorizationId, tokens.access_token, 'initiate');
  });

  test('sandbox (fr): a cancellation, and a refusal that sends access_denied and rejects the payment', async () => {
    const cancellation = await start(sandbox, 'fr', {}, 'cancel');
    assert.match(await text(), L.fr.cancel);
    await shots('payment-sandbox-cancellation-fr');
    let back = redirected();
    await page.getByRole('button', { name: L.fr.confirm, exact: true }).click();
    const tokens = await token(sandbox, await back, cancellation.state, cancellation.codeVerifier);
    await executeOnce(sandbox, cancellation.authorizationId, tokens.access_token, 'cancel');

    const refused = await start(sandbox, 'fr');
    back = redirected();
    await page.getByRole('button', { name: L.fr.refuse, exact: true }).click();
    const url = await back;
    assert.equal(url.searchParams.get('error'), 'access_denied');
    assert.equal(url.searchParams.get('state'), refused.state);
    assert.equal(url.searchParams.get('code'), null);
    const status = (await sandbox.bank.call('GET', `/payment-authorizations/${refused.authorizationId}`)).json();
    assert.equal(status.status, 'rejected');
  });

  test('withdrawn between page load and Confirm: an error page, access_denied to the PISP, no code', async () => {
    for (const [side, lang] of [
      [sandbox, 'en'],
      [prod, 'fr'],
    ] as const) {
      const { authorizationId, state } = await start(side, lang);
      if (side === prod) await login(lang);
      const withdrawn = await side.bank.call('DELETE', `/payment-authorizations/${authorizationId}`);
      assert.equal(withdrawn.status, 204);
      if (side === prod) await page.getByLabel(L[lang].otp).fill(nextCode());
      const answer = page.waitForResponse((r) => r.request().method() === 'POST');
      await page.getByRole('button', { name: L[lang].confirm, exact: true }).click();
      assert.equal((await answer).status(), 409);
      await page.getByRole('alert').waitFor();
      assert.ok((await page.getByRole('alert').textContent())!.includes(L[lang].withdrawn));
      if (lang === 'en') await screenshot(page, 'payment-withdrawn-en');
      const back = redirected();
      await page.getByRole('link', { name: L[lang].back }).click();
      const url = await back;
      assert.equal(url.searchParams.get('error'), 'access_denied');
      assert.equal(url.searchParams.get('state'), state);
      assert.equal(url.searchParams.get('code'), null);
      const status = (await side.bank.call('GET', `/payment-authorizations/${authorizationId}`)).json();
      assert.equal(status.status, 'withdrawn');
    }
  });

  test('production (fr): 5 failures on the payment page block the PSU with one message each, until PSU_LOCKOUT_DURATION has passed', async () => {
    const { authorizationId } = await start(prod, 'fr', { debtorAccount: { iban: BLOCKED_IBAN } });
    const alert = async () => {
      await page.getByRole('alert').waitFor();
      return (await page.getByRole('alert').textContent())?.trim() ?? '';
    };
    // 2 wrong passwords, then 3 wrong codes after the right password: each failure back to the
    // login with the same message (RTS art. 4(3)(a)), the fifth blocks (art. 4(3)(b)).
    const seen: string[] = [];
    for (const password of ['faux', 'faux', PASSWORD, PASSWORD, PASSWORD]) {
      await login('fr', password, 'blocked');
      assert.equal(new URL(page.url()).pathname, '/fr/authorize/payment');
      await page.getByLabel(L.fr.otp).fill('000000');
      await page.getByRole('button', { name: L.fr.confirm, exact: true }).click();
      await page.waitForURL(/\/fr\/authorize\/login\?retry=/);
      seen.push(await alert());
    }
    assert.deepEqual(seen.slice(0, 4), Array(4).fill(L.fr.failed));
    assert.match(seen[4]!, L.fr.blocked);
    await screenshot(page, 'payment-blocked-fr');
    // Blocked: the right password and the right code are refused at once, before any payment page.
    await page.getByLabel(L.fr.id).fill('blocked');
    await page.getByLabel(L.fr.password).fill(PASSWORD);
    await page.getByRole('button', { name: L.fr.go, exact: true }).click();
    await page.waitForURL(/\/fr\/authorize\/login\?retry=locked/);
    assert.match(await alert(), L.fr.blocked);
    assert.equal(
      (await prod.bank.call('GET', `/payment-authorizations/${authorizationId}`)).json().status,
      'awaiting_authorisation',
    );
    // PSU_LOCKOUT_DURATION (1800 s by default) later, by the server's clock, the PSU goes through
    // again (in a new journey: the blocked one ended with the 5-minute inactivity long before).
    offset += 1_801_000;
    const again = await start(prod, 'fr', { debtorAccount: { iban: BLOCKED_IBAN } });
    await login('fr', PASSWORD, 'blocked');
    offset += 30_000;
    await page.getByLabel(L.fr.otp).fill(currentTotp(blockedSecret, clock()));
    const back = redirected();
    await page.getByRole('button', { name: L.fr.confirm, exact: true }).click();
    const tokens = await token(prod, await back, again.state, again.codeVerifier);
    assert.deepEqual((tokens.authorization_details as any[])[0].debtorAccount, { iban: BLOCKED_IBAN });
    assert.equal((tokens.authorization_details as any[])[0].identifier, again.authorizationId);
  });

  test('no Content-Security-Policy violation on any page', () => {
    assert.deepEqual(violations, []);
  });
});
