// The OpenAPI document keeps its conventions (docs/OPENAPI.md), and every error example it shows is
// what the real server answers: each (operation, status) below sends the request that produces it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bodyLimitFor } from '../../server/http/body.ts';
import { secretDigest } from '../../server/protocol/secrets.ts';
import { issueCode } from '../support/grants.ts';
import { type HttpResponse, request } from '../support/https.ts';
import { addResourceServer, type ResourceServerCredentials } from '../support/oauth-tpp.ts';
import { streamBody } from '../support/raw.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp, type Tpp } from '../support/tpp.ts';

interface Operation {
  operationId?: string;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<
    string,
    {
      headers?: Record<string, { example?: string }>;
      content?: Record<string, { schema?: { $ref?: string }; example?: { error: string; error_description?: string } }>;
    }
  >;
}

type Recipe = (ctx: Context) => Promise<HttpResponse>;
interface Context {
  s: TestServer;
  aisp: Tpp;
  other: Tpp;
  clientId: string;
  registrationToken: string;
  rs: ResourceServerCredentials;
  /** A PISP's client_id, for the payment back channel. */
  pisp: string;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields);
const basic = ({ rs }: Context) => ({ authorization: `Basic ${btoa(`${rs.client_id}:${rs.client_secret}`)}` });
const PAYMENT = {
  instructedAmount: { amount: '10.00', currency: 'EUR' },
  creditorName: 'Boulangerie Martin',
  creditorAccount: { iban: 'FR7630006000011234567890189' },
};
/** A payment registered by the context's resource server; returns its authorization_id. */
async function registered(ctx: Context, resourceId = `doc-${Math.random()}`): Promise<string> {
  const res = await ctx.s.post('/payment-authorizations', {
    headers: basic(ctx),
    body: { client_id: ctx.pisp, action: 'initiate', payment_request_resource_id: resourceId, payment: PAYMENT },
  });
  return res.json().authorization_id;
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const BACK_OFFICE_SECRET = 'the-back-office-secret-of-the-document-test';
const backOffice = { authorization: `Basic ${btoa(`online-banking:${BACK_OFFICE_SECRET}`)}` };

/** `operationId status` → the request that answers the documented example. */
const RECIPES: Record<string, Recipe> = {
  'registerClient 400': ({ aisp }) => aisp.call('POST', '/register', { body: { client_id: 'mine' } }),
  'registerClient 401': ({ s }) => s.post('/register', { body: {} }),
  'getClient 401': ({ aisp, clientId }) => aisp.call('GET', `/register/${clientId}`, { headers: bearer('wrong') }),
  'getClient 403': ({ other, clientId, registrationToken }) =>
    other.call('GET', `/register/${clientId}`, { headers: bearer(registrationToken) }),
  'updateClient 400': ({ aisp, clientId, registrationToken }) =>
    aisp.call('PUT', `/register/${clientId}`, { headers: bearer(registrationToken), body: {} }),
  'updateClient 401': ({ aisp, clientId }) =>
    aisp.call('PUT', `/register/${clientId}`, { headers: bearer('wrong'), body: { client_id: clientId } }),
  'updateClient 403': ({ other, clientId, registrationToken }) =>
    other.call('PUT', `/register/${clientId}`, { headers: bearer(registrationToken), body: { client_id: clientId } }),
  'deleteClient 401': ({ aisp, clientId }) => aisp.call('DELETE', `/register/${clientId}`, { headers: bearer('x') }),
  'deleteClient 403': ({ other, clientId, registrationToken }) =>
    other.call('DELETE', `/register/${clientId}`, { headers: bearer(registrationToken) }),
  'requestToken 400': ({ aisp, clientId }) => aisp.call('POST', '/token', { body: form({ client_id: clientId }) }),
  'requestToken 401': ({ s }) => s.post('/token', { body: form({ grant_type: 'client_credentials' }) }),
  'revokeToken 400': ({ aisp, clientId }) => aisp.call('POST', '/revoke', { body: form({ client_id: clientId }) }),
  'revokeToken 401': ({ other, clientId }) =>
    other.call('POST', '/revoke', { body: form({ client_id: clientId, token: 'x' }) }),
  'introspectToken 400': ({ s, rs }) =>
    s.post('/introspect', {
      headers: { authorization: `Basic ${btoa(`${rs.client_id}:${rs.client_secret}`)}` },
      body: form({}),
    }),
  'introspectToken 401': ({ s }) => s.post('/introspect', { body: form({ token: 'x' }) }),
  'pushAuthorizationRequest 400': ({ aisp, clientId }) =>
    aisp.call('POST', '/par', {
      body: form({ client_id: clientId, response_type: 'code', redirect_uri: 'https://elsewhere.example/cb' }),
    }),
  'pushAuthorizationRequest 401': ({ s }) => s.post('/par', { body: form({ client_id: 'x' }) }),
  'registerPaymentAuthorization 400': (ctx) =>
    ctx.s.post('/payment-authorizations', {
      headers: basic(ctx),
      body: {
        client_id: ctx.pisp,
        action: 'initiate',
        payment_request_resource_id: 'doc-400',
        payment: { ...PAYMENT, creditorAccount: { iban: 'FR7630006000011234567890188' } },
      },
    }),
  'registerPaymentAuthorization 401': ({ s }) => s.post('/payment-authorizations', { body: {} }),
  'registerPaymentAuthorization 409': async (ctx) => {
    await registered(ctx, 'doc-409');
    return ctx.s.post('/payment-authorizations', {
      headers: basic(ctx),
      body: {
        client_id: ctx.pisp,
        action: 'initiate',
        payment_request_resource_id: 'doc-409',
        payment: { ...PAYMENT, instructedAmount: { amount: '10.01', currency: 'EUR' } },
      },
    });
  },
  'getPaymentAuthorization 401': ({ s }) => s.get('/payment-authorizations/x'),
  'getPaymentAuthorization 404': (ctx) => ctx.s.get('/payment-authorizations/unknown', { headers: basic(ctx) }),
  'consumePaymentAuthorization 401': ({ s }) => s.post('/payment-authorizations/x/consume'),
  'consumePaymentAuthorization 404': (ctx) =>
    ctx.s.post('/payment-authorizations/unknown/consume', { headers: basic(ctx) }),
  'consumePaymentAuthorization 409': async (ctx) =>
    ctx.s.post(`/payment-authorizations/${await registered(ctx)}/consume`, { headers: basic(ctx) }),
  'withdrawPaymentAuthorization 401': ({ s }) => s.get('/payment-authorizations/x', { method: 'DELETE' }),
  'withdrawPaymentAuthorization 404': (ctx) =>
    ctx.s.get('/payment-authorizations/unknown', { method: 'DELETE', headers: basic(ctx) }),
  'getPsuPermissions 401': ({ s }) => s.get('/psus/sandbox-alice/permissions'),
  'getPsuPermissions 404': ({ s }) => s.get('/psus/nobody/permissions', { headers: backOffice }),
  'withdrawPsuPermission 401': ({ s }) => s.post('/psus/sandbox-alice/permissions/x/withdraw'),
  'withdrawPsuPermission 404': ({ s }) =>
    s.post('/psus/sandbox-alice/permissions/unknown/withdraw', { headers: backOffice }),
  'withdrawPsuPermission 409': async ({ s, clientId }) => {
    const { consentId } = await issueCode(s, {
      clientId,
      redirectUri: 'https://tpp.example/cb',
      psuId: 'sandbox-alice',
    });
    const path = `/psus/sandbox-alice/permissions/${consentId}/withdraw`;
    await s.post(path, { headers: backOffice });
    return s.post(path, { headers: backOffice });
  },
  'withdrawPaymentAuthorization 409': async (ctx) => {
    const id = await registered(ctx);
    await ctx.s.get(`/payment-authorizations/${id}`, { method: 'DELETE', headers: basic(ctx) });
    return ctx.s.get(`/payment-authorizations/${id}`, { method: 'DELETE', headers: basic(ctx) });
  },
};

/** A path of the document with its parameters filled: the context's client, an unknown payment. */
const concrete = (path: string, ctx: Context) =>
  path.replace('{client_id}', ctx.clientId).replace('{authorization_id}', 'unknown');

/**
 * The body gates, probed on any operation from its method, path and security alone (bodyLimits and
 * readJsonObject run the same way on every route): 413 for a declared Content-Length one byte over
 * the path's cap, sent before any body byte; 415 for a text/plain body with the credentials the
 * operation's security names.
 */
async function probeBodyGate(ctx: Context, method: string, path: string, op: Operation, status: 413 | 415) {
  const url = `${ctx.s.url}${concrete(path, ctx)}`;
  const tls = { ca: ctx.s.caPem, cert: ctx.aisp.certChain, key: ctx.aisp.key };
  if (status === 413) {
    const res = await streamBody(url, {
      ...tls,
      method,
      headers: { 'content-type': 'application/json' },
      size: bodyLimitFor(concrete(path, ctx)) + 1,
    });
    return {
      status: res.status,
      headers: res.headers,
      text: res.text,
      json: () => JSON.parse(res.text),
      header: (name: string) => res.headers[name.toLowerCase()],
    } satisfies HttpResponse;
  }
  const schemes = new Set((op.security ?? []).flatMap((requirement) => Object.keys(requirement)));
  const headers: Record<string, string> = { 'content-type': 'text/plain' };
  if (schemes.has('registrationAccessToken')) Object.assign(headers, bearer(ctx.registrationToken));
  if (schemes.has('resourceServerBasic')) Object.assign(headers, basic(ctx));
  return request(url, { ...tls, method, headers, body: '{}' });
}

describe('the OpenAPI document', () => {
  let ctx: Context;
  let doc: { paths: Record<string, Record<string, Operation>>; servers: { url: string }[] };
  before(async () => {
    const s = await startTestServer({
      BACK_OFFICE_CLIENT_ID: 'online-banking',
      BACK_OFFICE_SECRET_SHA256: await secretDigest(BACK_OFFICE_SECRET),
    });
    const aisp = await makeTpp(s, ['PSP_AI']);
    const other = await makeTpp(s, ['PSP_AI']);
    const registered = await aisp.call('POST', '/register', { body: { redirect_uris: ['https://tpp.example/cb'] } });
    assert.equal(registered.status, 201, registered.text);
    const rs = await addResourceServer(s, 'psd2-api');
    const pisp = await (await makeTpp(s, ['PSP_PI'])).call('POST', '/register', {
      body: { grant_types: ['client_credentials'] },
    });
    assert.equal(pisp.status, 201, pisp.text);
    const { client_id, registration_access_token } = registered.json();
    ctx = {
      s,
      aisp,
      other,
      clientId: client_id,
      registrationToken: registration_access_token,
      rs,
      pisp: pisp.json().client_id,
    };
    doc = (await s.get('/openapi.json')).json();
  });
  after(() => ctx.s.close());

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({
        name: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        op,
      })),
    );

  test('servers is the issuer alone', () => {
    assert.deepEqual(
      doc.servers.map((x) => x.url),
      [ctx.s.server.issuer],
    );
  });

  test('every operation has a unique lowerCamelCase operationId and declares its security', () => {
    const ids = new Set<string>();
    for (const { name, op } of operations()) {
      assert.match(op.operationId ?? '', /^[a-z][A-Za-z]+$/, `${name}: operationId`);
      assert.ok(!ids.has(op.operationId as string), `${name}: operationId ${op.operationId} is used twice`);
      ids.add(op.operationId as string);
      assert.ok(Array.isArray(op.security), `${name}: security (\`[]\` when public)`);
    }
  });

  test('the PSU pages behind the authorization endpoint are not API operations', () => {
    const paths = Object.keys(doc.paths);
    assert.ok(paths.includes('/authorize'));
    assert.deepEqual(
      paths.filter((p) => p.startsWith('/{lang}/authorize/') || p.startsWith('/assets/')),
      [],
    );
    assert.equal(doc.paths['/par']?.get, undefined, 'the 405 on GET /par is not an operation');
  });

  test('every OAuth error status has an example and the server answers exactly that', async () => {
    let checked = 0;
    for (const { name, method, path, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        const json = response.content?.['application/json'];
        if (json?.schema?.$ref !== '#/components/schemas/OAuthError') continue;
        const example = json.example;
        const key = `${op.operationId} ${status}`;
        assert.ok(example, `${name} ${status}: an example`);
        const gate = status === '413' || status === '415' ? (Number(status) as 413 | 415) : undefined;
        const recipe = RECIPES[key];
        assert.ok(recipe || gate, `${key}: add the request that produces the example to RECIPES`);
        const res = recipe ? await recipe(ctx) : await probeBodyGate(ctx, method, path, op, gate!);
        assert.equal(res.status, Number(status), `${key}: ${res.text}`);
        assert.deepEqual(res.json(), example, key);
        for (const [header, declared] of Object.entries(response.headers ?? {})) {
          assert.equal(res.header(header), declared.example, `${key}: ${header}`);
        }
        assert.ok(
          response.headers?.['Cache-Control'] && (status !== '401' || response.headers['WWW-Authenticate']),
          `${key}: headers declared`,
        );
        if (recipe) checked++;
      }
    }
    assert.equal(checked, Object.keys(RECIPES).length, 'a recipe for an error the document no longer shows');
  });

  test('413 and 415 are documented exactly where the server answers them', async () => {
    const documented = { 413: [] as string[], 415: [] as string[] };
    const answered = { 413: [] as string[], 415: [] as string[] };
    for (const { name, method, path, op } of operations()) {
      for (const status of [413, 415] as const) {
        if (op.responses[status]) documented[status].push(name);
        // GET and HEAD carry no body: no cap, no media type.
        if (method === 'GET' || method === 'HEAD') continue;
        const res = await probeBodyGate(ctx, method, path, op, status);
        if (res.status === status) answered[status].push(name);
      }
      if (op.requestBody?.content['application/json']) {
        assert.ok(op.responses[415], `${name}: a JSON body, so a 415 for another media type`);
      }
    }
    assert.deepEqual(documented, answered);
    // The probes reach every capped operation and every JSON body (a probe that never hits is no test).
    assert.ok(answered[413].length >= 10, `413 on ${answered[413].join(', ')}`);
    assert.ok(answered[415].includes('POST /register') && answered[415].includes('POST /payment-authorizations'));
  });
});
