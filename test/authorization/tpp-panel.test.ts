// The TPP as the PSU sees it (issue 14 item 2): its declared name, logo and links, and, set apart,
// the legal name and licence the bank verified in its QWAC, stored at registration and updated by
// RFC 7592. Hostile text (from client_name or from a certificate's O=) is escaped and made inert.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { authorisationText, tppDisplay, tppPanel } from '../../server/pages/tpp.ts';
import { x509 } from '../../server/pki/x509.ts';
import type { ClientRecord } from '../../server/protocol/registration/ports.ts';
import { organizationNameFromDn, rfc4514 } from '../../server/protocol/tpp-identity.ts';
import { request } from '../support/https.ts';
import { authorizeUrl, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const record = (overrides: Partial<ClientRecord> = {}): ClientRecord => ({
  clientId: 'client-1',
  organizationId: 'PSDFR-ACPR-12345',
  organizationName: 'Agrégateur SAS',
  metadata: {
    redirect_uris: ['https://tpp.example/cb'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'aisp',
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=Agrégateur,O=Agrégateur SAS,C=FR',
    client_name: 'Budget',
    'client_name#fr': 'Budget (fr)',
    client_uri: 'https://tpp.example/',
    'policy_uri#fr': 'https://tpp.example/fr/confidentialite',
    policy_uri: 'https://tpp.example/privacy',
  },
  registrationTokenDigest: 'x',
  issuedAt: 0,
  updatedAt: 0,
  ...overrides,
});

const render = async (r: ClientRecord | undefined, lang: 'fr' | 'en') =>
  String(await tppPanel(lang, tppDisplay(r, 'client-1', lang)));

test('the licence in the words of each language; another NCA names its country', () => {
  const acpr = { nca: 'ACPR', country: 'FR', number: '12345' };
  assert.equal(authorisationText('fr', acpr), 'Agréé par ACPR sous le n° 12345');
  assert.equal(authorisationText('en', acpr), 'Authorised by ACPR, no. 12345');
  const bafin = { nca: 'BAFIN', country: 'DE', number: '987' };
  assert.equal(authorisationText('fr', bafin), 'Agréé par BAFIN (Allemagne) sous le n° 987');
  assert.equal(authorisationText('en', bafin), 'Authorised by BAFIN (Germany), no. 987');
});

test('the panel: localised name and links, the verified legal name and licence set apart', async () => {
  const fr = await render(record(), 'fr');
  assert.match(fr, /<h2 class="tpp-name"><bdi>Budget \(fr\)<\/bdi><\/h2>/);
  assert.match(
    fr,
    /<div class="verified">[\s\S]*Raison sociale[\s\S]*Agrégateur SAS[\s\S]*Agréé par ACPR sous le n° 12345/,
  );
  assert.match(fr, /href="https:\/\/tpp.example\/fr\/confidentialite" target="_blank" rel="noopener noreferrer"/);
  assert.doesNotMatch(fr, /Conditions/, 'no tos_uri registered: no link');
  const en = await render(record(), 'en');
  assert.match(en, /Authorised by ACPR, no. 12345/);
  assert.match(en, /href="https:\/\/tpp.example\/privacy"/);
  assert.match(en, /href="https:\/\/tpp.example\/"[^>]*>Website<\/a> <span class="host">\(tpp.example\)/);
});

test('a client stored before the legal name had a column: read from its subject DN; none: the licence only', async () => {
  assert.match(
    await render(record({ organizationName: null }), 'en'),
    /Legal name<\/dt><dd class="legal-name"><bdi>Agrégateur SAS</,
  );
  const noO = record({ organizationName: null });
  noO.metadata.tls_client_auth_subject_dn = 'CN=x,C=FR';
  const page = await render(noO, 'en');
  assert.doesNotMatch(page, /Legal name/);
  assert.match(page, /Authorised by ACPR, no. 12345/);
  // Unknown client: its id only, nothing claimed as verified.
  const unknown = await render(undefined, 'en');
  assert.match(unknown, /<bdi>client-1<\/bdi>/);
  assert.doesNotMatch(unknown, /verified/);
});

test('organizationNameFromDn undoes the escapes rfc4514() writes, hex and multi-valued RDNs included', () => {
  // (x509.Name drops quotes and backslashes from the values it is given: those are checked by hand below.)
  for (const o of ['Plain SAS', 'A, B + C; <E>', ' #lead', 'trail ', 'Café Ünïcode', 'x\u0000y']) {
    const name = new x509.Name([{ C: ['FR'] }, { O: [o], '2.5.4.97': ['PSDFR-ACPR-1'] }, { CN: ['cn, with comma'] }]);
    const dn = rfc4514(name.toArrayBuffer());
    assert.equal(organizationNameFromDn(dn), o, dn);
  }
  assert.equal(organizationNameFromDn('CN=a\\,b,O=\\"D\\" x\\\\F\\2C,C=FR'), '"D" x\\F,');
  assert.equal(organizationNameFromDn('CN=x,C=FR'), undefined);
  assert.equal(organizationNameFromDn('O=#0c0141,C=FR'), undefined, 'a hex value is not guessed at');
  assert.equal(organizationNameFromDn('OU=Not it,O=It'), 'It');
});

test('hostile text is escaped, and control or bidi characters shown, not obeyed', async () => {
  const hostile = record({ organizationName: 'Evil <script>alert(1)</script>\u202Egnp.exe & Co' });
  hostile.metadata.client_name = '<img src=x onerror=alert(1)>"\u2066';
  const page = await render(hostile, 'en');
  assert.doesNotMatch(page, /<script>|<img src=x/);
  assert.match(page, /Evil &lt;script&gt;alert\(1\)&lt;\/script&gt;\uFFFDgnp.exe &amp; Co/);
  assert.match(page, /&lt;img src=x onerror=alert\(1\)&gt;&quot;\uFFFD/);
  assert.doesNotMatch(page, /[\u202A-\u202E\u2066-\u2069]/);
});

describe('the panel on the PSU pages, stored at registration and updated by RFC 7592', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('legal name and licence from the QWAC; a new certificate’s O= replaces it on update', async () => {
    const org = `PSDFR-ACPR-${process.pid}77`;
    const first = await makeTpp(s, ['PSP_AI'], {
      name: 'Evil <script>alert(1)</script> SAS',
      organizationIdentifier: org,
    });
    const metadata = {
      redirect_uris: ['https://tpp.example/cb'],
      client_name: 'Mon Budget',
      client_uri: 'https://tpp.example/',
      tos_uri: 'https://tpp.example/tos',
      'tos_uri#fr': 'https://tpp.example/cgu',
    };
    const registered = (await first.call('POST', '/register', { body: metadata })).json();
    const page = async (lang: 'fr' | 'en') => {
      const url = authorizeUrl(s, {
        clientId: registered.client_id,
        redirectUri: 'https://tpp.example/cb',
        scope: 'aisp',
        codeChallenge: pkce().codeChallenge,
        lang,
      });
      const res = await request(url, { ca: s.caPem });
      assert.equal(res.status, 200);
      return res.text;
    };
    const number = org.slice('PSDFR-ACPR-'.length);
    const fr = await page('fr');
    assert.match(fr, /Evil &lt;script&gt;alert\(1\)&lt;\/script&gt; SAS/);
    assert.doesNotMatch(fr, /<script>/);
    assert.ok(fr.includes(`Agréé par ACPR sous le n° ${number}`));
    assert.match(fr, /href="https:\/\/tpp.example\/cgu"/);
    const en = await page('en');
    assert.ok(en.includes(`Authorised by ACPR, no. ${number}`));
    assert.match(en, /href="https:\/\/tpp.example\/tos"[^>]*>Terms of service/);

    // The organisation's new certificate (a changed legal name) updates the client.
    const second = await makeTpp(s, ['PSP_AI'], { name: 'Renamed SAS', organizationIdentifier: org });
    const updated = await second.call('PUT', `/register/${registered.client_id}`, {
      body: { ...metadata, client_id: registered.client_id },
      headers: { authorization: `Bearer ${registered.registration_access_token}` },
    });
    assert.equal(updated.status, 200, updated.text);
    const after = await page('en');
    assert.match(after, /<dd class="legal-name"><bdi>Renamed SAS<\/bdi>/);
    assert.doesNotMatch(after, /Evil/);
  });
});
