import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { addResourceServer, introspector, oauthError, oauthTpp, withClient } from '../support/oauth-tpp.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

describe('client_credentials for PISPs, with certificate-bound JWT access tokens', () => {
  let s: TestServer;
  let introspect: Awaited<ReturnType<typeof introspector>>;
  before(async () => {
    s = await startTestServer();
    introspect = await introspector(s, await addResourceServer(s, 'payments-api'));
  });
  after(() => s.close());

  test('a PISP gets a pisp access token: an RFC 9068 JWT bound to its certificate', async () => {
    const pisp = await oauthTpp(s, ['PSP_PI']);
    const response = await oauth.clientCredentialsGrantRequest(
      pisp.as,
      pisp.client,
      pisp.auth,
      { scope: 'pisp' },
      pisp.options,
    );
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.equal(response.headers.get('pragma'), 'no-cache');
    const tokens = await oauth.processClientCredentialsResponse(pisp.as, pisp.client, response);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.expires_in, 300);
    assert.equal(tokens.scope, 'pisp');
    assert.equal(tokens.refresh_token, undefined);

    const header = decodeProtectedHeader(tokens.access_token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'EdDSA', 'Ed25519 by default');
    const jwks = (await s.get('/jwks')).json();
    const { payload } = await jwtVerify(tokens.access_token, createLocalJWKSet(jwks), {
      issuer: s.server.issuer,
      audience: `${s.server.issuer}/psd2`,
      typ: 'at+jwt',
    });
    assert.equal(payload.sub, pisp.clientId);
    assert.equal(payload.client_id, pisp.clientId);
    assert.equal(payload.scope, 'pisp');
    assert.equal(typeof payload.jti, 'string');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300);
    const thumbprint = (payload.cnf as Record<string, string>)['x5t#S256'] ?? '';
    assert.match(thumbprint, /^[A-Za-z0-9_-]{43}$/);

    const active = await introspect(tokens.access_token);
    assert.equal(active.active, true);
    assert.equal(active.scope, 'pisp');
    assert.equal(active.client_id, pisp.clientId);
    assert.equal(active.sub, pisp.clientId);
    assert.equal(active.token_type, 'Bearer');
    assert.deepEqual(active.cnf, { 'x5t#S256': thumbprint });
    assert.equal(active.exp, payload.exp);
    assert.equal(active.iat, payload.iat);
  });

  test('the scope defaults to pisp; another scope is invalid_scope', async () => {
    const pisp = await oauthTpp(s, ['PSP_PI']);
    const ok = await oauth.processClientCredentialsResponse(
      pisp.as,
      pisp.client,
      await oauth.clientCredentialsGrantRequest(pisp.as, pisp.client, pisp.auth, {}, pisp.options),
    );
    assert.equal(ok.scope, 'pisp');
    for (const scope of ['aisp', 'pisp aisp', 'payments']) {
      const res = await oauth.clientCredentialsGrantRequest(pisp.as, pisp.client, pisp.auth, { scope }, pisp.options);
      assert.deepEqual(await oauthError(oauth.processClientCredentialsResponse(pisp.as, pisp.client, res)), {
        error: 'invalid_scope',
        status: 400,
      });
    }
  });

  test('an AISP client may not use client_credentials: unauthorized_client', async () => {
    const aisp = await oauthTpp(s, ['PSP_AI']);
    const res = await oauth.clientCredentialsGrantRequest(aisp.as, aisp.client, aisp.auth, {}, aisp.options);
    assert.deepEqual(await oauthError(oauth.processClientCredentialsResponse(aisp.as, aisp.client, res)), {
      error: 'unauthorized_client',
      status: 400,
    });
  });

  test('a renewed certificate without PSP_PI: unauthorized_client, even for a pisp client', async () => {
    const org = `PSDFR-ACPR-RENEW${process.pid}`;
    const first = await makeTpp(s, ['PSP_PI', 'PSP_AI'], { organizationIdentifier: org, name: 'Renewing TPP' });
    const pisp = await oauthTpp(s, ['PSP_PI'], { grant_types: ['client_credentials'] }, first);
    const renewed = await makeTpp(s, ['PSP_AI'], { organizationIdentifier: org, name: 'Renewing TPP' });
    const again = await withClient(s, renewed, pisp.clientId);
    const res = await oauth.clientCredentialsGrantRequest(again.as, again.client, again.auth, {}, again.options);
    assert.deepEqual(await oauthError(oauth.processClientCredentialsResponse(again.as, again.client, res)), {
      error: 'unauthorized_client',
      status: 400,
    });
  });

  test('client authentication: unknown client, another certificate, another organisation → 401 invalid_client', async () => {
    const pisp = await oauthTpp(s, ['PSP_PI']);
    const unknown = await withClient(s, pisp.tpp, 'no-such-client');
    const other = await withClient(s, await makeTpp(s, ['PSP_PI']), pisp.clientId);
    for (const caller of [unknown, other]) {
      const res = await oauth.clientCredentialsGrantRequest(caller.as, caller.client, caller.auth, {}, caller.options);
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_client"/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal((await res.json()).error, 'invalid_client');
    }
    const noCertificate = await s.post('/token', {
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: pisp.clientId }),
    });
    assert.equal(noCertificate.status, 401);
    assert.equal(noCertificate.json().error, 'invalid_client');
    const noClientId = await pisp.tpp.call('POST', '/token', {
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    assert.equal(noClientId.status, 401);
    assert.equal(noClientId.json().error, 'invalid_client');
  });

  test('request shape: form body only, no repeated parameter, known grant types only', async () => {
    const pisp = await oauthTpp(s, ['PSP_PI']);
    const post = (body: string, type = 'application/x-www-form-urlencoded') =>
      pisp.tpp.call('POST', '/token', { body, headers: { 'content-type': type } });

    const json = await post(
      JSON.stringify({ grant_type: 'client_credentials', client_id: pisp.clientId }),
      'application/json',
    );
    assert.equal(json.status, 400);
    assert.equal(json.json().error, 'invalid_request');
    assert.equal(json.header('pragma'), 'no-cache');

    const repeated = await post(`grant_type=client_credentials&client_id=${pisp.clientId}&scope=pisp&scope=pisp`);
    assert.equal(repeated.status, 400);
    assert.equal(repeated.json().error, 'invalid_request');
    assert.match(repeated.json().error_description, /scope: repeated/);

    const missing = await post(`client_id=${pisp.clientId}`);
    assert.equal(missing.status, 400);
    assert.equal(missing.json().error, 'invalid_request');

    const password = await post(`grant_type=password&client_id=${pisp.clientId}&username=a&password=b`);
    assert.equal(password.status, 400);
    assert.equal(password.json().error, 'unsupported_grant_type');

    const extra = await post(`grant_type=client_credentials&client_id=${pisp.clientId}&code=ignored&resource=x`);
    assert.equal(extra.status, 200, extra.text);
    assert.equal(extra.header('cache-control'), 'no-store');
  });

  test('the metadata advertises the token, revocation and introspection endpoints', async () => {
    const m = (await s.get('/.well-known/oauth-authorization-server')).json();
    assert.equal(m.token_endpoint, `${s.server.issuer}/token`);
    assert.equal(m.revocation_endpoint, `${s.server.issuer}/revoke`);
    assert.equal(m.introspection_endpoint, `${s.server.issuer}/introspect`);
    assert.deepEqual(m.grant_types_supported, ['authorization_code', 'refresh_token', 'client_credentials']);
    assert.deepEqual(m.introspection_endpoint_auth_methods_supported, ['client_secret_basic']);
    assert.deepEqual(m.revocation_endpoint_auth_methods_supported, ['tls_client_auth']);
  });
});
