import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { secretDigest } from '../../server/protocol/secrets.ts';
import { request } from '../support/https.ts';
import { approveInSandbox, authorizeUrl, formOf, pkce, sessionCookie, tags } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/callback';

describe('authorization endpoint, sandbox mode', () => {
  let s: TestServer;
  let aisp: Tpp;
  let clientId: string;
  before(async () => {
    s = await startTestServer();
    aisp = await makeTpp(s, ['PSP_AI']);
    const reg = await aisp.call('POST', '/register', {
      body: {
        redirect_uris: [REDIRECT, 'https://tpp.example/other?x=1'],
        client_name: 'Acme Budget',
        'client_name#fr': 'Acme Budget FR',
      },
    });
    assert.equal(reg.status, 201, reg.text);
    clientId = reg.json().client_id;
  });
  after(() => s.close());

  const url = (over: Partial<Parameters<typeof authorizeUrl>[1]> = {}) =>
    authorizeUrl(s, { clientId, redirectUri: REDIRECT, scope: 'aisp', codeChallenge: pkce().codeChallenge, ...over });

  test('one approval yields a code, state and iss; consent and code rows as agreed', async () => {
    const { codeChallenge } = pkce();
    const location = await approveInSandbox(s, url({ state: 'xyz', codeChallenge, lang: 'en' }));
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
    assert.equal(location.searchParams.get('state'), 'xyz');
    assert.equal(location.searchParams.get('iss'), s.server.issuer);
    const code = location.searchParams.get('code')!;
    assert.ok(code.length >= 43, 'at least 256 bits');
    // Found by its digest: the code itself is not stored.
    const found = await (await s.stores!()).authorizationCodes.find(await secretDigest(code));
    assert.ok(found, 'stored as a digest');
    const { code: row, consent } = found;
    assert.equal(row.clientId, clientId);
    assert.equal(row.redirectUri, REDIRECT);
    assert.equal(row.codeChallenge, codeChallenge);
    assert.equal(row.scope, 'aisp');
    assert.equal(row.psuId, 'sandbox-alice');
    assert.ok(row.expiresAt - row.createdAt <= 60_000);
    assert.equal(row.consumedAt, null);
    assert.ok(consent);
    assert.equal(consent.consentId, row.consentId);
    assert.equal(consent.clientId, clientId);
    assert.deepEqual(consent.accountIds, ['sandbox-alice-current', 'sandbox-alice-savings', 'sandbox-alice-card']);
    assert.equal(consent.expiresAt - consent.createdAt, 180 * 86_400_000);
    assert.equal(consent.revokedAt, null);
    const events = await (await s.stores!()).authorization.events.list({ psuId: 'sandbox-alice' });
    assert.deepEqual(
      events.map((e) => e.event),
      ['session.started', 'consent.granted'],
    );
    assert.equal(new Set(events.map((e) => e.sessionId)).size, 1, 'keyed by one session');
  });
});

