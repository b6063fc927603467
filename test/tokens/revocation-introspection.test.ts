import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { base64url, decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { request } from '../support/https.ts';
import { mtlsFetch } from '../support/mtls-fetch.ts';
import {
  addResourceServer,
  cli,
  codeTokens,
  introspector,
  type OAuthTpp,
  oauthError,
  oauthTpp,
  REDIRECT_URI,
  type ResourceServerCredentials,
  withClient,
} from '../support/oauth-tpp.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

async function pispToken(tpp: OAuthTpp): Promise<string> {
  const res = await oauth.clientCredentialsGrantRequest(tpp.as, tpp.client, tpp.auth, {}, tpp.options);
  return (await oauth.processClientCredentialsResponse(tpp.as, tpp.client, res)).access_token;
}

async function revoke(tpp: OAuthTpp, token: string, hint?: string): Promise<Response> {
  return oauth.revocationRequest(tpp.as, tpp.client, tpp.auth, token, {
    ...tpp.options,
    ...(hint ? { additionalParameters: { token_type_hint: hint } } : {}),
  });
}

async function refreshWorks(tpp: OAuthTpp, refreshToken: string): Promise<boolean> {
  const res = await oauth.refreshTokenGrantRequest(tpp.as, tpp.client, tpp.auth, refreshToken, tpp.options);
  return res.status === 200;
}

/** x5t#S256 (RFC 8705 §3.1) of a PEM certificate. */
async function thumbprint(pem: string): Promise<string> {
  const der = new X509Certificate(pem).raw;
  return base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(der))));
}

