// A payment end to end with real parts: the server over TLS, oauth4webapi as the PISP over mTLS,
// the STET-like bank of test/support/bank.ts on the back channel, and the PSU's browser as plain
// HTTPS requests that keep the cookie (Chromium drives the same pages in test/browser/).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { paymentRedirect } from '../../sdk/index.ts';
import { type Bank, type PaymentRequest, startBank } from '../support/bank.ts';
import { authorisePayment } from '../support/grants.ts';
import { type HttpResponse, request } from '../support/https.ts';
import { discover, type OAuthTpp, oauthTpp, REDIRECT_URI } from '../support/oauth-tpp.ts';
import { pkce, sessionCookie, tags } from '../support/psu.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const PAYMENT: PaymentRequest = {
  instructedAmount: { amount: '123.50', currency: 'EUR' },
  creditorName: 'Boulangerie <script>alert(1)</script> Martin',
  creditorAccount: { iban: 'FR7630006000011234567890189' },
  remittanceInformation: 'Facture 42',
  requestedExecutionDate: '2026-12-24',
};

/** The PSU's browser on the consentApproval href the PISP completed. */
async function openPage(s: TestServer, href: string, params: Record<string, string>, lang = 'en') {
  const url = new URL(href);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const page = await request(url.toString(), { ca: s.caPem, headers: { 'accept-language': lang } });
  return page;
}

function field(page: HttpResponse, name: string): string {
  const value = tags(page.text, 'input').find((i) => i.name === name)?.value;
  assert.ok(value !== undefined, `no ${name} on the page: ${page.text.slice(0, 400)}`);
  return value;
}

async function submit(s: TestServer, page: HttpResponse, fields: Record<string, string>) {
  const cookie = sessionCookie(page);
  return request(`${s.url}/en/authorize/payment`, {
    ca: s.caPem,
    method: 'POST',
    headers: { cookie },
    body: new URLSearchParams({ csrf_token: field(page, 'csrf_token'), ...fields }),
  });
}

