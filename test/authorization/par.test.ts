import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from '../support/https.ts';
import { approveInSandbox, pkce } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

const REDIRECT = 'https://tpp.example/callback';

describe('pushed authorization requests (RFC 9126)', () => {
  let s: TestServer;
  let tpp: Tpp;
  let clientId: string;
  before(async () => {
    s = await startTestServer({ PAR_EXPIRES_IN: '30' });
    tpp = await makeTpp(s, ['PSP_AI']);
    clientId = (await tpp.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } })).json().client_id;
  });
  after(() => s.close());

  const push = (params: Record<string, string>, caller: Tpp = tpp) =>
    caller.call('POST', '/par', {
      body: new URLSearchParams({
        client_id: clientId,
        response_type: 'code',
        redirect_uri: REDIRECT,
        scope: 'aisp extended_transaction_history',
        code_challenge: pkce().codeChallenge,
        code_challenge_method: 'S256',
        ...params,
      }),
    });

  test('a pushed request is used once, with client_id and request_uri only', async () => {
    const res = await push({ state: 'pushed-state' });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.header('cache-control'), 'no-store');
    const { request_uri, expires_in } = res.json();
    assert.match(request_uri, /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/);
    assert.equal(expires_in, 30);
    const link = `${s.url}/en/authorize?client_id=${clientId}&request_uri=${encodeURIComponent(request_uri)}&state=ignored`;
    const location = await approveInSandbox(s, link);
    assert.equal(location.searchParams.get('state'), 'pushed-state', 'only the pushed parameters count');
    assert.ok(location.searchParams.get('code'));
    assert.equal(location.searchParams.get('iss'), s.server.issuer);

    const again = await request(link, { ca: s.caPem });
    assert.equal(again.status, 400, 'single use');
    assert.ok(again.text.includes('already used'));
  });

  test('a request_uri is bound to its client', async () => {
    const { request_uri } = (await push({})).json();
    const other = await makeTpp(s, ['PSP_AI']);
    const otherId = (await other.call('POST', '/register', { body: { redirect_uris: [REDIRECT] } })).json().client_id;
    const res = await request(
      `${s.url}/en/authorize?client_id=${otherId}&request_uri=${encodeURIComponent(request_uri)}`,
      { ca: s.caPem },
    );
    assert.equal(res.status, 400);
    assert.equal(res.header('location'), undefined);
  });

  test('the pushed parameters are checked like /authorize, errors as JSON', async () => {
    const bad: [Record<string, string>, string][] = [
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ redirect_uri: 'https://evil.example/cb' }, 'invalid_request'],
      [{ scope: 'pisp' }, 'invalid_scope'],
      [{ request_uri: 'urn:x' }, 'invalid_request'],
    ];
    for (const [params, error] of bad) {
      const res = await push(params);
      assert.equal(res.status, 400, JSON.stringify(params));
      assert.equal(res.json().error, error);
    }
    const noPkce = await tpp.call('POST', '/par', {
      body: new URLSearchParams({ client_id: clientId, response_type: 'code', redirect_uri: REDIRECT, scope: 'aisp' }),
    });
    assert.equal(noPkce.json().error, 'invalid_request');
  });

  test('client authentication: the certificate must be the client’s; GET is 405', async () => {
    const stranger = await makeTpp(s, ['PSP_AI']);
    const res = await push({}, stranger);
    assert.equal(res.status, 401);
    assert.equal(res.json().error, 'invalid_client');
    const anonymous = await s.post('/par', { body: new URLSearchParams({ client_id: clientId }) });
    assert.equal(anonymous.status, 401);
    const get = await tpp.call('GET', '/par');
    assert.equal(get.status, 405);
    assert.equal(get.header('allow'), 'POST');
  });
});
