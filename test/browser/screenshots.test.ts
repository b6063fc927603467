// Every PSU page of the journey, branded, in both languages, at desktop (1280 px) and phone (390 px)
// width, in Chromium: the screenshots in test-artifacts/psu-*.png are for a person to look at (the
// README shows some). Along the way: the header carries the bank's branding, the CSP is never
// violated, nothing overflows the phone width, and the language switch keeps the request.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { accountCommandWith } from '../../server/cli/account.ts';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { currentTotp } from '../../server/protocol/psu-authentication.ts';
import { brandingEnv } from '../support/branding.ts';
import {
  type Browser,
  browserSkipReason,
  captureRedirect,
  cspViolations,
  launch,
  type Page,
  REDIRECT,
  screenshot,
} from '../support/browser.ts';
import { startProductionServer } from '../support/production.ts';
import { authorizeUrl, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const skip = browserSkipReason();
const WIDTHS = [1280, 390] as const;
const LANGS = ['fr', 'en'] as const;
const TPP_LOGO =
  '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 48 48"><circle cx="24" cy="24" r="22" fill="#1b7f5b"/><text x="24" y="31" font-family="sans-serif" font-size="20" fill="#fff" text-anchor="middle">B</text></svg>';
const LABELS = {
  fr: {
    id: 'Identifiant client',
    password: 'Mot de passe',
    otp: /Code à usage unique/,
    go: 'Continuer',
    confirm: 'Confirmer',
    approve: 'Autoriser l’accès',
    other: 'English',
  },
  en: {
    id: 'Customer identifier',
    password: 'Password',
    otp: /One-time code/,
    go: 'Continue',
    confirm: 'Confirm',
    approve: 'Allow access',
    other: 'Français',
  },
} as const;

/** A TPP with a logo, links and localised names, as a real one registers; its logo answered by the test. */
async function registerTpp(s: TestServer): Promise<string> {
  const tpp = await makeTpp(s, ['PSP_AI'], {
    name: 'Budget Malin SAS',
    organizationIdentifier: `PSDFR-ACPR-${process.pid % 100000}`,
  });
  const reg = await tpp.call('POST', '/register', {
    body: {
      redirect_uris: [REDIRECT],
      client_name: 'Budget Malin',
      'client_name#en': 'Smart Budget',
      logo_uri: 'https://cdn.budget-malin.example/logo.svg',
      client_uri: 'https://www.budget-malin.example/',
      policy_uri: 'https://www.budget-malin.example/privacy',
      'policy_uri#fr': 'https://www.budget-malin.example/confidentialite',
      tos_uri: 'https://www.budget-malin.example/terms',
      'tos_uri#fr': 'https://www.budget-malin.example/cgu',
    },
  });
  assert.equal(reg.status, 201, reg.text);
  return reg.json().client_id;
}

async function openPage(browser: Browser, width: number): Promise<{ page: Page; violations: string[] }> {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width, height: 800 });
  const violations = cspViolations(page);
  await page.route('https://cdn.budget-malin.example/**', (route) =>
    route.fulfill({ status: 200, contentType: 'image/svg+xml', body: TPP_LOGO }),
  );
  return { page, violations };
}

/** The branded header, and no horizontal scrolling at this width. */
async function checkFrame(page: Page, width: number): Promise<void> {
  // After a click, the next page's images may still be loading.
  await page.waitForLoadState('load');
  assert.equal(await page.locator('header.bank .bank-name').textContent(), 'Banque Exemple');
  // BANK_PRIMARY_COLOR=#7a1f3d, through the stylesheet (the CSP allows no inline style).
  assert.equal(
    await page.locator('header.bank').evaluate((h) => getComputedStyle(h).backgroundColor),
    'rgb(122, 31, 61)',
  );
  assert.match(await page.title(), / – Banque Exemple$/);
  assert.ok(await page.locator('header.bank img.bank-logo').evaluate((img: HTMLImageElement) => img.naturalWidth > 0));
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= width, `the page is ${scrollWidth} px wide at ${width} px`);
}

