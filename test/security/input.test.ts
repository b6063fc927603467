// Issue 12, items 3-5: what a client sends is bounded and parsed before anything uses it. Every URI
// of client metadata is parsed and stored re-serialised; JSON bodies are recognised by their parsed
// media type; bodies, strings, arrays and nesting are capped. No input answers 5xx.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from '../support/https.ts';
import { authorizeUrl, pkce } from '../support/psu.ts';
import { type StreamedResult, streamBody } from '../support/raw.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/cb';
const MB20 = 20 * 1024 * 1024;

/** 413 with an OAuth body before the 20 MB were sent (on Deno, see raw.ts: the early close alone). */
function assertRefusedEarly(res: StreamedResult, path: string): void {
  assert.ok(res.written < MB20, `${path}: the server read the whole body (${res.written} bytes written)`);
  if (res.status === 0 && 'Deno' in globalThis) return;
  assert.equal(res.status, 413, `${path}: ${res.text}`);
  assert.equal(JSON.parse(res.text).error, 'invalid_request');
}

describe('client metadata URIs are parsed, checked and stored re-serialised', () => {
  let s: TestServer;
  let aisp: Tpp;
  before(async () => {
    s = await startTestServer();
    aisp = await makeTpp(s, ['PSP_AI']);
  });
  after(() => s.close());

  const BAD: [string, RegExp][] = [
    ['https://tpp.example/l.png\r\nX-Injected: 1', /whitespace, control/],
    ['https://tpp.example/cb\u0000', /whitespace, control/],
    ['https://tpp.example/a b', /whitespace, control/],
    ['https://tpp.example/\u202Egnp.l', /whitespace, control/],
    ['https://tpp.example@evil.example/cb', /userinfo/],
    ['https://user:pw@tpp.example/cb', /userinfo/],
    ['https:///cb', /host/],
    ['https://:443/cb', /host|not a valid URI/],
    ['https:tpp.example/cb', /absolute URI with a host/],
    ['https://*.evil.example/cb', /host/],
    ['https://tpp.example/cb#frag', /fragment/],
    ['https://tpp.example/cb#', /fragment/],
    ['http://tpp.example/cb', /https/],
    ['javascript://tpp.example/%0aalert(1)', /https/],
    ['https://tpp.example/%zz', /% that/],
    ['https://tpp.example/"onerror', /RFC 3986/],
    [`https://tpp.example/${'a'.repeat(2100)}`, /longer than/],
  ];

  for (const field of ['redirect_uris', 'logo_uri', 'client_uri', 'policy_uri', 'tos_uri', 'jwks_uri', 'logo_uri#fr']) {
    test(`${field}: every malformed URI is 400 naming the field and the reason`, async () => {
      for (const [uri, reason] of BAD) {
        const body: Record<string, unknown> =
          field === 'redirect_uris' ? { redirect_uris: [uri] } : { redirect_uris: [REDIRECT], [field]: uri };
        const res = await aisp.call('POST', '/register', { body });
        assert.equal(res.status, 400, `${field} ${JSON.stringify(uri).slice(0, 80)}: ${res.text.slice(0, 300)}`);
        const error = res.json();
        assert.equal(error.error, field === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata');
        assert.ok(error.error_description.startsWith(`${field}:`), error.error_description);
        assert.match(error.error_description, reason, `${field} ${JSON.stringify(uri).slice(0, 80)}`);
        assert.equal(error.client_id, undefined);
      }
    });
  }

  test("logo_uri: ; , and ' are refused (they would split or extend the page's CSP)", async () => {
    for (const uri of [
      'https://tpp.example/l.png;frame-ancestors',
      "https://tpp.example/l.png'unsafe-inline'",
      'https://tpp.example/l.png,https://evil.example',
    ]) {
      const res = await aisp.call('POST', '/register', { body: { redirect_uris: [REDIRECT], logo_uri: uri } });
      assert.equal(res.status, 400, uri);
      assert.match(res.json().error_description, /^logo_uri: must not contain ;/);
    }
  });

  test('the issue example: a logo_uri with CR/LF is refused, so the client cannot break its own pages', async () => {
    const res = await aisp.call('POST', '/register', {
      body: { redirect_uris: [REDIRECT], logo_uri: 'https://tpp.example/l.png\r\nSet-Cookie: x=1' },
    });
    assert.equal(res.status, 400);
    assert.equal(res.json().error, 'invalid_client_metadata');
  });

  test('URIs are stored in their parsed form; a redirect URI must already be written that way', async () => {
    const res = await aisp.call('POST', '/register', {
      body: {
        redirect_uris: [REDIRECT],
        logo_uri: 'HTTPS://TPP.Example:443/a/../l.png',
        'client_uri#fr': 'https://tpp.example',
      },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json().logo_uri, 'https://tpp.example/l.png');
    assert.equal(res.json()['client_uri#fr'], 'https://tpp.example/');
    const odd = await aisp.call('POST', '/register', { body: { redirect_uris: ['https://TPP.example/cb'] } });
    assert.equal(odd.status, 400);
    assert.match(odd.json().error_description, /must be written as https:\/\/tpp\.example\/cb/);
  });

  test('sandbox: http redirect URIs on loopback only; never for other URIs', async () => {
    const ok = await aisp.call('POST', '/register', { body: { redirect_uris: ['http://127.0.0.1:8080/cb'] } });
    assert.equal(ok.status, 201, ok.text);
    const logo = await aisp.call('POST', '/register', {
      body: { redirect_uris: [REDIRECT], logo_uri: 'http://localhost/l.png' },
    });
    assert.equal(logo.status, 400);
    assert.match(logo.json().error_description, /^logo_uri: uses http/);
  });

  test('text fields refuse control and bidirectional characters; strings and arrays are capped', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ client_name: 'Acme\u202Ekna B' }, /^client_name: must not contain control or bidirectional/],
      [{ 'client_name#en': 'Acme\nBank' }, /^client_name#en: must not contain control/],
      [{ client_name: 'x'.repeat(257) }, /^client_name: /],
      [{ contacts: ['a@b.example\u0007'] }, /^contacts: must not contain control/],
      [{ contacts: Array.from({ length: 11 }, (_, i) => `c${i}@tpp.example`) }, /^contacts: /],
      [{ software_id: 'y'.repeat(300) }, /^software_id: /],
      [{ redirect_uris: Array.from({ length: 21 }, (_, i) => `https://tpp.example/cb${i}`) }, /^redirect_uris: /],
      [{ jwks: { keys: Array.from({ length: 11 }, () => ({ kty: 'EC' })) } }, /^jwks\.keys: |^jwks: /],
    ];
    for (const [extra, description] of cases) {
      const res = await aisp.call('POST', '/register', { body: { redirect_uris: [REDIRECT], ...extra } });
      assert.equal(res.status, 400, `${JSON.stringify(extra).slice(0, 80)}: ${res.text}`);
      assert.equal(res.json().error, 'invalid_client_metadata');
      assert.match(res.json().error_description, description);
    }
  });
});

