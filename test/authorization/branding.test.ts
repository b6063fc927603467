// The bank's branding (issue 14 item 3): name, logo, primary colour and help link set by
// configuration, validated at start-up, shown in the pages' header and <title>, the colour in the
// stylesheet (no inline style: the CSP stays strict), the name in the TOTP enrolment URI.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { psuCommandWith } from '../../server/cli/psu.ts';
import { loadConfig, loadStorageConfig } from '../../server/config.ts';
import { OperatorError } from '../../server/operator-error.ts';
import { contrastWithWhite, logoContentType } from '../../server/pages/branding.ts';
import { loadBranding } from '../../server/startup.ts';
import { BANK_LOGO_SVG } from '../support/branding.ts';
import { request } from '../support/https.ts';
import { authorizeUrl, pkce, tags } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

test('the primary colour: #rrggbb, and refused when white text on it is unreadable', () => {
  assert.ok(contrastWithWhite('#000000') > 20.9);
  assert.equal(contrastWithWhite('#ffffff'), 1);
  assert.equal(loadConfig({ BANK_PRIMARY_COLOR: '#7A1F3D' }).branding.primaryColor, '#7a1f3d');
  assert.throws(
    () => loadConfig({ BANK_PRIMARY_COLOR: '#ffd700' }),
    /BANK_PRIMARY_COLOR.*contrast of 1\.\d\d:1, below the 4\.5:1/s,
  );
  assert.throws(() => loadConfig({ BANK_PRIMARY_COLOR: '#777777' }), /BANK_PRIMARY_COLOR.*4\.48:1/s);
  assert.throws(() => loadConfig({ BANK_PRIMARY_COLOR: 'red' }), /BANK_PRIMARY_COLOR.*#rrggbb/s);
  assert.throws(() => loadConfig({ BANK_PRIMARY_COLOR: '#0b4f8a;} body{display:none' }), /BANK_PRIMARY_COLOR/);
});

test('name, logo URL and help link are validated', () => {
  assert.throws(() => loadConfig({ BANK_NAME: 'Ma \u202EBanque' }), /BANK_NAME.*bidirectional/s);
  assert.throws(() => loadConfig({ BANK_NAME: 'x'.repeat(81) }), /BANK_NAME/);
  assert.throws(() => loadConfig({ BANK_LOGO: 'http://cdn.bank.example/logo.png' }), /BANK_LOGO.*https/s);
  assert.throws(() => loadConfig({ BANK_LOGO: 'https://cdn.bank.example/logo.png?v=2' }), /BANK_LOGO.*no query/s);
  assert.throws(() => loadConfig({ BANK_LOGO: "https://cdn.bank.example/a;b'" }), /BANK_LOGO/);
  assert.throws(() => loadConfig({ BANK_SUPPORT_URL: 'javascript:alert(1)' }), /BANK_SUPPORT_URL/);
  assert.throws(() => loadConfig({ BANK_SUPPORT_URL: 'http://bank.example/help' }), /BANK_SUPPORT_URL.*https/s);
  const config = loadConfig(
    {
      BANK_NAME: 'Banque Exemple',
      BANK_LOGO: 'branding/logo.svg',
      BANK_SUPPORT_URL: 'https://bank.example/aide',
    },
    '/srv/bank',
  );
  assert.deepEqual(config.branding, {
    name: 'Banque Exemple',
    logo: { path: '/srv/bank/branding/logo.svg' },
    supportUrl: 'https://bank.example/aide',
  });
  assert.deepEqual(loadConfig({ BANK_LOGO: 'https://cdn.bank.example/logo.png' }).branding.logo, {
    url: 'https://cdn.bank.example/logo.png',
  });
  assert.deepEqual(loadConfig({}).branding, {});
});

test('a logo file is recognised by its bytes; anything else stops the start (74 unreadable, 78 not an image)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-logo-'));
  try {
    const file = (name: string, content: string | Uint8Array) => {
      writeFileSync(join(dir, name), content);
      return { path: join(dir, name) };
    };
    assert.equal(loadBranding({ logo: file('a.svg', BANK_LOGO_SVG) }).logoFile?.contentType, 'image/svg+xml');
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    assert.equal(loadBranding({ logo: file('logo.svg', png) }).logoFile?.contentType, 'image/png', 'bytes, not names');
    assert.equal(logoContentType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), 'image/jpeg');
    const refused = (logo: { path: string }, code: number, message: RegExp) =>
      assert.throws(
        () => loadBranding({ logo }),
        (err) => err instanceof OperatorError && err.exitCode === code && message.test(err.message),
      );
    refused(file('page.html', '<html><script>alert(1)</script>'), 78, /BANK_LOGO=.*not a PNG, JPEG, WebP or SVG/);
    refused(file('big.png', new Uint8Array(300 * 1024).fill(0x89)), 78, /BANK_LOGO=.*more than 262144/);
    refused({ path: join(dir, 'missing.png') }, 74, /BANK_LOGO=.*no such file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the TOTP enrolment URI names the bank as its issuer', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-totp-'));
  try {
    let out = '';
    const storage = loadStorageConfig({ DATA_DIR: dir, BANK_NAME: 'Banque Exemple' });
    const io = {
      out: (s: string) => {
        out += s;
      },
      err: () => {},
      readStdin: async () => 'a-long-passw0rd\n',
    };
    await psuCommandWith(
      ['add', '--username', 'jeanne', '--name', 'Jeanne', '--password-stdin', '--json'],
      storage,
      io,
    );
    const uri = new URL(JSON.parse(out).totp_uri);
    assert.equal(uri.searchParams.get('issuer'), 'Banque Exemple');
    assert.equal(uri.host, 'totp');
    assert.equal(decodeURIComponent(uri.pathname), '/Banque Exemple:jeanne');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('a branded server', () => {
  let s: TestServer;
  let dir: string;
  let page: Awaited<ReturnType<typeof request>>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-branded-'));
    writeFileSync(join(dir, 'logo.svg'), BANK_LOGO_SVG);
    s = await startTestServer({
      BANK_NAME: 'Banque <Exemple> & Fils',
      BANK_LOGO: join(dir, 'logo.svg'),
      BANK_PRIMARY_COLOR: '#7a1f3d',
      BANK_SUPPORT_URL: 'https://bank.example/aide',
    });
    const tpp = await makeTpp(s, ['PSP_AI']);
    const clientId = (
      await tpp.call('POST', '/register', { body: { redirect_uris: ['https://tpp.example/cb'] } })
    ).json().client_id;
    page = await request(
      authorizeUrl(s, {
        clientId,
        redirectUri: 'https://tpp.example/cb',
        scope: 'aisp',
        codeChallenge: pkce().codeChallenge,
        lang: 'fr',
      }),
      { ca: s.caPem },
    );
    assert.equal(page.status, 200);
  });
  after(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('header and title carry the bank’s name (escaped), logo and help link', () => {
    assert.match(
      page.text,
      /<title>Bac à sable : autoriser l’accès à vos comptes – Banque &lt;Exemple&gt; &amp; Fils<\/title>/,
    );
    assert.match(page.text, /<span class="bank-name">Banque &lt;Exemple&gt; &amp; Fils<\/span>/);
    assert.deepEqual(
      tags(page.text, 'img').find((i) => i.class === 'bank-logo'),
      { class: 'bank-logo', src: '/assets/bank-logo', alt: '', height: '32' },
    );
    const help = tags(page.text, 'a').find((a) => a.href === 'https://bank.example/aide');
    assert.equal(help?.rel, 'noopener noreferrer');
  });

  test('the CSP stays strict: no inline style, the colour comes from the stylesheet', async () => {
    const csp = page.header('content-security-policy') ?? '';
    assert.equal(
      csp,
      "default-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self' https://tpp.example; base-uri 'none'",
    );
    assert.doesNotMatch(page.text, /\sstyle=|<style/);
    const css = await request(`${s.psuUrl}/assets/psu.css`, { ca: s.caPem });
    assert.match(css.text, /^:root\{--primary:#7a1f3d\}/);
    assert.match(css.text, /\.bank\{[^}]*background:var\(--primary\)/);
  });

  test('the logo file is served with its type, not sniffable, sandboxed if opened alone', async () => {
    const logo = await request(`${s.psuUrl}/assets/bank-logo`, { ca: s.caPem });
    assert.equal(logo.status, 200);
    assert.equal(logo.header('content-type'), 'image/svg+xml');
    assert.equal(logo.header('x-content-type-options'), 'nosniff');
    assert.match(logo.header('content-security-policy') ?? '', /default-src 'none'.*sandbox/);
    assert.equal(logo.text, BANK_LOGO_SVG);
  });
});

describe('a logo by URL', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({ BANK_LOGO: 'https://cdn.bank.example/brand/logo.png' });
  });
  after(() => s?.close());

  test('is allowed by its exact origin and path; /assets/bank-logo is then 404', async () => {
    const page = await request(`${s.psuUrl}/fr/authorize?client_id=unknown`, { ca: s.caPem });
    assert.equal(page.status, 400);
    assert.match(
      page.header('content-security-policy') ?? '',
      /img-src 'self' https:\/\/cdn\.bank\.example\/brand\/logo\.png;/,
    );
    assert.match(page.text, /<img class="bank-logo" src="https:\/\/cdn\.bank\.example\/brand\/logo\.png"/);
    assert.match(page.text, /<span class="bank-name">Votre banque<\/span>/);
    assert.equal((await request(`${s.psuUrl}/assets/bank-logo`, { ca: s.caPem })).status, 404);
  });
});