describe('payments through the OAuth redirect (sandbox)', () => {
  let s: TestServer;
  let bank: Bank;
  let pisp: OAuthTpp;
  let other: OAuthTpp;

  before(async () => {
    s = await startTestServer();
    bank = await startBank(s);
    const registration = { grant_types: ['client_credentials', 'authorization_code'], redirect_uris: [REDIRECT_URI] };
    pisp = await oauthTpp(s, ['PSP_PI'], registration);
    other = await oauthTpp(s, ['PSP_PI'], registration);
  });
  after(() => s.close());

  /** The PISP's side: PKCE and state, the redirect, then the code exchange with oauth4webapi. */
  async function authorise(href: string, choose: (page: HttpResponse) => Record<string, string>) {
    // The SDK's helper turns the href into the redirect, PKCE and state included.
    const { url, state, codeVerifier } = await paymentRedirect(href, { redirectUri: REDIRECT_URI });
    const page = await request(url, { ca: s.caPem, headers: { 'accept-language': 'en' } });
    assert.equal(page.status, 200, page.text);
    const res = await submit(s, page, {
      decision: 'approve',
      payment_hash: field(page, 'payment_hash'),
      ...choose(page),
    });
    assert.equal(res.status, 303, res.text);
    const params = oauth.validateAuthResponse(pisp.as, pisp.client, new URL(res.header('location')!), state);
    const response = await oauth.authorizationCodeGrantRequest(
      pisp.as,
      pisp.client,
      pisp.auth,
      params,
      REDIRECT_URI,
      codeVerifier,
      pisp.options,
    );
    return oauth.processAuthorizationCodeResponse(pisp.as, pisp.client, response);
  }

  test('initiation: the page shows the bank’s payment; the token carries it; one confirmation executes it', async () => {
    // 1. The PISP's client-credentials token, as it calls the bank's POST /payment-requests with it.
    const cc = await oauth.clientCredentialsGrantRequest(
      pisp.as,
      pisp.client,
      pisp.auth,
      { scope: 'pisp' },
      pisp.options,
    );
    assert.equal((await oauth.processClientCredentialsResponse(pisp.as, pisp.client, cc)).scope, 'pisp');
    const { authorizationId, consentApprovalHref, paymentHash } = await bank.postPaymentRequest(pisp.clientId, PAYMENT);

    const page = await openPage(s, consentApprovalHref, {
      redirect_uri: REDIRECT_URI,
      state: 's',
      code_challenge: pkce().codeChallenge,
      code_challenge_method: 'S256',
    });
    assert.ok(page.text.includes('€123.50'), 'English amount');
    assert.ok(page.text.includes('FR76 3000 6000 0112 3456 7890 189'), 'IBAN in groups of four');
    assert.ok(page.text.includes('Boulangerie &lt;script&gt;alert(1)&lt;/script&gt; Martin'), 'escaped');
    assert.doesNotMatch(page.text, /<script>/);
    const fr = await openPage(
      s,
      consentApprovalHref,
      { redirect_uri: REDIRECT_URI, code_challenge: pkce().codeChallenge, code_challenge_method: 'S256' },
      'fr',
    );
    assert.match(fr.text, /123,50\s€/u, 'French amount');

    const tokens = await authorise(consentApprovalHref, (p) => ({
      account: tags(p.text, 'input').find((i) => i.name === 'account' && i.value?.startsWith('sandbox-alice'))!.value!,
    }));
    assert.equal(tokens.refresh_token, undefined, 'pisp never gets a refresh token');
    assert.equal(tokens.scope, 'pisp');
    const [detail] = tokens.authorization_details as any[];
    assert.deepEqual(
      { ...detail, debtorAccount: undefined },
      {
        type: 'payment_initiation',
        actions: ['initiate'],
        identifier: authorizationId,
        instructedAmount: { amount: '123.50', currency: 'EUR' },
        creditorName: PAYMENT.creditorName,
        creditorAccount: PAYMENT.creditorAccount,
        debtorAccount: undefined,
        remittanceInformation: 'Facture 42',
        requestedExecutionDate: '2026-12-24',
        payment_hash: paymentHash,
      },
    );
    assert.match(detail.debtorAccount.iban, /^FR76/);
    const jwt = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString());
    assert.deepEqual(jwt.authorization_details, tokens.authorization_details, 'RFC 9396 §9.1');
    assert.ok(jwt.cnf['x5t#S256']);

    const status = (await bank.call('GET', `/payment-authorizations/${authorizationId}`)).json();
    assert.equal(status.status, 'authorised');
    assert.deepEqual(status.debtorAccount, detail.debtorAccount);
    assert.ok(Date.parse(status.sca_at) > 0);

    const introspect = () =>
      bank.call('POST', '/introspect', new URLSearchParams({ token: tokens.access_token }) as never);
    const active = (await introspect()).json();
    assert.equal(active.active, true);
    assert.deepEqual(active.authorization_details, tokens.authorization_details, 'RFC 9396 §9.2');
    assert.equal(await bank.confirm(authorizationId, tokens.access_token, 'cancel'), 403, 'not a cancellation token');
    assert.equal(await bank.confirm(authorizationId, tokens.access_token), 200);
    assert.deepEqual((await introspect()).json(), { active: false }, 'consumed: inactive');
    assert.equal(await bank.confirm(authorizationId, tokens.access_token), 403);
    assert.equal((await bank.call('POST', `/payment-authorizations/${authorizationId}/consume`)).status, 409);
  });

  test('front-channel errors: invalid_authorization_details, invalid_request, invalid_scope', async () => {
    const mine = await bank.postPaymentRequest(pisp.clientId, PAYMENT);
    const theirs = await bank.postPaymentRequest(other.clientId, PAYMENT);
    const base = {
      response_type: 'code',
      client_id: pisp.clientId,
      redirect_uri: REDIRECT_URI,
      state: 'e',
      code_challenge: pkce().codeChallenge,
      code_challenge_method: 'S256',
    };
    const error = async (params: Record<string, string>) => {
      const res = await request(`${s.url}/en/authorize?${new URLSearchParams({ ...base, ...params })}`, {
        ca: s.caPem,
      });
      assert.equal(res.status, 303, res.text);
      const location = new URL(res.header('location')!);
      assert.equal(location.searchParams.get('state'), 'e');
      assert.equal(location.searchParams.get('iss'), s.server.issuer);
      return location.searchParams.get('error');
    };
    const details = (d: unknown) => ({ scope: 'pisp', authorization_details: JSON.stringify(d) });
    assert.equal(
      await error(details([{ type: 'payment_initiation', identifier: theirs.authorizationId }])),
      'invalid_authorization_details',
    );
    assert.equal(
      await error(details([{ type: 'payment_initiation', identifier: 'unknown' }])),
      'invalid_authorization_details',
    );
    assert.equal(
      await error(details([{ type: 'account_information', identifier: mine.authorizationId }])),
      'invalid_authorization_details',
    );
    assert.equal(
      await error(
        details([
          {
            type: 'payment_initiation',
            identifier: mine.authorizationId,
            instructedAmount: { amount: '1.00', currency: 'EUR' },
          },
        ]),
      ),
      'invalid_authorization_details',
      'the payment data comes from the bank only',
    );
    assert.equal(
      await error(details([{ type: 'payment_initiation', identifier: mine.authorizationId, actions: ['cancel'] }])),
      'invalid_authorization_details',
    );
    assert.equal(await error({ scope: 'pisp', authorization_details: '[{' }), 'invalid_authorization_details');
    assert.equal(await error({ scope: 'pisp' }), 'invalid_request');
    const consumed = await bank.postPaymentRequest(pisp.clientId, PAYMENT);
    await authorisePayment(s, consumed.authorizationId);
    assert.equal(await (await s.stores!()).payments.consume(consumed.authorizationId, Date.now()), true);
    assert.equal(
      await error(details([{ type: 'payment_initiation', identifier: consumed.authorizationId }])),
      'invalid_authorization_details',
    );
  });

  test('withdrawn between the page and the submit: an error page, access_denied, no code', async () => {
    const { authorizationId, consentApprovalHref } = await bank.postPaymentRequest(pisp.clientId, PAYMENT);
    const page = await openPage(s, consentApprovalHref, {
      redirect_uri: REDIRECT_URI,
      state: 'w',
      code_challenge: pkce().codeChallenge,
      code_challenge_method: 'S256',
    });
    assert.equal((await bank.call('DELETE', `/payment-authorizations/${authorizationId}`)).status, 204);
    const account = tags(page.text, 'input').find((i) => i.name === 'account')!.value!;
    const res = await submit(s, page, { decision: 'approve', payment_hash: field(page, 'payment_hash'), account });
    assert.equal(res.status, 409);
    assert.match(res.text, /withdrawn, has expired or was changed/);
    const back = new URL(tags(res.text, 'a').find((a) => a.class === 'button')!.href!);
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), 'w');
    assert.equal(back.searchParams.get('code'), null);
    const consents = await (await s.stores!()).authorization.consents.list({ clientId: pisp.clientId });
    assert.equal(consents.filter((c) => c.authorizationId === authorizationId).length, 0);
  });

  test('refusal: access_denied, the payment is rejected', async () => {
    const { authorizationId, consentApprovalHref } = await bank.postPaymentRequest(pisp.clientId, PAYMENT);
    const page = await openPage(s, consentApprovalHref, {
      redirect_uri: REDIRECT_URI,
      state: 'r',
      code_challenge: pkce().codeChallenge,
      code_challenge_method: 'S256',
    });
    const buttons = tags(page.text, 'button').filter((b) => b.name === 'decision');
    assert.deepEqual(
      buttons.map((b) => [b.value, b.class]),
      [
        ['approve', 'primary'],
        ['refuse', 'primary'],
      ],
      'equal weight',
    );
    const res = await submit(s, page, { decision: 'refuse' });
    const location = new URL(res.header('location')!);
    assert.equal(location.searchParams.get('error'), 'access_denied');
    assert.equal((await bank.call('GET', `/payment-authorizations/${authorizationId}`)).json().status, 'rejected');
  });

  test('cancellation end to end through /par; a cancellation token is no initiation token', async () => {
    const resourceId = `pr-cancel-${Date.now()}`;
    const { authorizationId, consentApprovalHref } = await bank.postPaymentRequest(pisp.clientId, PAYMENT, {
      action: 'cancel',
      resourceId,
    });
    const href = new URL(consentApprovalHref);
    const { codeVerifier, codeChallenge } = pkce();
    const pushed = await oauth.pushedAuthorizationRequest(
      pisp.as,
      pisp.client,
      pisp.auth,
      new URLSearchParams({
        response_type: 'code',
        scope: 'pisp',
        authorization_details: href.searchParams.get('authorization_details')!,
        redirect_uri: REDIRECT_URI,
        state: 'c',
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
      }),
      pisp.options,
    );
    const { request_uri } = await oauth.processPushedAuthorizationResponse(pisp.as, pisp.client, pushed);
    const page = await request(
      `${s.url}/en/authorize?${new URLSearchParams({ client_id: pisp.clientId, request_uri })}`,
      { ca: s.caPem },
    );
    assert.equal(page.status, 200, page.text);
    assert.match(page.text, /cancel the payment of €123.50 to Boulangerie/);
    const account = tags(page.text, 'input').find((i) => i.name === 'account')!.value!;
    const res = await submit(s, page, { decision: 'approve', payment_hash: field(page, 'payment_hash'), account });
    const params = oauth.validateAuthResponse(pisp.as, pisp.client, new URL(res.header('location')!), 'c');
    const tokens = await oauth.processAuthorizationCodeResponse(
      pisp.as,
      pisp.client,
      await oauth.authorizationCodeGrantRequest(
        pisp.as,
        pisp.client,
        pisp.auth,
        params,
        REDIRECT_URI,
        codeVerifier,
        pisp.options,
      ),
    );
    assert.deepEqual((tokens.authorization_details as any[])[0].actions, ['cancel']);
    assert.equal(await bank.confirm(authorizationId, tokens.access_token, 'initiate'), 403, 'not an initiation token');
    assert.equal(await bank.confirm(authorizationId, tokens.access_token, 'cancel'), 200);
    const as = await discover(s, pisp.fetch);
    assert.deepEqual(as.authorization_details_types_supported, ['payment_initiation']);
  });
});
