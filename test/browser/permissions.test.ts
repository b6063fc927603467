// The permission dashboard in headless Chromium (sandbox: the persona stands for the signed-in
// PSU): two TPPs hold a consent of the same PSU, the PSU withdraws one through the confirmation
// step; then the TPP's refresh is invalid_grant, its access token inactive, the other consent
// untouched, the history shows the withdrawal, and the back-office API says the same. Screenshots
// of the dashboard in French and English, desktop and 390 px wide, go to test-artifacts/.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sandboxAccountId, sandboxPsuId } from '../../server/protocol/sandbox-personas.ts';
import { startBank } from '../support/bank.ts';
import { brandingEnv } from '../support/branding.ts';
import { type Browser, browserSkipReason, cspViolations, launch, type Page, screenshot } from '../support/browser.ts';
import {
  addResourceServer,
  introspector,
  type OAuthTpp,
  oauthError,
  oauthTpp,
  REDIRECT_URI,
} from '../support/oauth-tpp.ts';
import { authorisePayment, backOffice, backOfficeEnv, consent, refresh } from '../support/permissions.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const skip = browserSkipReason();
const ALICE = sandboxPsuId('alice');

describe('permission dashboard in Chromium', { skip }, () => {
  let s: TestServer;
  let browser: Browser;
  let budget: OAuthTpp;
  let funds: OAuthTpp;
  let introspect: Awaited<ReturnType<typeof introspector>>;
  const tokens: Record<string, { access_token: string; refresh_token?: string; consentId: string }> = {};
  let brunosConsent = '';

  // The bank's branding, as a bank runs it: the screenshots show its header.
  const logoDir = mkdtempSync(join(tmpdir(), 'psd2-oauth-brand-'));

  before(async () => {
    s = await startTestServer({ ...(await backOfficeEnv()), ...brandingEnv(logoDir) });
    browser = await launch();
    budget = await oauthTpp(s, ['PSP_AI'], {
      redirect_uris: [REDIRECT_URI],
      client_name: 'Budget Malin',
      'client_name#fr': 'Budget Malin (FR)',
    });
    funds = await oauthTpp(s, ['PSP_IC'], { redirect_uris: [REDIRECT_URI], client_name: 'Fonds Check' });
    introspect = await introspector(s, await addResourceServer(s, 'accounts-api'));
    for (const [name, tpp, scope, accounts] of [
      ['budget', budget, 'aisp extended_transaction_history', ['current', 'savings']],
      ['funds', funds, 'cbpii', ['current']],
    ] as const) {
      const t = await consent(
        s,
        tpp,
        scope,
        accounts.map((a) => sandboxAccountId('alice', a)),
      );
      tokens[name] = { ...t, consentId: (await introspect(t.access_token)).consent_id as string };
    }
    const bruno = await consent(s, budget, 'aisp', [sandboxAccountId('bruno', 'current')]);
    brunosConsent = (await introspect(bruno.access_token)).consent_id as string;
    // An authorised payment for the history (read-only).
    const pisp = await oauthTpp(s, ['PSP_PI'], {
      grant_types: ['client_credentials', 'authorization_code'],
      redirect_uris: [REDIRECT_URI],
      client_name: 'Paiement Express',
    });
    await authorisePayment(
      s,
      await startBank(s),
      pisp,
      {
        instructedAmount: { amount: '42.90', currency: 'EUR' },
        creditorName: 'Librairie du Centre',
        creditorAccount: { iban: 'FR7630004000031234567890143' },
      },
      ALICE,
    );
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    rmSync(logoDir, { recursive: true, force: true });
  });

  async function signIn(page: Page, lang: 'fr' | 'en') {
    await page.goto(`${s.psuUrl}/${lang}/permissions`);
    await page.getByLabel('Alice Martin').check();
    await page.getByRole('button', { name: lang === 'fr' ? 'Continuer' : 'Continue' }).click();
    await page.getByRole('heading', { level: 1 }).waitFor();
  }

  test('the PSU withdraws one of two permissions through the confirmation step', async () => {
    const page = await browser.context.newPage();
    const violations = cspViolations(page);
    await signIn(page, 'en');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Access you granted to other services');
    const cards = page.locator('li.card[data-consent]:not(.ended)');
    assert.equal(await cards.count(), 2);
    const text = await page.locator('main').innerText();
    assert.match(text, /Budget Malin/);
    assert.match(text, /Fonds Check/);
    // The same verified panel as on the consent pages: the QWAC's O= and licence, apart from the declared name.
    assert.equal(await page.locator('li.card[data-consent]:not(.ended) .verified').count(), 2);
    assert.match(text, /Legal name\s+Test TPP \d+/);
    assert.match(text, /Authorised by [A-Z]+( \([A-Za-z ]+\))?, no\. \S+/);
    assert.match(text, /FR76 3000 6000 0112 3456 7890 189/);
    assert.match(text, /including those older than 90 days/);
    assert.match(text, /Check that funds are available/);
    assert.match(text, /Librairie du Centre/, 'the authorised payment in the history');
    assert.match(text, /€42\.90/);
    await screenshot(page, 'permissions-en-desktop');

    await page.getByRole('link', { name: 'Withdraw the access of Budget Malin' }).click();
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Withdraw this access?');
    const withdraw = page.getByRole('button', { name: 'Withdraw' });
    const back = page.getByRole('button', { name: 'Back' });
    const look = (l: typeof back) =>
      l.evaluate((b) => {
        const c = getComputedStyle(b);
        return [c.backgroundColor, c.color, c.fontSize, c.fontWeight, c.borderWidth, c.paddingTop].join(' ');
      });
    assert.equal(await look(withdraw), await look(back), 'Withdraw and Back look alike');
    const [w, b] = [await withdraw.boundingBox(), await back.boundingBox()];
    assert.ok(w && b && Math.abs(w.height - b.height) < 1, 'same height');
    await screenshot(page, 'permissions-confirm-en-desktop');
    // Back changes nothing.
    await back.click();
    assert.equal(await page.locator('li.card[data-consent]:not(.ended)').count(), 2);
    assert.equal((await introspect(tokens.budget!.access_token)).active, true);

    await page.getByRole('link', { name: 'Withdraw the access of Budget Malin' }).click();
    await page.getByRole('button', { name: 'Withdraw' }).click();
    await page.getByText('The access was withdrawn.').waitFor();
    assert.equal(await page.locator('li.card[data-consent]:not(.ended)').count(), 1);
    const ended = page.locator(`li.card.ended[data-consent="${tokens.budget!.consentId}"]`);
    assert.match(await ended.innerText(), /Withdrawn by you on \d{2}\/\d{2}\/\d{4}/);
    assert.deepEqual(violations, []);

    // The TPP sees it at once; the other TPP does not.
    assert.deepEqual(await oauthError(refresh(budget, tokens.budget!.refresh_token!)), {
      error: 'invalid_grant',
      status: 400,
    });
    assert.deepEqual(await introspect(tokens.budget!.access_token), { active: false });
    assert.equal((await introspect(tokens.funds!.access_token)).active, true);
    assert.ok((await refresh(funds, tokens.funds!.refresh_token!)).access_token);

    // The back-office API shows the same.
    const api = (await s.get(`/psus/${ALICE}/permissions`, { headers: backOffice })).json();
    assert.deepEqual(
      api.permissions.map((p: { consent_id: string }) => p.consent_id),
      [tokens.funds!.consentId],
    );
    assert.equal(api.history.permissions[0].consent_id, tokens.budget!.consentId);
    assert.equal(api.history.permissions[0].withdrawn_by, 'psu');
    assert.equal(api.history.payments[0].creditor_name, 'Librairie du Centre');

    // Another PSU's consent is not found; a form without the CSRF token is refused.
    const other = await page.goto(`${s.psuUrl}/en/permissions/${brunosConsent}/withdraw`);
    assert.equal(other?.status(), 404);
    const forged = await page.request.post(`${s.psuUrl}/en/permissions/${tokens.funds!.consentId}/withdraw`, {
      form: { nothing: '' },
      maxRedirects: 0,
    });
    assert.equal(forged.status(), 403);
    assert.equal((await introspect(tokens.funds!.access_token)).active, true);
    await page.close();
  });

  test('screenshots: French and English, desktop and 390 px wide', async () => {
    for (const lang of ['fr', 'en'] as const) {
      for (const [name, size] of [
        ['desktop', { width: 1280, height: 800 }],
        ['mobile', { width: 390, height: 844 }],
      ] as const) {
        const page = await browser.context.newPage();
        const violations = cspViolations(page);
        await page.setViewportSize(size);
        await page.goto(`${s.psuUrl}/${lang}/permissions`);
        if (await page.getByLabel('Alice Martin').count()) await signIn(page, lang);
        await page.locator('li.card').first().waitFor();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 0, `${lang} ${name}: no horizontal scrolling (${overflow} px)`);
        if (lang === 'fr') assert.match(await page.locator('main').innerText(), /Budget Malin \(FR\)|Fonds Check/);
        await screenshot(page, `permissions-${lang}-${name}`);
        if (name === 'mobile') {
          await page.locator('li.card:not(.ended) a.button').first().click();
          await page.getByRole('heading', { level: 1 }).waitFor();
          await screenshot(page, `permissions-confirm-${lang}-mobile`);
        }
        assert.deepEqual(violations, []);
        await page.close();
      }
    }
  });
});
