// Issue 12, item 1 in a real browser: a TPP cannot make the bank's consent page frameable. A page
// served from a second local origin frames the consent page of (a) a client whose hostile logo_uri
// registration was refused, registered with a plain logo instead, and (b) a client stored with a
// hostile logo_uri before the registration rules existed. Chromium must refuse to render either in
// the frame, while it renders the same pages top-level and frames a harmless response of the same
// server (so the harness can tell framing from failure). /docs likewise.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type Browser, browserSkipReason, launch, REDIRECT } from '../support/browser.ts';
import { authorizeUrl, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const HOSTILE_LOGO = 'https://tpp.example/l.png; frame-ancestors *';
const skip = browserSkipReason();

/** The second origin: a page that frames whatever `src` names. */
async function framingOrigin(): Promise<{ server: Server; url: (src: string) => string }> {
  const server = createServer((req, res) => {
    const src = new URL(req.url ?? '/', 'http://x').searchParams.get('src') ?? '';
    const attr = src.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><title>attacker</title><iframe id="f" src="${attr}" width="900" height="700" onload="this.dataset.loaded='1'"></iframe>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, url: (src) => `http://127.0.0.1:${port}/frame?src=${encodeURIComponent(src)}` };
}

describe('the consent page cannot be framed cross-origin (Chromium)', { skip }, () => {
  let s: TestServer;
  let browser: Browser;
  let framer: Awaited<ReturnType<typeof framingOrigin>>;
  const clients: Record<string, string> = {};

  before(async () => {
    s = await startTestServer();
    browser = await launch();
    framer = await framingOrigin();
    const tpp = await makeTpp(s, ['PSP_AI']);
    const hostile = await tpp.call('POST', '/register', {
      body: { redirect_uris: [REDIRECT], client_name: 'Hostile', logo_uri: HOSTILE_LOGO },
    });
    assert.equal(hostile.status, 400, 'the hostile logo is refused at registration');
    const plain = await tpp.call('POST', '/register', {
      body: { redirect_uris: [REDIRECT], client_name: 'Plain', logo_uri: 'https://tpp.example/l.png' },
    });
    assert.equal(plain.status, 201, plain.text);
    clients.registered = plain.json().client_id;
    // A client stored before the registration rules, through the server's own store port.
    const now = Date.now();
    await (await s.stores!()).clients.insert(
      {
        clientId: 'legacy-hostile',
        organizationId: 'PSDFR-ACPR-LEGACY',
        metadata: {
          redirect_uris: [REDIRECT],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'aisp',
          token_endpoint_auth_method: 'tls_client_auth',
          tls_client_auth_subject_dn: 'CN=Legacy',
          client_name: 'Legacy hostile',
          logo_uri: HOSTILE_LOGO,
          'logo_uri#en': "https://tpp.example/l.png; script-src 'unsafe-inline'; frame-ancestors *",
        },
        registrationTokenDigest: 'none',
        issuedAt: now,
        updatedAt: now,
      },
      {
        action: 'client.registered',
        clientId: 'legacy-hostile',
        actorSubjectDn: 'CN=Legacy',
        actorThumbprint: 'none',
        occurredAt: now,
      },
    );
    clients.legacy = 'legacy-hostile';
  });
  after(async () => {
    await browser?.close();
    framer?.server.close();
    await s?.close();
  });

  const consentUrl = (clientId: string) =>
    authorizeUrl(s, {
      clientId,
      redirectUri: REDIRECT,
      scope: 'aisp',
      codeChallenge: pkce().codeChallenge,
      lang: 'en',
    });

  /** Loads `src` inside the attacker's iframe; returns what the frame shows. */
  async function framed(src: string): Promise<{ url: string; text: string; buttons: number; violations: string[] }> {
    const page = await browser.context.newPage();
    const violations: string[] = [];
    page.on('console', (msg) => {
      if (/frame-ancestors|X-Frame-Options/i.test(msg.text())) violations.push(msg.text());
    });
    try {
      await page.goto(framer.url(src));
      await page.waitForFunction(() => document.getElementById('f')?.dataset.loaded === '1', undefined, {
        timeout: 15_000,
      });
      const frame = page.frames().find((f) => f !== page.mainFrame());
      assert.ok(frame, 'the iframe exists');
      const text = await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      const buttons = await frame
        .locator('button')
        .count()
        .catch(() => 0);
      return { url: frame.url(), text, buttons, violations };
    } finally {
      await page.close();
    }
  }

  test('control: a response without frame protection is framed, so the harness sees framing', async () => {
    const shown = await framed(`${s.url}/health`);
    assert.match(shown.text, /"status":"ok"/);
  });

  for (const which of ['registered', 'legacy'] as const) {
    test(`the ${which} client's consent page renders top-level, never inside the attacker's frame`, async () => {
      const url = consentUrl(clients[which] as string);
      const top = await browser.context.newPage();
      try {
        await top.goto(url);
        assert.ok(await top.getByRole('button', { name: 'Allow access' }).isVisible(), 'top-level page works');
        assert.equal(await top.locator('img').count(), which === 'legacy' ? 0 : 1, 'the hostile logo is not shown');
      } finally {
        await top.close();
      }
      const shown = await framed(url);
      assert.equal(shown.buttons, 0, `the approve button is not reachable in the frame (${shown.url})`);
      assert.ok(!shown.text.includes('Allow access'), shown.text.slice(0, 200));
      assert.ok(shown.violations.length > 0 || shown.url.startsWith('chrome-error:'), 'Chromium blocked the frame');
    });
  }

  test('/docs renders under its strict CSP top-level and is not framed', async () => {
    const top = await browser.context.newPage();
    const violations: string[] = [];
    top.on('console', (msg) => {
      if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
    });
    try {
      await top.goto(`${s.url}/docs`);
      await top.locator('.swagger-ui .info .title').first().waitFor({ timeout: 20_000 });
      assert.match((await top.locator('.swagger-ui .info .title').first().textContent()) ?? '', /psd2-oauth/);
      assert.deepEqual(violations, []);
    } finally {
      await top.close();
    }
    const shown = await framed(`${s.url}/docs`);
    assert.ok(!shown.text.includes('psd2-oauth'), shown.text.slice(0, 200));
    assert.ok(shown.violations.length > 0 || shown.url.startsWith('chrome-error:'), 'Chromium blocked the frame');
  });
});
