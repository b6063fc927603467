// A browser that holds a client certificate opens the consent page on the PSU listener: the server
// never asks for the certificate there (checked on the server's side of each TLS connection),
// while the same browser does send it to the mTLS listener when asked. The TPP endpoints are not
// served on the PSU listener.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { type Browser, browserSkipReason, launch, REDIRECT } from '../support/browser.ts';
import { authorizeUrl, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

const skip = browserSkipReason();

describe('PSU listener in Chromium: no certificate request', { skip }, () => {
  let s: TestServer;
  let tpp: Tpp;
  let browser: Browser;
  let clientId: string;
  const peerCertificates: Record<'tpp' | 'psu', boolean[]> = { tpp: [], psu: [] };
  before(async () => {
    s = await startTestServer({ PSU_PORT: '0' });
    for (const l of s.server.listeners) {
      if (l.role === 'all') continue;
      l.server.on('secureConnection', (socket: TLSSocket) => {
        peerCertificates[l.role as 'tpp' | 'psu'].push(Object.keys(socket.getPeerCertificate() ?? {}).length > 0);
      });
    }
    tpp = await makeTpp(s, ['PSP_AI']);
    clientId = (
      await tpp.call('POST', '/register', { body: { redirect_uris: [REDIRECT], client_name: 'Acme' } })
    ).json().client_id;
    // The browser holds the QWAC for both origins: it would present it wherever it is asked for one.
    const clientCertificates = [s.url, s.psuUrl].map((origin) => ({
      origin,
      cert: Buffer.from(tpp.certChain),
      key: Buffer.from(tpp.key),
    }));
    browser = await launch({ clientCertificates });
  });
  after(async () => {
    await browser?.close();
    await s?.close();
  });

  test('the consent page opens without a certificate request; the TPP listener gets the certificate', async () => {
    const page = await browser.context.newPage();
    const res = await page.goto(
      authorizeUrl(s, {
        clientId,
        redirectUri: REDIRECT,
        scope: 'aisp',
        codeChallenge: pkce().codeChallenge,
        lang: 'en',
      }),
    );
    assert.equal(res?.status(), 200);
    assert.ok((await page.textContent('main'))!.includes('Acme'));
    assert.ok(peerCertificates.psu.length > 0, 'the page came over the PSU listener');
    assert.ok(
      peerCertificates.psu.every((sent) => !sent),
      'no connection to the PSU listener carried a certificate',
    );

    // The control: the same browser, on the mTLS listener, is asked and presents its certificate.
    const metadata = await page.goto(`${s.url}/.well-known/oauth-authorization-server`);
    assert.equal(metadata?.status(), 200);
    assert.ok(
      peerCertificates.tpp.some((sent) => sent),
      'the browser presents its certificate when asked',
    );
    await page.close();
  });

  test('the TPP endpoints are not served on the PSU listener', async () => {
    const page = await browser.context.newPage();
    for (const path of ['/register', '/token', '/par', '/revoke', '/introspect']) {
      const res = await page.request.post(`${s.psuUrl}${path}`, { form: { client_id: clientId } });
      assert.equal(res.status(), 404, path);
    }
    await page.close();
  });
});
