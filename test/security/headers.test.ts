// Issue 12, items 1 and 6: no registered value reaches a header other than as a re-serialised URL;
// HSTS on every HTTPS response; /docs under a strict CSP and unframeable; /openapi.json's server
// from ISSUER, whatever Host says.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { cspSource, pageContentSecurityPolicy } from '../../server/http/security-headers.ts';
import { displayableUri } from '../../server/protocol/client-uri.ts';
import { request } from '../support/https.ts';
import { authorizeUrl, pkce, tags } from '../support/psu.ts';
import { streamBody } from '../support/raw.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/cb';
const HOSTILE_LOGOS = [
  'https://tpp.example/l.png; frame-ancestors *',
  "https://tpp.example/l.png; script-src 'unsafe-inline'",
  'https://tpp.example/l.png, frame-ancestors *',
  'https://tpp.example/l.png\r\nContent-Security-Policy: frame-ancestors *',
  "https://tpp.example/'unsafe-inline'",
  'https://tpp.example/l png',
];

/** The directives of a policy, by name (a repeated directive is kept: CSP applies the first). */
function directives(policy: string): [string, string][] {
  return policy.split(';').map((d) => {
    const [name = '', ...values] = d.trim().split(/\s+/);
    return [name, values.join(' ')];
  });
}

describe('the PSU page policy is built from parsed URLs only', () => {
  test('a hostile value never adds a directive, a policy or a keyword', () => {
    for (const logo of HOSTILE_LOGOS) {
      const policy = pageContentSecurityPolicy({ images: [logo], formTargets: [logo] });
      assert.ok(!/[\r\n]/.test(policy));
      assert.ok(!policy.includes(','), policy);
      const names = directives(policy).map(([n]) => n);
      assert.deepEqual(names, ['default-src', 'img-src', 'frame-ancestors', 'form-action', 'base-uri'], policy);
      assert.equal(Object.fromEntries(directives(policy))['frame-ancestors'], "'none'");
      assert.ok(!policy.includes('unsafe-inline'), policy);
      assert.equal(displayableUri(logo, { policySafe: true }), undefined, logo);
    }
  });

  test('a good logo is allowed by origin and path, a redirect URI by origin', () => {
    const policy = pageContentSecurityPolicy({
      images: ['https://TPP.example:443/img/l.png?v=2'],
      formTargets: ['https://tpp.example/cb?x=1'],
    });
    const d = Object.fromEntries(directives(policy));
    assert.equal(d['img-src'], "'self' https://tpp.example/img/l.png");
    assert.equal(d['form-action'], "'self' https://tpp.example");
    assert.equal(cspSource('javascript:alert(1)', true), undefined);
    assert.equal(cspSource('https://u:p@tpp.example/', true), undefined);
  });
});