describe('authorization endpoint, sandbox mode: errors and protections', () => {
  let s: TestServer;
  let clientId: string;
  let cbpiiClientId: string;
  before(async () => {
    s = await startTestServer();
    const aisp = await makeTpp(s, ['PSP_AI']);
    const reg = await aisp.call('POST', '/register', { body: { redirect_uris: [REDIRECT], scope: 'aisp' } });
    clientId = reg.json().client_id;
    const cbpii = await makeTpp(s, ['PSP_IC']);
    cbpiiClientId = (await cbpii.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } })).json().client_id;
  });
  after(() => s.close());

  const url = (over: Partial<Parameters<typeof authorizeUrl>[1]> = {}) =>
    authorizeUrl(s, { clientId, redirectUri: REDIRECT, scope: 'aisp', codeChallenge: pkce().codeChallenge, ...over });
  const get = (u: string, headers: Record<string, string> = {}) => request(u, { ca: s.caPem, headers });
  const redirectOf = (res: { status: number; header(n: string): string | undefined }) => {
    assert.equal(res.status, 303);
    return new URL(res.header('location')!);
  };

  test('unknown client and unregistered or missing redirect URI: an error page, never a redirect', async () => {
    for (const [u, lang, text] of [
      [url({ clientId: 'nope', lang: 'en' }), 'en', 'not known to your bank'],
      [url({ redirectUri: 'https://evil.example/cb', lang: 'fr' }), 'fr', 'n’est pas enregistrée'],
      [url({ redirectUri: `${REDIRECT}/`, lang: 'en' }), 'en', 'not registered'],
      [url({ lang: 'en' }).replace(/&redirect_uri=[^&]*/, ''), 'en', 'not registered'],
    ] as const) {
      const res = await get(u);
      assert.equal(res.status, 400, u);
      assert.equal(res.header('location'), undefined);
      assert.match(res.header('content-type')!, /^text\/html/);
      assert.match(res.text, new RegExp(`<html lang="${lang}">`));
      assert.ok(res.text.includes(text), res.text);
    }
  });

  test('PKCE missing or plain, a bad response_type, a scope outside the client’s: redirected errors with state and iss', async () => {
    const cases: [string, string][] = [
      [url({ state: 's1' }).replace(/&code_challenge=[^&]*/, ''), 'invalid_request'],
      [url({ state: 's1' }).replace('code_challenge_method=S256', 'code_challenge_method=plain'), 'invalid_request'],
      [url({ state: 's1' }).replace(/&code_challenge_method=S256/, ''), 'invalid_request'],
      [url({ state: 's1' }).replace('response_type=code', 'response_type=token'), 'unsupported_response_type'],
      [url({ state: 's1', scope: 'aisp extended_transaction_history' }), 'invalid_scope'],
      [url({ state: 's1', scope: 'pisp' }), 'invalid_scope'],
      [url({ state: 's1', scope: 'cbpii' }), 'invalid_scope'],
      [`${url({ state: 's1' })}&scope=aisp`, 'invalid_request'],
    ];
    for (const [u, error] of cases) {
      const res = await get(u);
      assert.equal(res.headers['set-cookie'], undefined, `no session cookie: ${u}`);
      const location = redirectOf(res);
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT, u);
      assert.equal(location.searchParams.get('error'), error, u);
      assert.ok(location.searchParams.get('error_description'));
      assert.equal(location.searchParams.get('state'), 's1');
      assert.equal(location.searchParams.get('iss'), s.server.issuer);
    }
    const started = (await (await s.stores!()).authorization.events.list({ clientId })).filter(
      (e) => e.event === 'session.started',
    );
    assert.deepEqual(started, [], 'a bad request starts no session');
  });

  test('a refused consent redirects with access_denied and creates nothing', async () => {
    const location = await approveInSandbox(s, url({ state: 'r' }), { refuse: true });
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('state'), 'r');
    assert.equal(location.searchParams.get('iss'), s.server.issuer);
    assert.equal(location.searchParams.get('code'), null);
    assert.deepEqual(await (await s.stores!()).authorization.consents.list({}), []);
  });

  test('"Cancel and return" on the sandbox page: access_denied with state and iss, nothing created', async () => {
    const page = await request(url({ state: 'gone' }), { ca: s.caPem });
    const cookie = sessionCookie(page);
    const cancel = tags(page.text, 'form').find((f) => f.action?.endsWith('/authorize/cancel'));
    assert.ok(cancel, 'the page has a way out');
    const res = await request(`${s.url}${cancel.action}`, {
      ca: s.caPem,
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({ csrf_token: formOf(page.text).csrf }),
    });
    assert.equal(res.status, 303, res.text);
    const location = new URL(res.header('location')!);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal(location.searchParams.get('state'), 'gone');
    assert.equal(location.searchParams.get('iss'), s.server.issuer);
    assert.deepEqual(await (await s.stores!()).authorization.consents.list({}), []);
  });

  test('a state of 1,000+ characters comes back byte for byte', async () => {
    const state = `${'é&=+/ ?#%'.repeat(130)}\u{1F600}`;
    assert.ok(state.length > 1000);
    const location = await approveInSandbox(s, url({ state }));
    assert.equal(location.searchParams.get('state'), state);
    assert.ok(location.searchParams.get('code'));
  });

  test('the PSU chooses a persona and accounts; accounts of another persona are ignored', async () => {
    const location = await approveInSandbox(s, url(), {
      accountIds: ['sandbox-bruno-savings', 'sandbox-alice-current'],
    });
    const code = location.searchParams.get('code');
    assert.ok(code);
    const [consent] = await (await s.stores!()).authorization.consents.list({ clientId });
    assert.equal(consent?.psuId, 'sandbox-bruno');
    assert.deepEqual(consent.accountIds, ['sandbox-bruno-savings']);
  });

  test('cbpii consent: its own duration, the accounts chosen', async () => {
    const location = await approveInSandbox(
      s,
      authorizeUrl(s, {
        clientId: cbpiiClientId,
        redirectUri: REDIRECT,
        scope: 'cbpii',
        codeChallenge: pkce().codeChallenge,
      }),
      { accountIds: ['sandbox-chloe-current'] },
    );
    assert.ok(location.searchParams.get('code'));
    const [consent] = await (await s.stores!()).authorization.consents.list({ clientId: cbpiiClientId });
    assert.equal(consent?.scope, 'cbpii');
    assert.deepEqual(consent.accountIds, ['sandbox-chloe-current']);
    assert.equal(consent.expiresAt - consent.createdAt, 180 * 86_400_000);
  });

  test('page headers: CSP, no-store, cookie flags, no CORS; the CSRF token is required', async () => {
    const page = await get(url({ lang: 'en' }), { origin: 'https://tpp.example' });
    assert.equal(page.status, 200, page.text);
    const csp = page.header('content-security-policy')!;
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /form-action 'self' https:\/\/tpp\.example/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(page.header('cache-control'), 'no-store');
    assert.equal(page.header('access-control-allow-origin'), undefined);
    const setCookie = String(page.headers['set-cookie']);
    assert.match(setCookie, /^__Host-psu_session=/);
    assert.match(setCookie, /Secure/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
    assert.match(setCookie, /Path=\//);
    assert.doesNotMatch(page.text, /<script|style=/i, 'no inline script or style');
    const buttons = tags(page.text, 'button');
    assert.deepEqual(
      buttons.map((b) => b.value),
      ['approve', 'refuse', undefined],
      'approve and refuse, then the way out',
    );
    assert.ok(page.text.includes('Allow access') && page.text.includes('Refuse'));

    const { action, csrf } = formOf(page.text);
    const cookie = sessionCookie(page);
    const post = (body: URLSearchParams) =>
      request(`${s.url}${action}`, { ca: s.caPem, method: 'POST', headers: { cookie }, body });
    const base = { decision: 'approve', persona: 'sandbox-alice', account: 'sandbox-alice-current' };
    const missing = await post(new URLSearchParams(base));
    assert.equal(missing.status, 403);
    assert.ok(missing.text.includes('could not be verified'));
    const wrong = await post(new URLSearchParams({ ...base, csrf_token: `${csrf}x` }));
    assert.equal(wrong.status, 403);
    const noCookie = await request(`${s.url}${action}`, {
      ca: s.caPem,
      method: 'POST',
      body: new URLSearchParams({ ...base, csrf_token: csrf }),
    });
    assert.equal(noCookie.status, 410);
    const none = await post(new URLSearchParams({ csrf_token: csrf, decision: 'approve', persona: 'sandbox-alice' }));
    assert.equal(none.status, 200);
    assert.ok(none.text.includes('Choose at least one account'));
    const ok = await post(new URLSearchParams({ ...base, csrf_token: csrf }));
    assert.equal(ok.status, 303);
    assert.ok(new URL(ok.header('location')!).searchParams.get('code'));
    const replay = await post(new URLSearchParams({ ...base, csrf_token: csrf }));
    assert.equal(replay.status, 409, 'a session completes once');
  });

  test('language: path, then ui_locales, then Accept-Language, then French', async () => {
    const lang = async (u: string, headers: Record<string, string> = {}) =>
      /<html lang="(\w+)">/.exec((await get(u, headers)).text)?.[1];
    assert.equal(await lang(url({ lang: 'en' })), 'en');
    assert.equal(await lang(url({ lang: 'fr' }), { 'accept-language': 'en' }), 'fr');
    assert.equal(await lang(`${url()}&ui_locales=en-GB`), 'en');
    assert.equal(await lang(url(), { 'accept-language': 'de, en;q=0.8, fr;q=0.5' }), 'en');
    assert.equal(await lang(url(), { 'accept-language': 'de' }), 'fr');
    assert.equal((await get(`${s.url}/de/authorize`)).status, 404);
  });

  test('metadata advertises the authorization and PAR endpoints; the stylesheet is served', async () => {
    const meta = (await s.get('/.well-known/oauth-authorization-server')).json();
    assert.equal(meta.authorization_endpoint, `${s.server.issuer}/authorize`);
    assert.equal(meta.pushed_authorization_request_endpoint, `${s.server.issuer}/par`);
    const css = await s.get('/assets/psu.css');
    assert.equal(css.status, 200);
    assert.match(css.header('content-type')!, /^text\/css/);
  });

  test('sandbox personas are seeded once, with current, savings and card accounts', async () => {
    const { psus } = (await s.stores!()).authorization;
    const personas = await psus.list({ sandbox: true });
    assert.ok(personas.length >= 3);
    for (const p of personas) {
      const types = (await psus.listAccounts(p.psuId)).map((a) => a.type);
      assert.deepEqual(types.sort(), ['card', 'current', 'savings']);
    }
  });
});