describe('screenshots of every PSU page, branded (sandbox server)', { skip }, () => {
  let s: TestServer;
  let dir: string;
  let browser: Browser;
  let clientId: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-shots-'));
    s = await startTestServer(brandingEnv(dir));
    clientId = await registerTpp(s);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const width of WIDTHS) {
    for (const lang of LANGS) {
      test(`sandbox and error pages (${lang}, ${width} px)`, async () => {
        const { page, violations } = await openPage(browser, width);
        const url = authorizeUrl(s, {
          clientId,
          redirectUri: REDIRECT,
          scope: 'aisp',
          codeChallenge: pkce().codeChallenge,
          lang,
        });
        await page.goto(url);
        await checkFrame(page, width);
        assert.ok(await page.locator('section.tpp img').evaluate((img: HTMLImageElement) => img.naturalWidth > 0));
        await screenshot(page, `psu-sandbox-${lang}-${width}`);
        await page.goto(`${s.psuUrl}/${lang}/authorize?client_id=unknown-client`);
        await checkFrame(page, width);
        await screenshot(page, `psu-error-${lang}-${width}`);
        assert.deepEqual(violations, []);
        await page.close();
      });
    }
  }

  test('switching language on the sandbox page keeps the request: approving in English completes it', async () => {
    const { page, violations } = await openPage(browser, 1280);
    const redirected = await captureRedirect(page);
    const state = 'switch-state';
    await page.goto(
      authorizeUrl(s, {
        clientId,
        redirectUri: REDIRECT,
        scope: 'aisp',
        state,
        codeChallenge: pkce().codeChallenge,
        lang: 'fr',
      }),
    );
    assert.equal(await page.locator('.tpp-name').textContent(), 'Budget Malin');
    await page.getByRole('link', { name: 'English' }).click();
    await page.getByRole('button', { name: 'Allow access' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.equal(await page.locator('.tpp-name').textContent(), 'Smart Budget');
    assert.equal(new URL(page.url()).pathname, '/en/authorize/consent');
    await page.getByRole('button', { name: 'Allow access' }).click();
    const back = await redirected();
    assert.equal(back.searchParams.get('state'), state);
    assert.ok(back.searchParams.get('code'));
    assert.deepEqual(violations, []);
    await page.close();
  });
});

describe('screenshots of every PSU page, branded (production: login, code, consent)', { skip }, () => {
  let s: TestServer;
  let dataDir: string;
  let browser: Browser;
  let clientId: string;
  const secrets = new Map<string, string>();
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'psd2-oauth-shots-prod-'));
    const started = await startProductionServer(brandingEnv(dataDir), dataDir);
    s = started.server;
    for (const width of WIDTHS) {
      for (const lang of LANGS) {
        const username = `psu-${lang}-${width}`;
        let out = '';
        await psuCommandWith(
          ['add', '--username', username, '--name', 'Jeanne Dupont', '--password-stdin'],
          started.config,
          {
            out: (t: string) => {
              out += t;
            },
            readStdin: async () => 's3cret-passw0rd',
          },
        );
        secrets.set(username, /^totp_secret: (\w+)$/m.exec(out)![1]!);
        for (const [type, name, iban] of [
          ['current', 'Compte Chèques', 'FR7630006000011234567890189'],
          ['savings', 'Livret A', 'FR7630004000031234567890143'],
        ] as const) {
          await accountCommandWith(
            ['add', '--username', username, '--iban', iban, '--name', name, '--type', type],
            started.config,
            { out: () => {} },
          );
        }
      }
    }
    clientId = await registerTpp(s);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  for (const width of WIDTHS) {
    for (const lang of LANGS) {
      test(`login, one-time code and consent (${lang}, ${width} px), switching language at each step`, async () => {
        const { page, violations } = await openPage(browser, width);
        const redirected = await captureRedirect(page);
        const L = LABELS[lang];
        const other = lang === 'fr' ? 'en' : 'fr';
        const username = `psu-${lang}-${width}`;
        await page.goto(
          authorizeUrl(s, {
            clientId,
            redirectUri: REDIRECT,
            scope: 'aisp',
            state: 's',
            codeChallenge: pkce().codeChallenge,
            lang,
          }),
        );
        await checkFrame(page, width);
        await screenshot(page, `psu-login-${lang}-${width}`);
        // There and back on the login page: the same session (the form still logs in).
        await page.getByRole('link', { name: L.other }).click();
        assert.equal(new URL(page.url()).pathname, `/${other}/authorize/login`);
        await page.getByRole('link', { name: LABELS[other].other }).click();
        assert.equal(new URL(page.url()).pathname, `/${lang}/authorize/login`);
        await page.getByLabel(L.id).fill(username);
        await page.getByLabel(L.password).fill('s3cret-passw0rd');
        await page.getByRole('button', { name: L.go }).click();
        await page.getByLabel(L.otp).waitFor();
        await checkFrame(page, width);
        await screenshot(page, `psu-otp-${lang}-${width}`);
        await page.getByLabel(L.otp).fill(currentTotp(secrets.get(username)!));
        await page.getByRole('button', { name: L.confirm }).click();
        await page.getByRole('button', { name: L.approve }).waitFor();
        await page.getByRole('checkbox').first().check();
        await checkFrame(page, width);
        await screenshot(page, `psu-consent-${lang}-${width}`);
        // The consent step in the other language is the same step of the same session.
        await page.getByRole('link', { name: L.other }).click();
        const O = LABELS[other];
        await page.getByRole('button', { name: O.approve }).waitFor();
        assert.equal(new URL(page.url()).pathname, `/${other}/authorize/consent`);
        await page.getByRole('checkbox').first().check();
        await page.getByRole('button', { name: O.approve }).click();
        const back = await redirected();
        assert.ok(back.searchParams.get('code'));
        assert.deepEqual(violations, []);
        await page.close();
      });
    }
  }
});
