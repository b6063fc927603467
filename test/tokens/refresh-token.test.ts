import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import {
  addResourceServer,
  codeTokens,
  introspector,
  type OAuthTpp,
  oauthError,
  oauthTpp,
} from '../support/oauth-tpp.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

async function refresh(tpp: OAuthTpp, refreshToken: string, scope?: string) {
  const response = await oauth.refreshTokenGrantRequest(tpp.as, tpp.client, tpp.auth, refreshToken, {
    ...tpp.options,
    ...(scope ? { additionalParameters: { scope } } : {}),
  });
  return oauth.processRefreshTokenResponse(tpp.as, tpp.client, response);
}

describe('refresh_token without rotation (the default)', () => {
  let s: TestServer;
  let aisp: OAuthTpp;
  let introspect: Awaited<ReturnType<typeof introspector>>;
  before(async () => {
    s = await startTestServer();
    aisp = await oauthTpp(s, ['PSP_AI']);
    introspect = await introspector(s, await addResourceServer(s, 'accounts-api'));
  });
  after(() => s.close());

  test('refreshing aisp extended_transaction_history gives aisp, and writes nothing', async () => {
    const first = await codeTokens(s, aisp, 'aisp extended_transaction_history');
    const { grants } = await s.stores!();
    const grantId = decodeJwt(first.access_token).grant_id as string;
    const before = await grants.find(grantId);
    assert.ok(before);
    const again = await refresh(aisp, first.refresh_token!);
    assert.equal(again.scope, 'aisp', 'history beyond 90 days needs a new SCA');
    assert.equal(again.refresh_token, undefined, 'no rotation: the same refresh token stays valid');
    const claims = decodeJwt(again.access_token);
    assert.equal(claims.scope, 'aisp');
    assert.equal(claims.consent_id, first.consentId);
    assert.equal(claims.grant_id, decodeJwt(first.access_token).grant_id);
    assert.deepEqual(await grants.find(grantId), before, 'a refresh without rotation writes nothing');
    assert.equal((await refresh(aisp, first.refresh_token!)).scope, 'aisp', 'and it can be used again');
  });

  test('asking extended_transaction_history again, or a scope never granted: invalid_scope', async () => {
    const first = await codeTokens(s, aisp, 'aisp extended_transaction_history');
    assert.deepEqual(await oauthError(refresh(aisp, first.refresh_token!, 'aisp extended_transaction_history')), {
      error: 'invalid_scope',
      status: 400,
    });
    const multi = await oauthTpp(s, ['PSP_AI', 'PSP_IC']);
    const narrow = await codeTokens(s, multi, 'aisp');
    assert.deepEqual(await oauthError(refresh(multi, narrow.refresh_token!, 'aisp cbpii')), {
      error: 'invalid_scope',
      status: 400,
    });
    const both = await codeTokens(s, multi, 'aisp cbpii');
    assert.equal((await refresh(multi, both.refresh_token!, 'cbpii')).scope, 'cbpii', 'narrowing is allowed');
    assert.equal((await refresh(multi, both.refresh_token!)).scope, 'aisp cbpii');
  });

  test('a CBPII refreshes cbpii', async () => {
    const cbpii = await oauthTpp(s, ['PSP_IC']);
    const first = await codeTokens(s, cbpii, 'cbpii');
    const again = await refresh(cbpii, first.refresh_token!);
    assert.equal(again.scope, 'cbpii');
    assert.equal((await introspect(again.access_token)).active, true);
  });

  test('the refresh token is bound to its client', async () => {
    const first = await codeTokens(s, aisp, 'aisp');
    const thief = await oauthTpp(s, ['PSP_AI']);
    assert.deepEqual(await oauthError(refresh(thief, first.refresh_token!)), { error: 'invalid_grant', status: 400 });
    assert.equal((await refresh(aisp, first.refresh_token!)).scope, 'aisp', 'and left working for its owner');
  });

  test('after the consent is revoked or has expired: invalid_grant, and its access tokens are inactive', async () => {
    const revoked = await codeTokens(s, aisp, 'aisp');
    const { authorization } = await s.stores!();
    assert.equal(await authorization.consents.revoke(revoked.consentId, Date.now(), 'psu'), true);
    assert.deepEqual(await oauthError(refresh(aisp, revoked.refresh_token!)), { error: 'invalid_grant', status: 400 });
    assert.deepEqual(await introspect(revoked.access_token), { active: false });

    // A consent of two seconds, redeemed at once; refreshed once it has run out.
    const lifetime = 2_000;
    const issuedAt = Date.now();
    const expired = await codeTokens(s, aisp, 'aisp', { consentLifetime: lifetime });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, issuedAt + lifetime - Date.now()) + 20));
    assert.deepEqual(await oauthError(refresh(aisp, expired.refresh_token!)), { error: 'invalid_grant', status: 400 });
    assert.deepEqual(await introspect(expired.access_token), { active: false });
  });

  test('unknown or malformed refresh tokens: invalid_grant', async () => {
    const first = await codeTokens(s, aisp, 'aisp');
    const grantId = first.refresh_token!.split('.')[0];
    for (const token of ['nope', `${grantId}.${'A'.repeat(43)}`, `${'B'.repeat(22)}.${'A'.repeat(43)}`]) {
      assert.deepEqual(await oauthError(refresh(aisp, token)), { error: 'invalid_grant', status: 400 });
    }
    assert.equal(
      (await refresh(aisp, first.refresh_token!)).scope,
      'aisp',
      'a wrong guess changes nothing without rotation',
    );
  });

  test('a PISP client may not refresh: unauthorized_client', async () => {
    const pisp = await oauthTpp(s, ['PSP_PI']);
    assert.deepEqual(await oauthError(refresh(pisp, 'whatever')), { error: 'unauthorized_client', status: 400 });
  });
});

describe('refresh_token with REFRESH_TOKEN_ROTATION=true', () => {
  let s: TestServer;
  let aisp: OAuthTpp;
  before(async () => {
    s = await startTestServer({ REFRESH_TOKEN_ROTATION: 'true' });
    aisp = await oauthTpp(s, ['PSP_AI']);
  });
  after(() => s.close());

  test('each refresh rotates; the previous token works once more for a retry; an older one revokes the grant', async () => {
    const first = await codeTokens(s, aisp, 'aisp');
    const r0 = first.refresh_token!;
    const r1 = (await refresh(aisp, r0)).refresh_token!;
    assert.ok(r1 && r1 !== r0);
    // The response carrying r1 was lost: the client retries with r0.
    const r2 = (await refresh(aisp, r0)).refresh_token!;
    assert.ok(r2 && r2 !== r1);
    // r1 is now neither current nor previous: a copy was kept somewhere. The grant is revoked.
    assert.deepEqual(await oauthError(refresh(aisp, r1)), { error: 'invalid_grant', status: 400 });
    assert.deepEqual(await oauthError(refresh(aisp, r2)), { error: 'invalid_grant', status: 400 });
    const stored = await (await s.stores!()).grants.find(decodeJwt(first.access_token).grant_id as string);
    assert.equal(stored?.grant.revokedReason, 'refresh_token_reuse');
  });

  test('the normal chain keeps working', async () => {
    let token = (await codeTokens(s, aisp, 'aisp extended_transaction_history')).refresh_token!;
    for (let i = 0; i < 3; i++) {
      const next = await refresh(aisp, token);
      assert.equal(next.scope, 'aisp');
      token = next.refresh_token!;
    }
  });
});
