// What the PSU reads: times in the bank's zone (BANK_TIME_ZONE), IBANs in groups of four.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../server/config.ts';
import { formatInstant } from '../../server/pages/i18n.ts';
import { request } from '../support/https.ts';
import { authorizeUrl, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

test('an instant is shown in the bank’s zone, in the page’s language', () => {
  const noonUtc = Date.UTC(2026, 0, 15, 12, 0);
  assert.equal(formatInstant(noonUtc, 'fr', 'Europe/Paris'), '15/01/2026 13:00');
  assert.equal(formatInstant(noonUtc, 'en', 'America/New_York'), '15/01/2026, 07:00');
});

test('BANK_TIME_ZONE must be an IANA zone; Europe/Paris by default', () => {
  assert.equal(loadConfig({}).bankTimeZone, 'Europe/Paris');
  assert.equal(loadConfig({ BANK_TIME_ZONE: 'Europe/Lisbon' }).bankTimeZone, 'Europe/Lisbon');
  assert.throws(() => loadConfig({ BANK_TIME_ZONE: 'Mars/Olympus' }), /BANK_TIME_ZONE="Mars\/Olympus".*IANA/s);
});

describe('the sandbox page', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('groups IBANs by four', async () => {
    const tpp = await makeTpp(s, ['PSP_AI']);
    const clientId = (
      await tpp.call('POST', '/register', { body: { redirect_uris: ['https://tpp.example/cb'] } })
    ).json().client_id;
    const url = authorizeUrl(s, {
      clientId,
      redirectUri: 'https://tpp.example/cb',
      scope: 'aisp',
      codeChallenge: pkce().codeChallenge,
      lang: 'en',
    });
    const page = await request(url, { ca: s.caPem });
    assert.equal(page.status, 200);
    const ibans = [...page.text.matchAll(/<span class="iban">([^<(]+)/g)].map((m) => m[1]!.trim());
    assert.ok(ibans.length > 0);
    for (const iban of ibans) assert.match(iban, /^[A-Z]{2}\d{2}( [0-9A-Z]{1,4})+$/, iban);
  });
});
