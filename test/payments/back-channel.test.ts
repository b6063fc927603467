// The payment back channel as the bank's resource server uses it, over TLS against the real server:
// registration with exact validation and idempotency, status, one consume among concurrent ones,
// withdrawal, and nothing stored for a rejected request.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { paymentHash } from '../../server/protocol/payments/payment.ts';
import { type Bank, startBank } from '../support/bank.ts';
import { authorisePayment } from '../support/grants.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTpp } from '../support/tpp.ts';

const PAYMENT = {
  instructedAmount: { amount: '123.5', currency: 'EUR' },
  creditorName: 'Boulangerie Martin',
  creditorAccount: { iban: 'FR76 3000 6000 0112 3456 7890 189' },
  remittanceInformation: 'Facture 42',
  requestedExecutionDate: '2026-12-24',
};

describe('payment back channel', () => {
  let s: TestServer;
  let bank: Bank;
  let pisp: string;
  let aisp: string;
  /** The server's clock: real time plus what a test moved it by. */
  let offset = 0;

  before(async () => {
    s = await startTestServer({ PAYMENT_AUTHORIZATION_TTL: '600' }, undefined, { clock: () => Date.now() + offset });
    bank = await startBank(s);
    const register = async (roles: ('PSP_PI' | 'PSP_AI')[], body: object) => {
      const res = await (await makeTpp(s, roles)).call('POST', '/register', { body });
      assert.equal(res.status, 201, res.text);
      return res.json().client_id as string;
    };
    pisp = await register(['PSP_PI'], { grant_types: ['client_credentials'] });
    aisp = await register(['PSP_AI'], { redirect_uris: ['https://tpp.example/cb'] });
  });
  after(() => s.close());

  test('register: 201 with the consentApproval href; a retry 200 and the same body; another payment 409', async () => {
    const body = { client_id: pisp, action: 'initiate', payment_request_resource_id: 'pr-1', payment: PAYMENT };
    const first = await bank.call('POST', '/payment-authorizations', body);
    assert.equal(first.status, 201, first.text);
    assert.equal(first.header('cache-control'), 'no-store');
    const view = first.json();
    assert.equal(view.status, 'awaiting_authorisation');
    assert.deepEqual(view.payment.instructedAmount, { amount: '123.50', currency: 'EUR' }, 'two minor digits for EUR');
    assert.equal(view.payment.creditorAccount.iban, 'FR7630006000011234567890189');
    const expected = paymentHash({
      action: 'initiate',
      payment_request_resource_id: 'pr-1',
      client_id: pisp,
      payment: view.payment,
    });
    assert.equal(view.payment_hash, expected);
    assert.match(view.payment_hash, /^[A-Za-z0-9_-]{43}$/);
    const href = new URL(view.consent_approval_href);
    assert.equal(`${href.origin}${href.pathname}`, `${s.server.issuer}/authorize`);
    assert.equal(href.searchParams.get('response_type'), 'code');
    assert.equal(href.searchParams.get('client_id'), pisp);
    assert.equal(href.searchParams.get('scope'), 'pisp');
    assert.deepEqual(JSON.parse(href.searchParams.get('authorization_details')!), [
      { type: 'payment_initiation', identifier: view.authorization_id },
    ]);
    assert.ok(Date.parse(view.expires_at) > Date.now() + 590_000);

    const retry = await bank.call('POST', '/payment-authorizations', {
      ...body,
      payment: { ...PAYMENT, instructedAmount: { amount: '123.50', currency: 'EUR' } },
    });
    assert.equal(retry.status, 200, retry.text);
    assert.deepEqual(retry.json(), view);

    const other = await bank.call('POST', '/payment-authorizations', {
      ...body,
      payment: { ...PAYMENT, instructedAmount: { amount: '123.51', currency: 'EUR' } },
    });
    assert.equal(other.status, 409, other.text);
    assert.equal(other.json().error, 'conflict');
    const cancel = await bank.call('POST', '/payment-authorizations', { ...body, action: 'cancel' });
    assert.equal(cancel.status, 201, 'a cancellation of the same resource is its own authorisation');
    assert.notEqual(cancel.json().payment_hash, view.payment_hash);

    const read = await bank.call('GET', `/payment-authorizations/${view.authorization_id}`);
    assert.equal(read.status, 200);
    assert.equal(read.json().status, 'awaiting_authorisation');
  });

  test('validation: every error names its field, nothing is stored', async () => {
    const cases: [object, RegExp, string?][] = [
      [{ instructedAmount: { amount: '1.234', currency: 'EUR' } }, /amount: EUR has 2 minor digits/],
      [{ instructedAmount: { amount: '10.5', currency: 'JPY' } }, /amount: JPY has 0 minor digits/],
      [{ instructedAmount: { amount: '0.00', currency: 'EUR' } }, /amount: must be positive/],
      [{ instructedAmount: { amount: '-1', currency: 'EUR' } }, /amount: a decimal string/],
      [{ instructedAmount: { amount: 12, currency: 'EUR' } }, /amount: a decimal string/],
      [{ instructedAmount: { amount: '1', currency: 'EURO' } }, /currency: an ISO 4217/],
      [{ instructedAmount: { amount: '1', currency: 'XXX' } }, /currency: an ISO 4217/],
      [{ creditorAccount: { iban: 'FR7630006000011234567890188' } }, /creditorAccount\.iban: the check digits/],
      [{ creditorName: '' }, /creditorName: 1 to 70/],
      [{ creditorName: 'x'.repeat(71) }, /creditorName: 1 to 70/],
      [{ creditorName: 'Evil \u202Egnp.exe' }, /creditorName: control or bidirectional/],
      [{ creditorName: 'Line\nbreak' }, /creditorName: control or bidirectional/],
      [{ remittanceInformation: 'a\u2066b' }, /remittanceInformation: control or bidirectional/],
      [{ requestedExecutionDate: '2026-02-30' }, /requestedExecutionDate: a date/],
      [{ ultimateCreditor: 'x' }, /payment\.ultimateCreditor: unknown field/],
    ];
    const rejected = cases.map((_, i) => `rejected-${i}`);
    for (const [i, [change, message]] of cases.entries()) {
      const res = await bank.call('POST', '/payment-authorizations', {
        client_id: pisp,
        action: 'initiate',
        payment_request_resource_id: rejected[i],
        payment: { ...PAYMENT, ...change },
      });
      assert.equal(res.status, 400, JSON.stringify(change));
      assert.equal(res.json().error, 'invalid_request');
      assert.match(res.json().error_description, message);
    }
    const base = { client_id: pisp, action: 'initiate', payment_request_resource_id: 'pr-x', payment: PAYMENT };
    for (const [body, code, message] of [
      [{ ...base, action: 'pay' }, 'invalid_request', /action:/],
      [{ ...base, payment_request_resource_id: 'has space' }, 'invalid_request', /payment_request_resource_id:/],
      [{ ...base, extra: 1 }, 'invalid_request', /extra: unknown field/],
      [{ ...base, client_id: aisp }, 'unauthorized_client', /PSP_PI/],
      [{ ...base, client_id: 'nobody' }, 'unauthorized_client', /client_id: unknown/],
    ] as const) {
      const res = await bank.call('POST', '/payment-authorizations', body);
      assert.equal(res.status, 400);
      assert.equal(res.json().error, code);
      assert.match(res.json().error_description, message);
    }
    const notJson = await s.post('/payment-authorizations', {
      headers: { authorization: `Basic ${btoa(`${bank.credentials.client_id}:${bank.credentials.client_secret}`)}` },
      body: new URLSearchParams({ a: 'b' }),
    });
    assert.equal(notJson.status, 415);
    const anonymous = await s.post('/payment-authorizations', { body: base });
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.header('www-authenticate')!, /^Basic /);
    // Nothing was stored for a rejected request: the same resource ids register now as new (201),
    // where a stored payment would give 200 (the same one) or 409 (another one).
    for (const resourceId of [...rejected, 'pr-x']) {
      const res = await bank.call('POST', '/payment-authorizations', {
        ...base,
        payment_request_resource_id: resourceId,
      });
      assert.equal(res.status, 201, `nothing stored under ${resourceId}: ${res.text}`);
    }
  });

  test('consume: only an authorised one, exactly once among 8 concurrent calls; withdraw; other banks see 404', async () => {
    const { authorizationId } = await bank.postPaymentRequest(pisp, PAYMENT);
    const early = await bank.call('POST', `/payment-authorizations/${authorizationId}/consume`);
    assert.equal(early.status, 409, 'not authorised yet');
    assert.match(early.json().error_description, /awaiting_authorisation/);
    // The PSU's approval is the front channel's job; here the row is moved as the approval does.
    await authorisePayment(s, authorizationId);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => bank.call('POST', `/payment-authorizations/${authorizationId}/consume`)),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409, 409, 409, 409, 409, 409, 409]);
    const after = await bank.call('GET', `/payment-authorizations/${authorizationId}`);
    assert.equal(after.json().status, 'consumed');
    assert.equal((await bank.call('DELETE', `/payment-authorizations/${authorizationId}`)).status, 409);

    const other = await startBank(s);
    assert.equal((await other.call('GET', `/payment-authorizations/${authorizationId}`)).status, 404);
    assert.equal((await other.call('POST', `/payment-authorizations/${authorizationId}/consume`)).status, 404);
    assert.equal((await bank.call('GET', '/payment-authorizations/unknown')).status, 404);

    const dropped = await bank.postPaymentRequest(pisp, PAYMENT);
    const withdrawn = await bank.call('DELETE', `/payment-authorizations/${dropped.authorizationId}`);
    assert.equal(withdrawn.status, 204);
    assert.equal(
      (await bank.call('GET', `/payment-authorizations/${dropped.authorizationId}`)).json().status,
      'withdrawn',
    );
  });

  test('expiry: an authorisation nobody approved within PAYMENT_AUTHORIZATION_TTL is expired', async () => {
    const { authorizationId } = await bank.postPaymentRequest(pisp, PAYMENT);
    const status = async () => (await bank.call('GET', `/payment-authorizations/${authorizationId}`)).json().status;
    try {
      offset = 599_000;
      assert.equal(await status(), 'awaiting_authorisation');
      offset = 600_001;
      assert.equal(await status(), 'expired');
    } finally {
      offset = 0;
    }
  });

  test('metadata: authorization_details_types_supported', async () => {
    const metadata = (await s.get('/.well-known/oauth-authorization-server')).json();
    assert.deepEqual(metadata.authorization_details_types_supported, ['payment_initiation']);
  });
});
