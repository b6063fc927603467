// The permission dashboard's test helpers: the back office's credentials, a PSU's consent given on
// the sandbox page and redeemed by the TPP, a refresh. Shared by the HTTPS and Chromium tests.
import * as oauth from 'oauth4webapi';
import { paymentRedirect } from '../../sdk/index.ts';
import { randomSecret, secretDigest } from '../../server/protocol/secrets.ts';
import type { Bank, PaymentRequest } from './bank.ts';
import { request } from './https.ts';
import { type OAuthTpp, REDIRECT_URI } from './oauth-tpp.ts';
import { approveInSandbox, authorizeUrl, pkce, sessionCookie, tags } from './psu.ts';
import type { TestServer } from './server.ts';

export const BACK_OFFICE = { id: 'online-banking', secret: randomSecret(32) };
export async function backOfficeEnv(): Promise<Record<string, string>> {
  return {
    BACK_OFFICE_CLIENT_ID: BACK_OFFICE.id,
    BACK_OFFICE_SECRET_SHA256: await secretDigest(BACK_OFFICE.secret),
  };
}
export const basic = (id: string, secret: string) => ({ authorization: `Basic ${btoa(`${id}:${secret}`)}` });
export const backOffice = basic(BACK_OFFICE.id, BACK_OFFICE.secret);

/** The PSU consents on the sandbox page (the persona holding `accountIds`); the TPP redeems the code. */
export async function consent(s: TestServer, tpp: OAuthTpp, scope: string, accountIds: string[]) {
  const { codeVerifier, codeChallenge } = pkce();
  const state = oauth.generateRandomState();
  const landing = await approveInSandbox(
    s,
    authorizeUrl(s, { clientId: tpp.clientId, redirectUri: REDIRECT_URI, scope, state, codeChallenge }),
    { accountIds },
  );
  const params = oauth.validateAuthResponse(tpp.as, tpp.client, landing, state);
  return oauth.processAuthorizationCodeResponse(
    tpp.as,
    tpp.client,
    await oauth.authorizationCodeGrantRequest(
      tpp.as,
      tpp.client,
      tpp.auth,
      params,
      REDIRECT_URI,
      codeVerifier,
      tpp.options,
    ),
  );
}

export const refresh = (tpp: OAuthTpp, refreshToken: string) =>
  oauth
    .refreshTokenGrantRequest(tpp.as, tpp.client, tpp.auth, refreshToken, tpp.options)
    .then((response) => oauth.processRefreshTokenResponse(tpp.as, tpp.client, response));

/**
 * A payment the sandbox PSU `psuId` authorises on the payment page (the persona's first EUR
 * account), registered by the STET-like bank of test/support/bank.ts for `pisp`.
 */
export async function authorisePayment(
  s: TestServer,
  bank: Bank,
  pisp: OAuthTpp,
  payment: PaymentRequest,
  psuId: string,
): Promise<string> {
  const { authorizationId, consentApprovalHref } = await bank.postPaymentRequest(pisp.clientId, payment);
  const { url } = await paymentRedirect(consentApprovalHref, { redirectUri: REDIRECT_URI });
  const page = await request(url, { ca: s.caPem, headers: { 'accept-language': 'en' } });
  const inputs = tags(page.text, 'input');
  const value = (name: string) => inputs.find((i) => i.name === name)?.value ?? '';
  const account = inputs.find((i) => i.name === 'account' && i.value?.startsWith(`${psuId}-`))?.value ?? '';
  const res = await request(`${s.psuUrl}/en/authorize/payment`, {
    ca: s.caPem,
    method: 'POST',
    headers: { cookie: sessionCookie(page) },
    body: new URLSearchParams({
      csrf_token: value('csrf_token'),
      payment_hash: value('payment_hash'),
      decision: 'approve',
      account,
    }),
  });
  if (res.status !== 303 || !res.header('location')?.includes('code=')) {
    throw new Error(`the payment approval answered ${res.status}: ${res.text.slice(0, 300)}`);
  }
  return authorizationId;
}
