// Full flows in headless Chromium (Debian's package, driven by playwright-core): the sandbox page
// and the production login, TOTP and consent, in French and English. Screenshots go to
// test-artifacts/ for a person to look at.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { accountCommandWith } from '../../server/cli/account.ts';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { currentTotp } from '../../server/protocol/psu-authentication.ts';
import {
  type Browser,
  browserSkipReason,
  captureRedirect,
  cspViolations,
  launch,
  REDIRECT,
  screenshot,
} from '../support/browser.ts';
import { startProductionServer } from '../support/production.ts';
import { authorizeUrl, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const skip = browserSkipReason();

const LABELS = {
  en: {
    approve: 'Allow access',
    refuse: 'Refuse',
    id: 'Customer identifier',
    password: 'Password',
    otp: /One-time code/,
    go: 'Continue',
    confirm: 'Confirm',
  },
  fr: {
    approve: 'Autoriser l’accès',
    refuse: 'Refuser',
    id: 'Identifiant client',
    password: 'Mot de passe',
    otp: /Code à usage unique/,
    go: 'Continuer',
    confirm: 'Confirmer',
  },
} as const;

describe('PSU pages in Chromium: sandbox', { skip }, () => {
  let s: TestServer;
  let browser: Browser;
  let clientId: string;
  before(async () => {
    s = await startTestServer();
    browser = await launch();
    const tpp = await makeTpp(s, ['PSP_AI']);
    const reg = await tpp.call('POST', '/register', {
      body: { redirect_uris: [REDIRECT], client_name: 'Acme Budget', 'client_name#fr': 'Acme Budget (FR)' },
    });
    clientId = reg.json().client_id;
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  for (const lang of ['fr', 'en'] as const) {
    test(`one click approves (${lang})`, async () => {
      const page = await browser.context.newPage();
      const violations = cspViolations(page);
      const redirected = await captureRedirect(page);
      const state = `browser-${lang}-${'x'.repeat(1000)}`;
      await page.goto(
        authorizeUrl(s, {
          clientId,
          redirectUri: REDIRECT,
          scope: 'aisp extended_transaction_history',
          state,
          codeChallenge: pkce().codeChallenge,
          lang,
        }),
      );
      assert.equal(await page.getAttribute('html', 'lang'), lang);
      assert.ok((await page.textContent('main'))!.includes(lang === 'fr' ? 'Acme Budget (FR)' : 'Acme Budget'));
      assert.ok(await page.getByRole('radio').first().isChecked(), 'the first persona is preselected');
      await screenshot(page, `sandbox-${lang}`);
      await page.getByRole('button', { name: LABELS[lang].approve }).click();
      const url = await redirected();
      assert.ok(url.searchParams.get('code'));
      assert.equal(url.searchParams.get('state'), state);
      assert.equal(url.searchParams.get('iss'), s.server.issuer);
      assert.deepEqual(violations, []);
      await page.close();
    });
  }

  test('refusing sends access_denied', async () => {
    const page = await browser.context.newPage();
    const redirected = await captureRedirect(page);
    await page.goto(
      authorizeUrl(s, {
        clientId,
        redirectUri: REDIRECT,
        scope: 'aisp',
        state: 'no',
        codeChallenge: pkce().codeChallenge,
        lang: 'en',
      }),
    );
    await page.getByRole('button', { name: LABELS.en.refuse }).click();
    const url = await redirected();
    assert.equal(url.searchParams.get('error'), 'access_denied');
    assert.equal(url.searchParams.get('state'), 'no');
    await page.close();
  });

  test('an unknown client gets an error page, in a narrow viewport too', async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 360, height: 740 });
    const res = await page.goto(
      `${s.psuUrl}/en/authorize?client_id=unknown&redirect_uri=${encodeURIComponent(REDIRECT)}`,
    );
    assert.equal(res?.status(), 400);
    assert.ok((await page.textContent('main'))!.includes('not known to your bank'));
    await screenshot(page, 'error-unknown-client-en');
    await page.close();
  });
});

