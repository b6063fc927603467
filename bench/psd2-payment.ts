// A payment authorisation driven without a browser, on the load generators' keep-alive connections:
// the bank's resource server registers the payment over the back channel (HTTP Basic), the PISP
// completes the consentApproval href (PKCE, state), the PSU approves the sandbox payment page with
// its preselected debtor account, and the PISP exchanges the code over mTLS. The same steps as
// test/payments/front-channel.test.ts, without oauth4webapi, so that the crash test can run them
// by the hundred.
import { tags } from '../test/support/psu.ts';
import { CookieJar, location, pkce, type Reply, randomState, send } from './http.ts';
import type { IssuedCode } from './psd2-psu.ts';
import { FlowFailure, type LoadContext } from './scenarios.ts';

/** The payment every authorisation of the load carries; its amount varies to give each its own hash. */
export function benchPayment(amountCents: number) {
  return {
    instructedAmount: { amount: (amountCents / 100).toFixed(2), currency: 'EUR' },
    creditorName: 'Boulangerie Martin',
    creditorAccount: { iban: 'FR7630006000011234567890189' },
    remittanceInformation: 'crash test',
  };
}

/** POST /payment-authorizations as the bank's resource server: 201 with the view, or the refusal. */
export function registerPayment(
  backChannel: LoadContext['anonymous'],
  resourceServer: Record<string, string>,
  clientId: string,
  resourceId: string,
  payment: object,
): Promise<Reply> {
  return send(backChannel, 'POST', '/payment-authorizations', {
    headers: resourceServer,
    json: { client_id: clientId, action: 'initiate', payment_request_resource_id: resourceId, payment },
  });
}

/**
 * The PSU on the consentApproval href the PISP completed: the sandbox payment page, approved with
 * the account it preselects. The code from the redirect, not yet redeemed.
 */
export async function approvePayment(
  anonymous: LoadContext['anonymous'],
  consentApprovalHref: string,
  redirectUri: string,
): Promise<IssuedCode> {
  const jar = new CookieJar();
  const { verifier, challenge } = pkce();
  const url = new URL(consentApprovalHref);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('state', randomState());
  url.searchParams.set('code_challenge', challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('ui_locales', 'en');
  let reply = await send(anonymous, 'GET', `${url.pathname}${url.search}`);
  if (reply.status !== 200) throw new FlowFailure(reply, 'payment page');
  jar.store(reply);
  const { action, form } = paymentApproval(reply.text);
  reply = await send(anonymous, 'POST', action, { form, headers: jar.header() });
  if (reply.status !== 303) throw new FlowFailure(reply, 'payment approval');
  const code = location(reply).searchParams.get('code');
  if (!code) throw new FlowFailure(reply, 'no code in the redirect');
  return { code, verifier };
}

/** The payment form (the one carrying payment_hash) as a browser submits it with "approve". */
export function paymentApproval(page: string): { action: string; form: URLSearchParams } {
  // The page may hold other forms (the way out, a language switch): take the one around the hash.
  const hashAt = page.indexOf('name="payment_hash"');
  const formAt = page.lastIndexOf('<form', hashAt);
  if (hashAt < 0 || formAt < 0) throw new Error(`no payment form on the page: ${page.slice(0, 300)}`);
  const end = page.indexOf('</form>', hashAt);
  const formHtml = page.slice(formAt, end < 0 ? undefined : end);
  const action = tags(formHtml, 'form')[0]?.action;
  const inputs = tags(formHtml, 'input');
  const value = (name: string) => inputs.find((i) => i.name === name)?.value;
  const csrf = value('csrf_token');
  const hash = value('payment_hash');
  if (!action || !csrf || !hash) throw new Error(`incomplete payment form: ${formHtml.slice(0, 300)}`);
  const form = new URLSearchParams({ csrf_token: csrf, payment_hash: hash, decision: 'approve' });
  const account = inputs.find((i) => i.name === 'account' && 'checked' in i)?.value;
  if (account) form.set('account', account);
  return { action, form };
}
