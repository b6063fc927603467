import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { secretDigest } from '../../server/protocol/secrets.ts';
import { type IssuedCode, issueCode } from '../support/grants.ts';
import {
  addResourceServer,
  introspector,
  type OAuthTpp,
  oauthError,
  oauthTpp,
  REDIRECT_URI,
  redeemCode as redeem,
} from '../support/oauth-tpp.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

async function tokens(tpp: OAuthTpp, s: TestServer, issued: IssuedCode) {
  return oauth.processAuthorizationCodeResponse(tpp.as, tpp.client, await redeem(tpp, s, issued));
}

describe('authorization_code with PKCE, for AISPs and CBPIIs', () => {
  let s: TestServer;
  let aisp: OAuthTpp;
  let introspect: Awaited<ReturnType<typeof introspector>>;
  before(async () => {
    s = await startTestServer();
    aisp = await oauthTpp(s, ['PSP_AI']);
    introspect = await introspector(s, await addResourceServer(s, 'accounts-api'));
  });
  after(() => s.close());

  test('an AISP redeems a code: JWT with the PSU, the consent and its accounts, and a refresh token', async () => {
    const issued = await issueCode(s, {
      clientId: aisp.clientId,
      redirectUri: REDIRECT_URI,
      scope: 'aisp extended_transaction_history',
      accountIds: ['FR76-1', 'FR76-2'],
    });
    const response = await redeem(aisp, s, issued);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const result = await oauth.processAuthorizationCodeResponse(aisp.as, aisp.client, response);
    assert.equal(result.scope, 'aisp extended_transaction_history');
    assert.equal(result.expires_in, 300);
    assert.match(
      result.refresh_token ?? '',
      /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/,
      '256 random bits after the grant id',
    );
    const claims = decodeJwt(result.access_token);
    assert.equal(claims.sub, issued.psuId);
    assert.equal(claims.client_id, aisp.clientId);
    assert.equal(claims.consent_id, issued.consentId);
    assert.deepEqual(claims.account_ids, ['FR76-1', 'FR76-2']);
    assert.equal(typeof claims.grant_id, 'string');

    const active = await introspect(result.access_token);
    assert.equal(active.active, true);
    assert.equal(active.sub, issued.psuId);
    assert.equal(active.consent_id, issued.consentId);
    assert.deepEqual(active.account_ids, ['FR76-1', 'FR76-2']);

    const stored = await (await s.stores!()).grants.find(claims.grant_id as string);
    assert.ok(stored, 'the grant is stored');
    assert.equal(stored.grant.consentId, issued.consentId);
    assert.ok(stored.grant.refreshTokenDigest);
    assert.notEqual(stored.grant.refreshTokenDigest, result.refresh_token, 'only a digest is stored');
    assert.equal(stored.grant.expiresAt, stored.consent?.expiresAt, 'the refresh token expires with its consent');
  });

  test('a CBPII redeems a code for cbpii', async () => {
    const cbpii = await oauthTpp(s, ['PSP_IC']);
    const issued = await issueCode(s, { clientId: cbpii.clientId, redirectUri: REDIRECT_URI, scope: 'cbpii' });
    const result = await tokens(cbpii, s, issued);
    assert.equal(result.scope, 'cbpii');
    assert.ok(result.refresh_token);
    assert.equal(decodeJwt(result.access_token).consent_id, issued.consentId);
  });

  test('a second use of a code is invalid_grant and revokes what the first use issued', async () => {
    const issued = await issueCode(s, { clientId: aisp.clientId, redirectUri: REDIRECT_URI });
    const first = await tokens(aisp, s, issued);
    assert.equal((await introspect(first.access_token)).active, true);

    assert.deepEqual(await oauthError(tokens(aisp, s, issued)), { error: 'invalid_grant', status: 400 });
    assert.deepEqual(await introspect(first.access_token), { active: false });
    const refresh = await oauth.refreshTokenGrantRequest(
      aisp.as,
      aisp.client,
      aisp.auth,
      first.refresh_token!,
      aisp.options,
    );
    assert.deepEqual(await oauthError(oauth.processRefreshTokenResponse(aisp.as, aisp.client, refresh)), {
      error: 'invalid_grant',
      status: 400,
    });
  });

  test('eight concurrent redemptions of one code: exactly one succeeds', async () => {
    const issued = await issueCode(s, { clientId: aisp.clientId, redirectUri: REDIRECT_URI });
    const responses = await Promise.all(Array.from({ length: 8 }, () => redeem(aisp, s, issued)));
    const statuses = responses.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 400, 400, 400, 400, 400, 400, 400]);
    for (const r of responses.filter((r) => r.status === 400)) assert.equal((await r.json()).error, 'invalid_grant');
    // The code names the one grant its redemption created: the winner's.
    const stores = await s.stores!();
    const code = await stores.authorizationCodes.find(await secretDigest(issued.code));
    const winner = await responses.find((r) => r.status === 200)!.json();
    assert.equal(code?.code.grantId, decodeJwt(winner.access_token).grant_id, 'one grant was created');
    const grant = await stores.grants.find(code!.code.grantId!);
    assert.equal(grant?.grant.revokedReason, 'code_reuse', 'the other presentations revoked it (RFC 6749 §4.1.2)');
  });

  test('PKCE, redirect_uri, expiry and client binding: invalid_grant, and the code stays usable', async () => {
    const issued = await issueCode(s, { clientId: aisp.clientId, redirectUri: REDIRECT_URI });
    const wrongVerifier = await redeem(aisp, s, issued, { verifier: 'x'.repeat(43) });
    assert.deepEqual(await oauthError(oauth.processAuthorizationCodeResponse(aisp.as, aisp.client, wrongVerifier)), {
      error: 'invalid_grant',
      status: 400,
    });
    const wrongRedirect = await redeem(aisp, s, issued, { redirectUri: 'https://tpp.example/other' });
    assert.deepEqual(await oauthError(oauth.processAuthorizationCodeResponse(aisp.as, aisp.client, wrongRedirect)), {
      error: 'invalid_grant',
      status: 400,
    });
    const other = await oauthTpp(s, ['PSP_AI']);
    assert.deepEqual(await oauthError(tokens(other, s, issued)), { error: 'invalid_grant', status: 400 });

    const result = await tokens(aisp, s, issued);
    assert.equal(result.scope, 'aisp', 'failed attempts changed nothing');

    const expired = await issueCode(s, { clientId: aisp.clientId, redirectUri: REDIRECT_URI, codeLifetime: -1 });
    assert.deepEqual(await oauthError(tokens(aisp, s, expired)), { error: 'invalid_grant', status: 400 });
    const unknown = { ...expired, code: 'never-issued' };
    assert.deepEqual(await oauthError(tokens(aisp, s, unknown)), { error: 'invalid_grant', status: 400 });
  });

  test('missing code, redirect_uri or code_verifier: invalid_request', async () => {
    const issued = await issueCode(s, { clientId: aisp.clientId, redirectUri: REDIRECT_URI });
    const base = {
      grant_type: 'authorization_code',
      client_id: aisp.clientId,
      code: issued.code,
      redirect_uri: REDIRECT_URI,
      code_verifier: issued.codeVerifier,
    };
    for (const missing of ['code', 'redirect_uri', 'code_verifier'] as const) {
      const body = new URLSearchParams(base);
      body.delete(missing);
      const res = await aisp.tpp.call('POST', '/token', { body });
      assert.equal(res.status, 400);
      assert.equal(res.json().error, 'invalid_request');
      assert.match(res.json().error_description, new RegExp(missing));
    }
    const twice = new URLSearchParams(base);
    twice.append('code', issued.code);
    const res = await aisp.tpp.call('POST', '/token', { body: twice });
    assert.equal(res.json().error, 'invalid_request');
  });

  test('a consent revoked or expired before the redemption: invalid_grant', async () => {
    const revoked = await issueCode(s, { clientId: aisp.clientId, redirectUri: REDIRECT_URI });
    assert.equal(await (await s.stores!()).authorization.consents.revoke(revoked.consentId, Date.now(), 'psu'), true);
    assert.deepEqual(await oauthError(tokens(aisp, s, revoked)), { error: 'invalid_grant', status: 400 });
    const expired = await issueCode(s, { clientId: aisp.clientId, redirectUri: REDIRECT_URI, consentLifetime: -1 });
    assert.deepEqual(await oauthError(tokens(aisp, s, expired)), { error: 'invalid_grant', status: 400 });
  });

  test('a PISP client may not use authorization_code: unauthorized_client', async () => {
    const pisp = await oauthTpp(s, ['PSP_PI']);
    const issued = await issueCode(s, { clientId: pisp.clientId, redirectUri: REDIRECT_URI, scope: 'pisp' });
    assert.deepEqual(await oauthError(tokens(pisp, s, issued)), { error: 'unauthorized_client', status: 400 });
  });
});