describe('revocation (RFC 7009) and introspection (RFC 7662)', () => {
  let s: TestServer;
  let rs: ResourceServerCredentials;
  let introspect: Awaited<ReturnType<typeof introspector>>;
  let pisp: OAuthTpp;
  let aisp: OAuthTpp;
  before(async () => {
    s = await startTestServer();
    rs = await addResourceServer(s, 'psd2-api');
    introspect = await introspector(s, rs);
    pisp = await oauthTpp(s, ['PSP_PI']);
    aisp = await oauthTpp(s, ['PSP_AI']);
  });
  after(() => s.close());

  test('revoking an access token revokes it alone', async () => {
    const a = await pispToken(pisp);
    const b = await pispToken(pisp);
    const res = await revoke(pisp, a, 'access_token');
    assert.equal(res.status, 200);
    await oauth.processRevocationResponse(res);
    assert.deepEqual(await introspect(a), { active: false });
    assert.equal((await introspect(b)).active, true);
    assert.equal((await revoke(pisp, a)).status, 200, 'revoking again is not an error');
  });

  test('revoking a refresh token revokes the grant: the refresh token and every access token from it', async () => {
    const first = await codeTokens(s, aisp);
    const refreshed = await oauth.processRefreshTokenResponse(
      aisp.as,
      aisp.client,
      await oauth.refreshTokenGrantRequest(aisp.as, aisp.client, aisp.auth, first.refresh_token!, aisp.options),
    );
    const unrelated = await codeTokens(s, aisp);
    assert.equal((await introspect(first.access_token)).active, true);
    assert.equal((await introspect(refreshed.access_token)).active, true);

    assert.equal((await revoke(aisp, first.refresh_token!, 'refresh_token')).status, 200);
    assert.deepEqual(await introspect(first.access_token), { active: false });
    assert.deepEqual(await introspect(refreshed.access_token), { active: false });
    assert.equal(await refreshWorks(aisp, first.refresh_token!), false);
    assert.equal((await introspect(unrelated.access_token)).active, true, 'another grant is untouched');
    assert.equal(await refreshWorks(aisp, unrelated.refresh_token!), true);
  });

  test('revoking an access token leaves its grant and refresh token alone', async () => {
    const t = await codeTokens(s, aisp);
    assert.equal((await revoke(aisp, t.access_token)).status, 200);
    assert.deepEqual(await introspect(t.access_token), { active: false });
    assert.equal(await refreshWorks(aisp, t.refresh_token!), true);
  });

  test('unknown, garbage or mis-hinted tokens get 200', async () => {
    for (const token of ['garbage', 'a.b.c', `${'A'.repeat(22)}.${'B'.repeat(43)}`]) {
      assert.equal((await revoke(pisp, token)).status, 200);
    }
    const t = await pispToken(pisp);
    assert.equal((await revoke(pisp, t, 'refresh_token')).status, 200, 'the hint is not needed');
    assert.deepEqual(await introspect(t), { active: false });
  });

  test('a token of another client is refused with invalid_request and left untouched', async () => {
    const victim = await codeTokens(s, aisp);
    const other = await oauthTpp(s, ['PSP_AI']);
    for (const token of [victim.access_token, victim.refresh_token!]) {
      const res = await revoke(other, token);
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error, 'invalid_request');
    }
    assert.equal((await introspect(victim.access_token)).active, true);
    assert.equal(await refreshWorks(aisp, victim.refresh_token!), true);
  });

  test('revocation needs the client: no certificate or no client_id is 401, no token is invalid_request', async () => {
    const t = await pispToken(pisp);
    const noCert = await s.post('/revoke', { body: new URLSearchParams({ token: t, client_id: pisp.clientId }) });
    assert.equal(noCert.status, 401);
    const noClient = await pisp.tpp.call('POST', '/revoke', { body: new URLSearchParams({ token: t }) });
    assert.equal(noClient.status, 401);
    assert.equal(noClient.json().error, 'invalid_client');
    const noToken = await pisp.tpp.call('POST', '/revoke', { body: new URLSearchParams({ client_id: pisp.clientId }) });
    assert.equal(noToken.status, 400);
    assert.equal(noToken.json().error, 'invalid_request');
    assert.equal((await introspect(t)).active, true);
  });

  test('an inactive token is exactly {"active": false}', async () => {
    for (const token of ['garbage', 'e30.e30.e30', `${'A'.repeat(22)}.${'B'.repeat(43)}`]) {
      const res = await request(`${s.url}/introspect`, {
        ca: s.caPem,
        method: 'POST',
        headers: { authorization: `Basic ${btoa(`${rs.client_id}:${rs.client_secret}`)}` },
        body: new URLSearchParams({ token }),
      });
      assert.equal(res.status, 200);
      assert.equal(res.text, '{"active":false}');
      assert.equal(res.header('cache-control'), 'no-store');
    }
    const refresh = (await codeTokens(s, aisp)).refresh_token!;
    assert.deepEqual(await introspect(refresh), { active: false }, 'refresh tokens are not for resource servers');
  });

  test('introspection needs resource server credentials: a TPP certificate is not enough', async () => {
    const t = await pispToken(pisp);
    const asTpp = await pisp.tpp.call('POST', '/introspect', { body: new URLSearchParams({ token: t }) });
    assert.equal(asTpp.status, 401);
    assert.equal(asTpp.json().error, 'invalid_client');
    assert.match(asTpp.header('www-authenticate') ?? '', /^Basic /);

    const tppAsBasic = await pisp.tpp.call('POST', '/introspect', {
      headers: { authorization: `Basic ${btoa(`${pisp.clientId}:whatever`)}` },
      body: new URLSearchParams({ token: t }),
    });
    assert.equal(tppAsBasic.status, 401);

    const wrong = await introspector(s, { ...rs, client_secret: 'wrong' });
    const refused = await oauthError(wrong(t));
    assert.equal(refused.status, 401);
    assert.equal(refused.error, 'invalid_client');
    assert.match(refused.www ?? '', /^Basic realm="psd2-oauth", error="invalid_client"/);
  });

  test('the resource-server command lists and disables credentials', async () => {
    const extra = await addResourceServer(s, 'card-api');
    const listed = JSON.parse((await cli(s, ['resource-server', 'list', '--json'])).stdout) as {
      client_id: string;
      name: string;
    }[];
    assert.ok(listed.some((r) => r.client_id === extra.client_id && r.name === 'card-api'));
    assert.ok(!JSON.stringify(listed).includes(extra.client_secret), 'the secret is never shown again');
    const t = await pispToken(pisp);
    assert.equal((await (await introspector(s, extra))(t)).active, true);
    assert.equal((await cli(s, ['resource-server', 'disable', extra.client_id])).code, 0);
    assert.equal((await oauthError((await introspector(s, extra))(t))).status, 401);
    assert.equal((await cli(s, ['resource-server', 'disable', extra.client_id])).code, 65);
  });

  test('cnf carries the thumbprint of the certificate the token was issued to; another certificate differs', async () => {
    const org = `PSDFR-ACPR-CNF${process.pid}`;
    const certA = await makeTpp(s, ['PSP_PI'], { organizationIdentifier: org, name: 'Twin TPP' });
    const certB = await makeTpp(s, ['PSP_PI'], { organizationIdentifier: org, name: 'Twin TPP' });
    const viaA = await oauthTpp(s, ['PSP_PI'], {}, certA);
    const viaB = await withClient(s, certB, viaA.clientId);
    const tokenA = await pispToken(viaA);
    const tokenB = await pispToken(viaB);
    const cnfA = (await introspect(tokenA)).cnf as Record<string, string>;
    const cnfB = (await introspect(tokenB)).cnf as Record<string, string>;
    assert.equal(cnfA['x5t#S256'], await thumbprint(certA.cert));
    assert.equal(cnfB['x5t#S256'], await thumbprint(certB.cert));
    // A resource server receiving tokenA over a TLS connection authenticated with certB sees the mismatch.
    assert.notEqual(cnfA['x5t#S256'], await thumbprint(certB.cert));
  });

  test('deleting the client (RFC 7592) ends its tokens: client_credentials and grants alike', async () => {
    const holder = await makeTpp(s, ['PSP_PI', 'PSP_AI']);
    const registered = (await holder.call('POST', '/register', { body: { redirect_uris: [REDIRECT_URI] } })).json();
    const client = await withClient(s, holder, registered.client_id);
    const pispAccess = await pispToken(client);
    const grant = await codeTokens(s, client);
    assert.equal((await introspect(pispAccess)).active, true);
    const deleted = await holder.call('DELETE', `/register/${registered.client_id}`, {
      headers: { authorization: `Bearer ${registered.registration_access_token}` },
    });
    assert.equal(deleted.status, 204);
    assert.deepEqual(await introspect(pispAccess), { active: false });
    assert.deepEqual(await introspect(grant.access_token), { active: false });
    // The grant the access token names (its grant_id claim), as the store keeps it.
    const { grant_id: grantId } = decodeJwt(grant.access_token);
    assert.equal(typeof grantId, 'string');
    const found = await (await s.stores!()).grants.find(grantId as string);
    assert.equal(found?.grant.clientId, registered.client_id);
    assert.equal(found?.grant.revokedReason, 'client_deleted');
  });

  test('a resource server can also validate locally with /jwks (no revocation check)', async () => {
    const fetch = await mtlsFetch({ ca: s.caPem });
    const t = await pispToken(pisp);
    const jwks = await (await fetch(`${s.url}/jwks`)).json();
    const { createLocalJWKSet, jwtVerify } = await import('jose');
    const { payload } = await jwtVerify(t, createLocalJWKSet(jwks), {
      issuer: s.server.issuer,
      audience: `${s.server.issuer}/psd2`,
      typ: 'at+jwt',
    });
    assert.equal(payload.client_id, pisp.clientId);
  });
});
