// The language switch on every PSU page (issue 14 item 6): a plain link (GET) to the same step of
// the same session in the other language, built by the server from its own routes, so it cannot
// be turned into a redirect elsewhere, and it never replays a single-use request_uri.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from '../support/https.ts';
import { authorizeUrl, formOf, pkce, sessionCookie, tags } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/cb';

/** The header's language links: hreflang -> href. */
function switchLinks(page: string): Record<string, string> {
  return Object.fromEntries(
    tags(page, 'a')
      .filter((a) => a.hreflang)
      .map((a) => [a.hreflang!, a.href!]),
  );
}

describe('the language switch', () => {
  let s: TestServer;
  let tpp: Tpp;
  let clientId: string;
  before(async () => {
    s = await startTestServer();
    tpp = await makeTpp(s, ['PSP_AI']);
    clientId = (
      await tpp.call('POST', '/register', {
        body: { redirect_uris: [REDIRECT], client_name: 'Budget', 'client_name#fr': 'Budget FR' },
      })
    ).json().client_id;
  });
  after(() => s.close());

  test('from the consent page: the same session and step in English, and the approval still works', async () => {
    const state = 'st-1';
    const first = await request(
      authorizeUrl(s, {
        clientId,
        redirectUri: REDIRECT,
        scope: 'aisp',
        state,
        codeChallenge: pkce().codeChallenge,
        lang: 'fr',
      }),
      { ca: s.caPem },
    );
    assert.equal(first.status, 200);
    assert.match(first.text, /<html lang="fr">/);
    const cookie = sessionCookie(first);
    const links = switchLinks(first.text);
    assert.deepEqual(links, { en: '/en/authorize/consent' }, 'only the other language, by its step path');
    const english = await request(`${s.psuUrl}${links.en}`, { ca: s.caPem, headers: { cookie } });
    assert.equal(english.status, 200);
    assert.match(english.text, /<html lang="en">/);
    assert.match(english.text, /Allow access/);
    assert.match(english.text, /<bdi>Budget<\/bdi>/, 'the client_name of the new language');
    // Same session: the same CSRF token, and the English form completes the French request.
    const fr = formOf(first.text);
    const en = formOf(english.text);
    assert.equal(en.csrf, fr.csrf);
    assert.equal(en.action, '/en/authorize/decision');
    assert.deepEqual(switchLinks(english.text), { fr: '/fr/authorize/consent' });
    const body = new URLSearchParams({ csrf_token: en.csrf, decision: 'approve', persona: 'sandbox-alice' });
    body.append('account', 'sandbox-alice-current');
    const done = await request(`${s.psuUrl}${en.action}`, { ca: s.caPem, method: 'POST', headers: { cookie }, body });
    assert.equal(done.status, 303, done.text.slice(0, 300));
    const back = new URL(done.header('location')!);
    assert.equal(back.searchParams.get('state'), state);
    assert.ok(back.searchParams.get('code'));
    // The switch is a GET of a page: once the request is done, it shows the "already done" page.
    const again = await request(`${s.psuUrl}/fr/authorize/consent`, { ca: s.caPem, headers: { cookie } });
    assert.notEqual(again.status, 200);
  });

  test('after PAR: the switch goes to the step, never replays the single-use request_uri', async () => {
    const par = await tpp.call('POST', '/par', {
      body: new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'aisp',
        code_challenge: pkce().codeChallenge,
        code_challenge_method: 'S256',
      }),
    });
    assert.equal(par.status, 201, par.text);
    const query = new URLSearchParams({ client_id: clientId, request_uri: par.json().request_uri });
    const page = await request(`${s.psuUrl}/en/authorize?${query}`, { ca: s.caPem });
    assert.equal(page.status, 200);
    assert.deepEqual(switchLinks(page.text), { fr: '/fr/authorize/consent' });
    const french = await request(`${s.psuUrl}/fr/authorize/consent`, {
      ca: s.caPem,
      headers: { cookie: sessionCookie(page) },
    });
    assert.equal(french.status, 200);
    assert.match(french.text, /Autoriser l’accès/);
  });

  test('an error page switches to the same GET; a hostile query stays on this origin', async () => {
    const hostile = 'client_id=unknown&redirect_uri=https%3A%2F%2Fevil.example&x=%22%3E%3Cscript%3E//evil.example';
    const page = await request(`${s.psuUrl}/fr/authorize?${hostile}`, { ca: s.caPem });
    assert.equal(page.status, 400);
    const links = switchLinks(page.text);
    assert.deepEqual(Object.keys(links), ['en']);
    assert.equal(links.en, `/en/authorize?${hostile}`);
    assert.doesNotMatch(page.text, /<script>/);
    const plain = await request(`${s.psuUrl}/authorize?client_id=unknown`, {
      ca: s.caPem,
      headers: { 'accept-language': 'en' },
    });
    assert.deepEqual(switchLinks(plain.text), { fr: '/fr/authorize?client_id=unknown' });
    // Every link of every page starts with one slash and a language: a path of this origin.
    for (const href of [...Object.values(links), ...Object.values(switchLinks(plain.text))]) {
      assert.match(href, /^\/(fr|en)\/authorize(\?|$)/);
    }
  });

  test('without a session the step page is the session error, with its own switch', async () => {
    const page = await request(`${s.psuUrl}/en/authorize/consent`, { ca: s.caPem });
    assert.equal(page.status, 410);
    assert.deepEqual(switchLinks(page.text), { fr: '/fr/authorize/consent' });
  });
});