describe('headers on the wire', () => {
  let s: TestServer;
  let aisp: Tpp;
  before(async () => {
    s = await startTestServer();
    aisp = await makeTpp(s, ['PSP_AI']);
  });
  after(() => s.close());

  test('HSTS (a year, includeSubDomains) and nosniff on every response, errors and pages included', async () => {
    const answers = [
      await s.get('/.well-known/oauth-authorization-server'),
      await s.get('/jwks'),
      await s.get('/health'),
      await s.get('/docs'),
      await s.get('/docs/assets/swagger-ui-dist/swagger-ui.css'),
      await s.get('/openapi.json'),
      await s.get('/no/such/endpoint'),
      await s.get('/en/authorize?client_id=unknown'),
      await s.post('/token', { body: new URLSearchParams({ grant_type: 'client_credentials' }) }),
      await s.post('/register', { body: {} }),
      await aisp.call('POST', '/register', { body: 'x', headers: { 'content-type': 'text/plain' } }),
      await aisp.call('POST', '/register', {
        body: 'x'.repeat(70_000),
        headers: { 'content-type': 'application/json' },
      }),
    ];
    const statuses = new Set<number>();
    for (const res of answers) {
      statuses.add(res.status);
      assert.equal(res.header('strict-transport-security'), 'max-age=31536000; includeSubDomains', `${res.status}`);
      assert.equal(res.header('x-content-type-options'), 'nosniff', `${res.status}`);
    }
    assert.deepEqual([...statuses].sort(), [200, 400, 401, 404, 413, 415]);
  });

  test('/docs: Swagger UI under a CSP without inline script, not frameable', async () => {
    const res = await s.get('/docs');
    assert.equal(res.status, 200);
    const policy = Object.fromEntries(directives(res.header('content-security-policy') ?? ''));
    assert.equal(policy['frame-ancestors'], "'none'");
    assert.equal(policy['script-src'], "'self'");
    assert.equal(policy['default-src'], "'none'");
    assert.ok(!(res.header('content-security-policy') ?? '').includes('unsafe'), 'no unsafe-inline or unsafe-eval');
    assert.equal(res.header('x-frame-options'), 'DENY');
    assert.ok(!/<script>/.test(res.text) && !/ on\w+=/.test(res.text), 'no inline script');
    for (const script of tags(res.text, 'script')) {
      const asset = await s.get(script.src as string);
      assert.equal(asset.status, 200, script.src);
    }
  });

  test('/openapi.json names ISSUER as its server, never the Host header', async () => {
    const res = await streamBody(`${s.url}/openapi.json`, {
      ca: s.caPem,
      method: 'GET',
      headers: { host: 'evil.example', connection: 'close' },
      size: 0,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(
      JSON.parse(res.text).servers.map((server: { url: string }) => server.url),
      [s.server.issuer],
    );
  });

  test('a hostile logo_uri is refused at registration (the issue example)', async () => {
    for (const logo of HOSTILE_LOGOS) {
      const res = await aisp.call('POST', '/register', { body: { redirect_uris: [REDIRECT], logo_uri: logo } });
      assert.equal(res.status, 400, logo);
      assert.match(res.json().error_description, /^logo_uri: /);
    }
  });

  test('a client stored with a hostile logo before these rules: the page drops it, the policy stays whole', async () => {
    // Stored through the server's store port, as a version before these rules would have.
    await (await s.stores!()).clients.insert(
      {
        clientId: 'legacy-hostile-logo',
        organizationId: 'PSDFR-ACPR-LEGACY',
        metadata: {
          redirect_uris: [REDIRECT],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'aisp',
          token_endpoint_auth_method: 'tls_client_auth',
          tls_client_auth_subject_dn: 'CN=Legacy',
          client_name: 'Legacy',
          logo_uri: HOSTILE_LOGOS[0],
          'logo_uri#en': HOSTILE_LOGOS[1],
        },
        registrationTokenDigest: 'x',
        issuedAt: Date.now(),
        updatedAt: Date.now(),
      },
      {
        action: 'client.registered',
        clientId: 'legacy-hostile-logo',
        actorSubjectDn: 'CN=Legacy',
        actorThumbprint: 'x',
        occurredAt: Date.now(),
      },
    );
    for (const lang of ['en', 'fr']) {
      const url = authorizeUrl(s, {
        clientId: 'legacy-hostile-logo',
        redirectUri: REDIRECT,
        scope: 'aisp',
        codeChallenge: pkce().codeChallenge,
        lang,
      });
      const page = await request(url, { ca: s.caPem });
      assert.equal(page.status, 200, page.text.slice(0, 300));
      const policy = page.header('content-security-policy') ?? '';
      assert.deepEqual(
        directives(policy).map(([n]) => n),
        ['default-src', 'img-src', 'frame-ancestors', 'form-action', 'base-uri'],
      );
      assert.equal(Object.fromEntries(directives(policy))['frame-ancestors'], "'none'");
      assert.equal(Object.fromEntries(directives(policy))['img-src'], "'self'");
      assert.deepEqual(tags(page.text, 'img'), [], 'no logo on the page');
      assert.equal(page.header('x-frame-options'), 'DENY');
    }
  });
});

describe('HSTS settings', () => {
  test('HSTS_MAX_AGE and HSTS_INCLUDE_SUBDOMAINS shape the header; less than a year is refused', async () => {
    const s = await startTestServer({ HSTS_MAX_AGE: '63072000', HSTS_INCLUDE_SUBDOMAINS: 'false' });
    try {
      assert.equal((await s.get('/health')).header('strict-transport-security'), 'max-age=63072000');
    } finally {
      await s.close();
    }
    assert.throws(() => loadConfig({ HSTS_MAX_AGE: '86400' }), ConfigError);
  });
});
