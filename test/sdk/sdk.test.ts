// The SDK against the real server, as a TPP uses it: register, consent in the sandbox, tokens,
// refresh, revoke, client management, and the errors it throws.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTppClient, OAuthError, type TppClient } from '../../sdk/index.ts';
import { request } from '../support/https.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/cb';

describe('the TPP SDK against the real server', () => {
  let s: TestServer;
  let tpp: TppClient;
  before(async () => {
    s = await startTestServer();
    const qwac = await makeTpp(s, ['PSP_AI', 'PSP_PI']);
    tpp = createTppClient({ baseUrl: s.url, cert: qwac.certChain, key: qwac.key, ca: s.caPem });
  });
  after(async () => {
    await tpp.close();
    await s.close();
  });

  test('registers, reads, updates (with token rotation) and deletes a client', async () => {
    const client = await tpp.registerClient({ redirect_uris: [REDIRECT], scope: 'aisp', 'client_name#fr': 'Acme FR' });
    assert.equal(client.scope, 'aisp');
    assert.equal(client['client_name#fr'], 'Acme FR');
    const rat = client.registration_access_token ?? '';
    const read = await tpp.getClient(client.client_id, rat);
    assert.deepEqual(read.redirect_uris, [REDIRECT]);
    const updated = await tpp.updateClient(client.client_id, rat, { redirect_uris: [REDIRECT], client_name: 'Acme 2' });
    assert.equal(updated.client_name, 'Acme 2');
    const next = updated.registration_access_token ?? '';
    assert.notEqual(next, rat);
    await assert.rejects(tpp.getClient(client.client_id, rat), (err) => {
      assert.ok(err instanceof OAuthError);
      assert.equal(err.status, 401);
      assert.equal(err.error, 'invalid_token');
      return true;
    });
    await tpp.deleteClient(client.client_id, next);
    await assert.rejects(tpp.getClient(client.client_id, next), OAuthError);
  });

  test('throws a typed OAuthError for invalid metadata', async () => {
    await assert.rejects(tpp.registerClient({ redirect_uris: ['http://tpp.example/cb'], scope: 'aisp' }), (err) => {
      assert.ok(err instanceof OAuthError);
      assert.equal(err.status, 400);
      assert.equal(err.error, 'invalid_redirect_uri');
      assert.match(err.error_description ?? '', /https/);
      return true;
    });
  });

  test('authorization code flow: URL with PKCE, sandbox consent, exchange, refresh, revoke', async () => {
    const client = await tpp.registerClient({ redirect_uris: [REDIRECT], scope: 'aisp extended_transaction_history' });
    const { url, state, codeVerifier } = await tpp.authorizationUrl({
      clientId: client.client_id,
      redirectUri: REDIRECT,
      scope: 'aisp extended_transaction_history',
      lang: 'en',
    });
    assert.match(url, /\/en\/authorize\?/);
    assert.match(url, /code_challenge_method=S256/);
    const redirect = await tpp.sandboxConsent(url);
    assert.equal(`${redirect.origin}${redirect.pathname}`, REDIRECT);
    assert.equal(redirect.searchParams.get('state'), state);
    assert.equal(redirect.searchParams.get('iss'), s.server.issuer);
    const code = redirect.searchParams.get('code') ?? '';
    const tokens = await tpp.exchangeCode({ clientId: client.client_id, code, redirectUri: REDIRECT, codeVerifier });
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.scope, 'aisp extended_transaction_history');
    assert.ok(tokens.refresh_token);

    const refreshed = await tpp.refresh({ clientId: client.client_id, refreshToken: tokens.refresh_token ?? '' });
    assert.equal(refreshed.scope, 'aisp', 'a refresh never carries extended_transaction_history');
    await tpp.revokeToken({
      clientId: client.client_id,
      token: tokens.refresh_token ?? '',
      tokenTypeHint: 'refresh_token',
    });
    await assert.rejects(
      tpp.refresh({ clientId: client.client_id, refreshToken: tokens.refresh_token ?? '' }),
      (err) => err instanceof OAuthError && err.error === 'invalid_grant',
    );
    await assert.rejects(
      tpp.exchangeCode({ clientId: client.client_id, code, redirectUri: REDIRECT, codeVerifier }),
      (err) => err instanceof OAuthError && err.error === 'invalid_grant' && err.status === 400,
      'a code is single use',
    );
  });

  test('pushed authorization request, then a refused consent', async () => {
    const client = await tpp.registerClient({ redirect_uris: [REDIRECT], scope: 'aisp' });
    const pushed = await tpp.pushAuthorizationRequest({
      clientId: client.client_id,
      redirectUri: REDIRECT,
      scope: 'aisp',
    });
    assert.ok(pushed.expiresIn > 0 && pushed.expiresIn < 600);
    assert.match(pushed.url, /request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A/);
    const redirect = await tpp.sandboxConsent(pushed.url, { refuse: true });
    assert.equal(redirect.searchParams.get('error'), 'access_denied');
    assert.equal(redirect.searchParams.get('state'), pushed.state);
  });

  test('client credentials for a PISP, and revocation of the access token', async () => {
    const client = await tpp.registerClient({ scope: 'pisp' });
    const tokens = await tpp.clientCredentials({ clientId: client.client_id });
    assert.equal(tokens.scope, 'pisp');
    assert.equal(tokens.refresh_token, undefined);
    await tpp.revokeToken({ clientId: client.client_id, token: tokens.access_token });
    await assert.rejects(
      tpp.clientCredentials({ clientId: 'no-such-client' }),
      (err) => err instanceof OAuthError && err.error === 'invalid_client' && err.status === 401,
    );
  });
});

