// The whole flow as a TPP lives it: register, send the PSU to the sandbox consent page, redeem the
// code with oauth4webapi over mTLS, refresh, call introspection as the bank's API would, revoke.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import {
  addResourceServer,
  cli,
  introspector,
  type OAuthTpp,
  oauthError,
  oauthTpp,
  REDIRECT_URI,
} from '../support/oauth-tpp.ts';
import { approveInSandbox, authorizeUrl, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/** The PSU consents on the sandbox page; the TPP checks the redirect and redeems the code. */
async function consentAndRedeem(s: TestServer, aisp: OAuthTpp) {
  const { codeVerifier, codeChallenge } = pkce();
  const state = oauth.generateRandomState();
  const landing = await approveInSandbox(
    s,
    authorizeUrl(s, { clientId: aisp.clientId, redirectUri: REDIRECT_URI, scope: 'aisp', state, codeChallenge }),
  );
  const params = oauth.validateAuthResponse(aisp.as, aisp.client, landing, state);
  return oauth.processAuthorizationCodeResponse(
    aisp.as,
    aisp.client,
    await oauth.authorizationCodeGrantRequest(
      aisp.as,
      aisp.client,
      aisp.auth,
      params,
      REDIRECT_URI,
      codeVerifier,
      aisp.options,
    ),
  );
}

describe('full flow: sandbox consent, code, refresh, introspection, revocation', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('an AISP obtains, refreshes and revokes tokens for a PSU who consented in the sandbox', async () => {
    const aisp = await oauthTpp(s, ['PSP_AI']);
    const introspect = await introspector(s, await addResourceServer(s, 'accounts-api'));
    const tokens = await consentAndRedeem(s, aisp);
    assert.equal(tokens.scope, 'aisp');
    const active = await introspect(tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(typeof active.consent_id, 'string');
    assert.ok(Array.isArray(active.account_ids) && active.account_ids.length > 0, 'the accounts the PSU chose');

    const refreshed = await oauth.processRefreshTokenResponse(
      aisp.as,
      aisp.client,
      await oauth.refreshTokenGrantRequest(aisp.as, aisp.client, aisp.auth, tokens.refresh_token!, aisp.options),
    );
    assert.equal((await introspect(refreshed.access_token)).sub, active.sub);

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(aisp.as, aisp.client, aisp.auth, tokens.refresh_token!, aisp.options),
    );
    assert.deepEqual(await introspect(tokens.access_token), { active: false });
    assert.deepEqual(await introspect(refreshed.access_token), { active: false });
  });

  test('the bank withdraws a consent: its refresh token and access tokens stop working at once', async () => {
    const aisp = await oauthTpp(s, ['PSP_AI']);
    const introspect = await introspector(s, await addResourceServer(s, 'accounts-api-2'));
    const tokens = await consentAndRedeem(s, aisp);
    const consentId = (await introspect(tokens.access_token)).consent_id as string;

    const list = await cli(s, ['consent', 'list', '--client', aisp.clientId, '--json']);
    assert.equal(list.code, 0, `consent list: ${list.stderr}`);
    const listed = JSON.parse(list.stdout) as {
      consent_id: string;
      revoked_at: string | null;
    }[];
    assert.deepEqual(
      listed.map((c) => [c.consent_id, c.revoked_at]),
      [[consentId, null]],
    );
    assert.equal((await cli(s, ['consent', 'revoke', consentId])).code, 0);
    assert.equal((await cli(s, ['consent', 'revoke', consentId])).code, 65, 'already withdrawn: EX_DATAERR');

    assert.deepEqual(await introspect(tokens.access_token), { active: false });
    const refused = await oauthError(
      oauth
        .refreshTokenGrantRequest(aisp.as, aisp.client, aisp.auth, tokens.refresh_token!, aisp.options)
        .then((r) => oauth.processRefreshTokenResponse(aisp.as, aisp.client, r)),
    );
    assert.equal(refused.error, 'invalid_grant');
  });
});
