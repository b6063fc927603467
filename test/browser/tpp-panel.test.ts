// The TPP identity panel in Chromium: a certificate whose O= carries markup and a right-to-left
// override, and a client_name with markup, reach the page as inert text (no element, no script,
// no reordering), beside the licence read from the organizationIdentifier.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Browser, browserSkipReason, cspViolations, launch, REDIRECT } from '../support/browser.ts';
import { authorizeUrl, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const skip = browserSkipReason();
const HOSTILE_O = 'Evil <script>window.pwned=1</script>\u202Egnp.exe SAS';
const HOSTILE_NAME = '<img src=x onerror="window.pwned=2">Budget';

describe('the TPP panel in Chromium', { skip }, () => {
  let s: TestServer;
  let browser: Browser;
  let clientId: string;
  let number: string;
  before(async () => {
    s = await startTestServer();
    browser = await launch();
    number = `${process.pid}42`;
    const tpp = await makeTpp(s, ['PSP_AI'], { name: HOSTILE_O, organizationIdentifier: `PSDDE-BAFIN-${number}` });
    const reg = await tpp.call('POST', '/register', {
      body: { redirect_uris: [REDIRECT], client_name: HOSTILE_NAME, policy_uri: 'https://tpp.example/privacy' },
    });
    assert.equal(reg.status, 201, reg.text);
    clientId = reg.json().client_id;
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  test('hostile O= and client_name are text; the licence names the NCA and its country', async () => {
    const page = await browser.context.newPage();
    const violations = cspViolations(page);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const url = authorizeUrl(s, {
      clientId,
      redirectUri: REDIRECT,
      scope: 'aisp',
      codeChallenge: pkce().codeChallenge,
      lang: 'en',
    });
    await page.goto(url);
    const panel = page.locator('section.tpp');
    assert.equal(await panel.locator('.tpp-name').textContent(), HOSTILE_NAME);
    assert.equal(await panel.locator('.legal-name').textContent(), HOSTILE_O.replace('\u202E', '\uFFFD'));
    assert.equal(await panel.locator('.authorisation').textContent(), `Authorised by BAFIN (Germany), no. ${number}`);
    assert.equal(
      await panel.getByRole('link', { name: 'Privacy policy' }).getAttribute('href'),
      'https://tpp.example/privacy',
    );
    assert.equal(await page.locator('script, main img[src="x"]').count(), 0);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(violations, []);
    await page.close();
  });
});