describe('PSU pages in Chromium: production login, TOTP and consent', { skip }, () => {
  let s: TestServer;
  let dataDir: string;
  let browser: Browser;
  let clientId: string;
  const secrets: Record<string, string> = {};
  before(async () => {
    const started = await startProductionServer();
    s = started.server;
    dataDir = started.dataDir;
    const io = (stdin: string) => ({
      out: (t: string) => {
        last += t;
      },
      readStdin: async () => stdin,
    });
    let last = '';
    for (const lang of ['fr', 'en']) {
      last = '';
      await psuCommandWith(
        ['add', '--username', `psu-${lang}`, '--name', `PSU ${lang}`, '--password-stdin'],
        started.config,
        io('s3cret-passw0rd'),
      );
      secrets[lang] = /^totp_secret: (\w+)$/m.exec(last)![1]!;
      for (const [type, name] of [
        ['current', 'Compte Chèques'],
        ['savings', 'Livret A'],
      ]) {
        await accountCommandWith(
          [
            'add',
            '--username',
            `psu-${lang}`,
            '--iban',
            'FR7630006000011234567890189',
            '--name',
            name!,
            '--type',
            type!,
          ],
          started.config,
          { out: () => {} },
        );
      }
    }
    browser = await launch();
    const tpp = await makeTpp(s, ['PSP_AI']);
    clientId = (
      await tpp.call('POST', '/register', { body: { redirect_uris: [REDIRECT], client_name: 'Acme Budget' } })
    ).json().client_id;
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  for (const lang of ['fr', 'en'] as const) {
    test(`login, one-time code, account choice, approval (${lang})`, async () => {
      const page = await browser.context.newPage();
      const violations = cspViolations(page);
      const redirected = await captureRedirect(page);
      const L = LABELS[lang];
      await page.goto(
        authorizeUrl(s, {
          clientId,
          redirectUri: REDIRECT,
          scope: 'aisp',
          state: `prod-${lang}`,
          codeChallenge: pkce().codeChallenge,
          lang,
        }),
      );
      await screenshot(page, `production-login-${lang}`);
      await page.getByLabel(L.id).fill(`psu-${lang}`);
      await page.getByLabel(L.password).fill('s3cret-passw0rd');
      await page.getByRole('button', { name: L.go }).click();
      await page.getByLabel(L.otp).waitFor();
      await screenshot(page, `production-otp-${lang}`);
      await page.getByLabel(L.otp).fill(currentTotp(secrets[lang]!));
      await page.getByRole('button', { name: L.confirm }).click();
      await page.getByRole('button', { name: L.approve }).waitFor();
      await page.getByRole('checkbox').nth(1).check();
      await screenshot(page, `production-consent-${lang}`);
      await page.getByRole('button', { name: L.approve }).click();
      const url = await redirected();
      assert.ok(url.searchParams.get('code'));
      assert.equal(url.searchParams.get('state'), `prod-${lang}`);
      assert.equal(url.searchParams.get('iss'), 'https://localhost');
      assert.deepEqual(violations, []);
      await page.close();
    });
  }

  test('a wrong code brings the PSU back to the login page with one message', async () => {
    const page = await browser.context.newPage();
    await page.goto(
      authorizeUrl(s, {
        clientId,
        redirectUri: REDIRECT,
        scope: 'aisp',
        codeChallenge: pkce().codeChallenge,
        lang: 'en',
      }),
    );
    await page.getByLabel(LABELS.en.id).fill('psu-en');
    await page.getByLabel(LABELS.en.password).fill('wrong');
    await page.getByRole('button', { name: LABELS.en.go }).click();
    await page.getByLabel(LABELS.en.otp).fill('123456');
    await page.getByRole('button', { name: LABELS.en.confirm }).click();
    await page.getByRole('alert').waitFor();
    assert.ok((await page.getByRole('alert').textContent())!.includes('Authentication failed'));
    await screenshot(page, 'production-login-failed-en');
    await page.close();
  });
});