describe('JSON bodies: media types parsed (RFC 9110 §8.3.1), nesting capped', () => {
  let s: TestServer;
  let aisp: Tpp;
  before(async () => {
    s = await startTestServer();
    aisp = await makeTpp(s, ['PSP_AI']);
  });
  after(() => s.close());

  const body = JSON.stringify({ redirect_uris: [REDIRECT] });

  test('valid spellings of application/json are accepted at POST and PUT /register', async () => {
    for (const type of [
      'application/json ; charset=utf-8',
      'application/json;',
      'application/json;charset="UTF-8"',
      'Application/JSON',
      'application/json; foo=bar',
    ]) {
      const res = await aisp.call('POST', '/register', { body, headers: { 'content-type': type } });
      assert.equal(res.status, 201, `${type}: ${res.text}`);
      const { client_id, registration_access_token } = res.json();
      const put = await aisp.call('PUT', `/register/${client_id}`, {
        body: JSON.stringify({ client_id, redirect_uris: [REDIRECT], client_name: 'renamed' }),
        headers: { 'content-type': type, authorization: `Bearer ${registration_access_token}` },
      });
      assert.equal(put.status, 200, `PUT ${type}: ${put.text}`);
    }
  });

  test('anything else is 415 with an OAuth error body', async () => {
    for (const type of [
      'application/json, text/plain',
      'application/json-x',
      'application/jsonx',
      'text/plain',
      'application/json; charset=latin1',
      'application/json; =x',
      'application/json/x',
      '',
      undefined,
    ]) {
      const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
      const res = await aisp.call('POST', '/register', { body, headers });
      assert.equal(res.status, 415, `${type}: ${res.text}`);
      assert.equal(res.json().error, 'invalid_request');
      assert.equal(res.header('cache-control'), 'no-store');
    }
  });

  test('JSON nested 10,000 levels inside jwks, or 33 anywhere, is 400 invalid_client_metadata', async () => {
    for (const depth of [10_000, 33]) {
      const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const text = `{"redirect_uris":["${REDIRECT}"],"jwks":{"keys":[{"kty":"EC","x":${deep}}]}}`;
      const res = await aisp.call('POST', '/register', { body: text, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json().error, 'invalid_client_metadata');
      assert.match(res.json().error_description, /nests deeper than 32/);
    }
    const strings = `{"redirect_uris":["${REDIRECT}"],"client_name":"${'['.repeat(100)}"}`;
    const ok = await aisp.call('POST', '/register', { body: strings, headers: { 'content-type': 'application/json' } });
    assert.equal(ok.status, 201, 'brackets inside strings are not nesting');
  });

  test('a PSU page post with another media type is a 4xx, not a 500', async () => {
    const res = await s.post('/fr/authorize/decision', { body: '{}', headers: { 'content-type': 'application/json' } });
    assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
  });
});

describe('body size caps: 413 while reading, Content-Length and chunked alike', () => {
  let s: TestServer;
  let aisp: Tpp;
  let pisp: Tpp;
  before(async () => {
    s = await startTestServer();
    aisp = await makeTpp(s, ['PSP_AI']);
    pisp = await makeTpp(s, ['PSP_PI']);
  });
  after(() => s.close());

  const big = (tpp: Tpp, path: string, type: string, chunked: boolean) =>
    streamBody(`${s.url}${path}`, {
      ca: s.caPem,
      cert: tpp.certChain,
      key: tpp.key,
      headers: { 'content-type': type },
      size: MB20,
      chunked,
    });

  for (const chunked of [false, true]) {
    const how = chunked ? 'chunked' : 'with Content-Length';
    test(`a 20 MB client_name ${how} is 413 at /register before 20 MB are read`, async () => {
      const res = await streamBody(`${s.url}/register`, {
        ca: s.caPem,
        cert: aisp.certChain,
        key: aisp.key,
        headers: { 'content-type': 'application/json' },
        size: MB20,
        chunked,
        fill: 'a',
      });
      assertRefusedEarly(res, '/register');
    });

    test(`20 MB forms ${how} are 413 at /token, /revoke, /introspect, /par and the PSU page posts`, async () => {
      for (const path of [
        '/token',
        '/revoke',
        '/introspect',
        '/par',
        '/fr/authorize/decision',
        '/en/authorize/login',
      ]) {
        const res = await big(pisp, path, 'application/x-www-form-urlencoded', chunked);
        assertRefusedEarly(res, path);
      }
    });
  }

  test('bodies just under the caps still work', async () => {
    const name = 'n'.repeat(256);
    const res = await aisp.call('POST', '/register', { body: { redirect_uris: [REDIRECT], client_name: name } });
    assert.equal(res.status, 201, res.text);
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: 'x', pad: 'p'.repeat(15_000) });
    const token = await pisp.call('POST', '/token', { body: form });
    assert.notEqual(token.status, 413);
    assert.ok(token.status < 500);
  });

  test('a client whose metadata passed registration renders its pages (no 500 later)', async () => {
    const reg = await aisp.call('POST', '/register', {
      body: { redirect_uris: [REDIRECT], logo_uri: 'https://tpp.example/l.png?v=1', client_name: 'Acme <b>' },
    });
    assert.equal(reg.status, 201, reg.text);
    const url = authorizeUrl(s, {
      clientId: reg.json().client_id,
      redirectUri: REDIRECT,
      scope: 'aisp',
      codeChallenge: pkce().codeChallenge,
      lang: 'en',
    });
    const page = await request(url, { ca: s.caPem });
    assert.equal(page.status, 200, page.text.slice(0, 200));
    assert.ok(page.text.includes('Acme &lt;b&gt;'));
  });
});
