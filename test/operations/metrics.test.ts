// Prometheus metrics on the admin listener: scraped before and after a flow, the counters moved by
// exactly what the flow did. Never on the TPP listener.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { createMetrics } from '../../server/metrics.ts';
import { testBackend } from '../support/backend.ts';
import {
  addResourceServer,
  introspector,
  type OAuthTpp,
  oauthError,
  oauthTpp,
  withClient,
} from '../support/oauth-tpp.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/** The value of one sample of the exposition, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const braces = /^[^{ ]+(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!braces) continue;
    const present = (braces[1] ?? '').split(',');
    if (wanted.every((w) => present.includes(w))) return Number(braces[2]);
  }
  return 0;
}

async function clientCredentials(tpp: OAuthTpp) {
  const response = await oauth.clientCredentialsGrantRequest(
    tpp.as,
    tpp.client,
    tpp.auth,
    { scope: 'pisp' },
    tpp.options,
  );
  return oauth.processClientCredentialsResponse(tpp.as, tpp.client, response);
}

describe('metrics on the admin listener', () => {
  let s: TestServer;
  let scrape: () => Promise<string>;
  before(async () => {
    s = await startTestServer({ ADMIN_PORT: '0' });
    scrape = async () => {
      const res = await fetch(`${s.server.admin?.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return res.text();
    };
  });
  after(() => s.close());

  test('a flow moves the counters by the right amounts', async () => {
    const pisp = await oauthTpp(s, ['PSP_PI']);
    const introspect = await introspector(s, await addResourceServer(s, 'payments-api'));
    const first = await clientCredentials(pisp);
    const before = await scrape();

    for (let i = 0; i < 3; i++) await clientCredentials(pisp);
    const stranger = await withClient(s, pisp.tpp, 'no-such-client');
    for (let i = 0; i < 2; i++) assert.equal((await oauthError(clientCredentials(stranger))).error, 'invalid_client');
    assert.equal((await introspect(first.access_token)).active, true);
    await s.get('/nowhere');
    const registered = await pisp.tpp.call('POST', '/register', { body: {} });
    assert.equal(registered.status, 201);

    const after = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) =>
      sample(after, name, labels) - sample(before, name, labels);
    assert.equal(moved('psd2_oauth_tokens_issued_total', { grant_type: 'client_credentials' }), 3);
    assert.equal(moved('psd2_oauth_http_requests_total', { route: '/token', method: 'POST', status: '200' }), 3);
    assert.equal(moved('psd2_oauth_http_requests_total', { route: '/token', method: 'POST', status: '401' }), 2);
    assert.equal(moved('psd2_oauth_client_authentication_failures_total', { reason: 'unknown_client' }), 2);
    assert.equal(moved('psd2_oauth_http_requests_total', { route: '/introspect', method: 'POST', status: '200' }), 1);
    assert.equal(moved('psd2_oauth_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' }), 1);
    assert.equal(moved('psd2_oauth_http_requests_total', { route: '/register', method: 'POST', status: '201' }), 1);
    assert.equal(moved('psd2_oauth_http_request_duration_seconds_count', { route: '/token', method: 'POST' }), 5);
    // The registration committed once (one group commit of one write at least): SQLite's group
    // commit, or on PostgreSQL the batch of writes the registration joined.
    assert.ok(moved('psd2_oauth_db_commit_duration_seconds_count') >= 1);
    assert.ok(moved('psd2_oauth_db_commit_batch_size_sum') >= 1);
    // Three token requests of a known client: its cache answered; the stranger missed twice.
    assert.ok(moved('psd2_oauth_cache_lookups_total', { cache: 'client', result: 'hit' }) >= 3);
    // On PostgreSQL "no such client" is cached too (ReadCache<ClientRecord | null>, emptied by the
    // change feed), so the stranger's second request is a hit there.
    assert.ok(
      moved('psd2_oauth_cache_lookups_total', { cache: 'client', result: 'miss' }) >=
        (testBackend === 'sqlite' ? 2 : 1),
    );
    assert.ok(moved('psd2_oauth_cache_lookups_total', { cache: 'revoked_jti', result: 'miss' }) >= 1);
    assert.match(after, /^psd2_oauth_signing_queue_depth \d+$/m);
    assert.ok(sample(after, 'process_cpu_seconds_total') > 0, 'process metrics');
    assert.match(after, /^nodejs_eventloop_lag_seconds /m);
  });

  test('never on the TPP listener', async () => {
    const res = await s.get('/metrics');
    assert.equal(res.status, 404);
  });
});

test('without ADMIN_PORT there is no admin listener and nothing is measured', async () => {
  const s = await startTestServer();
  try {
    assert.equal(s.server.admin, undefined);
  } finally {
    await s.close();
  }
});

test('PSU authentication failures and lockouts, from the authentication log', async () => {
  const metrics = createMetrics();
  for (const event of ['login.failed', 'login.failed', 'sca.failed', 'psu.locked', 'login.succeeded'] as const) {
    metrics.psuEvent({ event });
  }
  metrics.revocationCheck('revoked');
  const text = (await metrics.exposition()).body;
  assert.equal(sample(text, 'psd2_oauth_psu_authentication_failures_total', { step: 'login' }), 2);
  assert.equal(sample(text, 'psd2_oauth_psu_authentication_failures_total', { step: 'sca' }), 1);
  assert.equal(sample(text, 'psd2_oauth_psu_lockouts_total'), 1);
  assert.equal(sample(text, 'psd2_oauth_certificate_revocation_checks_total', { outcome: 'revoked' }), 1);
});

test('the Grafana dashboard in docs/ uses only metrics the server exposes', async () => {
  const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as {
    panels: { targets: { expr: string }[] }[];
  };
  const exposed = new Set(
    [...(await createMetrics().exposition()).body.matchAll(/^# HELP (\S+)/gm)].map((m) => m[1] as string),
  );
  const used = dashboard.panels.flatMap((p) =>
    p.targets.flatMap((t) => t.expr.match(/\b[a-z][a-z0-9_]*_[a-z0-9_]+(?=\{|\[| |\))/g) ?? []),
  );
  const names = new Set(
    used.filter((n) => /^(psd2_oauth|process|nodejs)_/.test(n)).map((n) => n.replace(/_(bucket|sum|count)$/, '')),
  );
  assert.ok(names.size >= 12, [...names].join(' '));
  for (const name of names) assert.ok(exposed.has(name), `${name} is not exposed`);
});