describe('the TPP SDK with two listeners (PSU_PORT): the pages found from the metadata', () => {
  let s: TestServer;
  let tpp: TppClient;
  before(async () => {
    s = await startTestServer({ PSU_PORT: '0' });
    const qwac = await makeTpp(s, ['PSP_AI']);
    // Only the TPP listener's address: the PSU pages' come from authorization_endpoint.
    tpp = createTppClient({ baseUrl: s.url, cert: qwac.certChain, key: qwac.key, ca: s.caPem });
  });
  after(async () => {
    await tpp.close();
    await s.close();
  });

  test('authorizationUrl and pushAuthorizationRequest point at the PSU listener; sandboxConsent plays the PSU there', async () => {
    assert.notEqual(s.psuUrl, s.url);
    const client = await tpp.registerClient({ redirect_uris: [REDIRECT], scope: 'aisp' });
    const { url, state, codeVerifier } = await tpp.authorizationUrl({
      clientId: client.client_id,
      redirectUri: REDIRECT,
      scope: 'aisp',
    });
    assert.ok(url.startsWith(`${s.psuUrl}/fr/authorize?`), url);
    const redirect = await tpp.sandboxConsent(url);
    assert.equal(redirect.searchParams.get('state'), state);
    const code = redirect.searchParams.get('code') ?? '';
    const tokens = await tpp.exchangeCode({ clientId: client.client_id, code, redirectUri: REDIRECT, codeVerifier });
    assert.equal(tokens.scope, 'aisp');
    const pushed = await tpp.pushAuthorizationRequest({
      clientId: client.client_id,
      redirectUri: REDIRECT,
      scope: 'aisp',
      lang: 'en',
    });
    assert.ok(pushed.url.startsWith(`${s.psuUrl}/en/authorize?`), pushed.url);
    assert.equal((await tpp.sandboxConsent(pushed.url, { refuse: true })).searchParams.get('error'), 'access_denied');
    // The pages are not on the TPP listener: a URL built there would have been a 404.
    assert.equal((await request(`${s.url}/fr/authorize?client_id=${client.client_id}`, { ca: s.caPem })).status, 404);
  });
});
