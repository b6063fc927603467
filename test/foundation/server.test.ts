import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { validate } from '@readme/openapi-parser';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('foundation: the server over TLS', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s.close();
  });

  test('publishes RFC 8414 metadata naming its issuer and capabilities', async () => {
    const res = await s.get('/.well-known/oauth-authorization-server');
    assert.equal(res.status, 200);
    const m = res.json();
    assert.equal(m.issuer, s.server.issuer);
    assert.equal(m.jwks_uri, `${s.server.issuer}/jwks`);
    assert.deepEqual(m.scopes_supported, ['aisp', 'extended_transaction_history', 'cbpii', 'pisp']);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.deepEqual(m.token_endpoint_auth_methods_supported, ['tls_client_auth']);
    assert.equal(m.tls_client_certificate_bound_access_tokens, true);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.equal(m.authorization_response_iss_parameter_supported, true);
    assert.deepEqual(m.ui_locales_supported, ['fr', 'en']);
    assert.equal(m.service_documentation, `${s.server.issuer}/docs`);
  });

  test('publishes an EdDSA, an ES256 and a PS256 key at /jwks with public members only', async () => {
    const res = await s.get('/jwks');
    assert.equal(res.status, 200);
    assert.match(res.header('content-type') ?? '', /application\/jwk-set\+json/);
    const { keys } = res.json();
    assert.deepEqual(keys.map((k: { alg: string }) => k.alg).sort(), ['ES256', 'EdDSA', 'PS256']);
    for (const key of keys) {
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'])
        assert.equal(key[secret], undefined, `${key.alg} has ${secret}`);
      assert.equal(key.use, 'sig');
      assert.ok(key.kid);
    }
  });

  test('keeps its signing keys across restarts', async () => {
    const first = (await s.get('/jwks')).json();
    // The same data folder and database (PSD2_TEST_BACKEND=postgres: the same PostgreSQL database).
    const again = await startTestServer(s.databaseUrl ? { DATABASE_URL: s.databaseUrl } : {}, s.dataDir);
    try {
      assert.deepEqual((await again.get('/jwks')).json(), first);
    } finally {
      await again.close();
    }
  });

  test('serves a valid OpenAPI 3.1 document and its documentation page', async () => {
    const res = await s.get('/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.json();
    assert.equal(doc.openapi, '3.1.0');
    const result = await validate(structuredClone(doc));
    assert.ok(result.valid, JSON.stringify(result));
    assert.ok(doc.paths['/.well-known/oauth-authorization-server']);
    assert.ok(doc.paths['/jwks']);
    assert.ok(doc.paths['/health']);

    const docs = await s.get('/docs');
    assert.equal(docs.status, 200);
    assert.match(docs.text, /\/docs\/assets\/init\.js/);
    assert.match((await s.get('/docs/assets/init.js')).text, /\/openapi\.json/);
    assert.doesNotMatch(docs.text, /https?:\/\/(cdn|unpkg)/, 'docs assets come from this server');
    const asset = await s.get('/docs/assets/swagger-ui-dist/swagger-ui-bundle.js');
    assert.equal(asset.status, 200);
    assert.ok(asset.text.length > 100_000);
  });

  test('answers /health when the database answers', async () => {
    const res = await s.get('/health');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  test('answers unknown paths with a JSON error, not HTML', async () => {
    const res = await s.get('/nowhere');
    assert.equal(res.status, 404);
    assert.equal(res.json().error, 'not_found');
  });
});

describe('foundation: graceful shutdown', () => {
  test('close() ends idle keep-alive connections at once and then refuses new ones', async () => {
    const t = await startTestServer();
    const { Agent } = await import('node:https');
    const agent = new Agent({ keepAlive: true, ca: t.caPem });
    const { request: httpsRequest } = await import('node:https');
    const status = await new Promise<number>((resolve, reject) => {
      httpsRequest(`${t.url}/health`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
        .on('error', reject)
        .end();
    });
    assert.equal(status, 200);
    const started = Date.now();
    await t.close();
    assert.ok(Date.now() - started < 3000, 'an idle pooled connection does not hold the shutdown');
    agent.destroy();
    await assert.rejects(t.get('/health'));
  });
});

describe('foundation: configuration', () => {
  const cli = new URL('../../server/bin.ts', import.meta.url).pathname;
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [...(typeof Deno === 'undefined' ? [] : ['run', '-A']), cli, 'serve'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        DATA_DIR: '/nonexistent/never-created',
        ...env,
      },
      encoding: 'utf8',
      timeout: 20_000,
    });

  test('a bad value stops start-up with a message naming the variable', () => {
    const res = run({ PORT: 'eighty' });
    assert.equal(res.status, 78, res.stderr);
    assert.match(res.stderr, /PORT="eighty"/);
  });

  test('an unknown MODE is refused', () => {
    const res = run({ MODE: 'staging' });
    assert.equal(res.status, 78);
    assert.match(res.stderr, /MODE="staging"/);
  });

  test('production mode refuses sandbox conveniences and says what is missing', () => {
    const res = run({ MODE: 'production', ISSUER: 'http://bank.example' });
    assert.equal(res.status, 78);
    for (const expected of [
      /TLS_CERT is required/,
      /TLS_KEY is required/,
      /TRUST_ANCHORS is required/,
      /ISSUER must be an https URL/,
      /PSU_PORT is required/,
    ]) {
      assert.match(res.stderr, expected);
    }
  });
});

declare const Deno: unknown;
