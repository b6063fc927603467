// Two listeners: the PSU pages where no client certificate is ever requested, the TPP API over
// mutual TLS, each serving only its own routes; the metadata says where each endpoint lives
// (RFC 8705 §5). The Chromium side of this (a browser holding a certificate) is in test/browser/.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import * as oauth from 'oauth4webapi';
import { loadConfig } from '../../server/config.ts';
import { request } from '../support/https.ts';
import { oauthTpp, REDIRECT_URI } from '../support/oauth-tpp.ts';
import { approveInSandbox, authorizeUrl, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

/** Whether each TLS connection on a listener brought a client certificate, as the server saw it. */
function watchPeerCertificates(s: TestServer, role: 'tpp' | 'psu'): boolean[] {
  const seen: boolean[] = [];
  const listener = s.server.listeners.find((l) => l.role === role);
  assert.ok(listener, `a ${role} listener`);
  listener.server.on('secureConnection', (socket: TLSSocket) => {
    seen.push(Object.keys(socket.getPeerCertificate() ?? {}).length > 0);
  });
  return seen;
}

describe('two listeners (PSU_PORT set)', () => {
  let s: TestServer;
  let tpp: Tpp;
  before(async () => {
    s = await startTestServer({ PSU_PORT: '0' });
    tpp = await makeTpp(s, ['PSP_AI']);
  });
  after(() => s.close());

  test('they are two ports, and the metadata names each endpoint where it is served', async () => {
    assert.notEqual(s.psuUrl, s.url);
    for (const base of [s.url, s.psuUrl]) {
      const res = await request(`${base}/.well-known/oauth-authorization-server`, { ca: s.caPem });
      assert.equal(res.status, 200);
      const metadata = res.json();
      assert.equal(metadata.issuer, s.server.issuer);
      assert.equal(metadata.authorization_endpoint, `${s.psuUrl}/authorize`);
      assert.equal(metadata.token_endpoint, `${s.url}/token`);
      assert.deepEqual(metadata.mtls_endpoint_aliases, {
        token_endpoint: `${s.url}/token`,
        revocation_endpoint: `${s.url}/revoke`,
        pushed_authorization_request_endpoint: `${s.url}/par`,
        registration_endpoint: `${s.url}/register`,
      });
    }
  });

  test('the PSU listener never asks for a certificate; the TPP listener does', async () => {
    const onPsu = watchPeerCertificates(s, 'psu');
    const onTpp = watchPeerCertificates(s, 'tpp');
    const identity = { ca: s.caPem, cert: tpp.certChain, key: tpp.key };
    assert.equal((await request(`${s.psuUrl}/assets/psu.css`, identity)).status, 200);
    assert.equal((await request(`${s.url}/health`, identity)).status, 200);
    assert.deepEqual(onPsu, [false], 'a client holding a certificate sent none: it was not asked');
    assert.deepEqual(onTpp, [true]);
  });

  test('each listener serves only its own routes', async () => {
    const identity = { ca: s.caPem, cert: tpp.certChain, key: tpp.key };
    for (const [method, path] of [
      ['POST', '/register'],
      ['POST', '/token'],
      ['POST', '/par'],
      ['POST', '/revoke'],
      ['POST', '/introspect'],
      ['GET', '/openapi.json'],
      ['GET', '/docs'],
    ] as const) {
      const res = await request(`${s.psuUrl}${path}`, { ...identity, method, body: new URLSearchParams() });
      assert.equal(res.status, 404, `${method} ${path} on the PSU listener`);
      assert.equal(res.json().error, 'not_found');
    }
    for (const path of ['/authorize', '/fr/authorize', '/en/authorize/login', '/assets/psu.css', '/en/permissions']) {
      const res = await request(`${s.url}${path}`, identity);
      assert.equal(res.status, 404, `GET ${path} on the TPP listener`);
    }
    for (const path of ['/health', '/jwks']) {
      assert.equal((await request(`${s.psuUrl}${path}`, { ca: s.caPem })).status, 200, path);
      assert.equal((await request(`${s.url}${path}`, { ca: s.caPem })).status, 200, path);
    }
  });

  test('a code flow crosses them: PSU pages on one, token endpoint on the other (oauth4webapi, mTLS aliases)', async () => {
    const aisp = await oauthTpp(s, ['PSP_AI'], { redirect_uris: [REDIRECT_URI] }, tpp);
    const { codeVerifier, codeChallenge } = pkce();
    const state = oauth.generateRandomState();
    const landing = await approveInSandbox(
      s,
      authorizeUrl(s, { clientId: aisp.clientId, redirectUri: REDIRECT_URI, scope: 'aisp', state, codeChallenge }),
    );
    const params = oauth.validateAuthResponse(aisp.as, aisp.client, landing, state);
    const client = { ...aisp.client, use_mtls_endpoint_aliases: true };
    const response = await oauth.authorizationCodeGrantRequest(
      aisp.as,
      client,
      aisp.auth,
      params,
      REDIRECT_URI,
      codeVerifier,
      aisp.options,
    );
    const tokens = await oauth.processAuthorizationCodeResponse(aisp.as, client, response);
    assert.equal(tokens.scope, 'aisp');
  });
});

describe('one listener (the sandbox default)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('serves pages and API on one port, without mtls_endpoint_aliases', async () => {
    assert.equal(s.psuUrl, s.url);
    const metadata = (await s.get('/.well-known/oauth-authorization-server')).json();
    assert.equal(metadata.authorization_endpoint, `${s.url}/authorize`);
    assert.equal(metadata.mtls_endpoint_aliases, undefined);
    assert.equal((await s.get('/assets/psu.css')).status, 200);
    assert.equal((await s.get('/openapi.json')).status, 200);
  });
});

describe('listener settings', () => {
  test('production needs the PSU listener and its public URL', () => {
    const base = {
      MODE: 'production',
      ISSUER: 'https://api.bank.example',
      TLS_CERT: 'c.pem',
      TLS_KEY: 'k.pem',
      TRUST_ANCHORS: 'a.pem',
      KEY_ENCRYPTION_KEY_FILE: 'kek',
    };
    assert.throws(() => loadConfig(base), /PSU_PORT is required in production mode/);
    assert.throws(() => loadConfig({ ...base, PSU_PORT: '8444' }), /PSU_BASE_URL is required/);
    assert.throws(
      () => loadConfig({ ...base, PSU_PORT: '8444', PSU_BASE_URL: 'http://bank.example' }),
      /PSU_BASE_URL must be an https URL/,
    );
    const config = loadConfig({ ...base, PSU_PORT: '8444', PSU_BASE_URL: 'https://bank.example/' });
    assert.equal(config.psu?.baseUrl, 'https://bank.example');
    assert.equal(config.psu?.host, '127.0.0.1');
  });

  test('PSU settings without PSU_PORT, or a PSU certificate without its key, are refused', () => {
    assert.throws(() => loadConfig({ PSU_HOST: '0.0.0.0' }), /PSU_HOST need PSU_PORT/);
    assert.throws(() => loadConfig({ PSU_PORT: '8444', PSU_TLS_CERT: 'c.pem' }), /PSU_TLS_CERT and PSU_TLS_KEY/);
    assert.throws(() => loadConfig({ PSU_PORT: 'x' }), /PSU_PORT="x"/);
  });
});
