// The permission dashboard's test helpers: the back office's credentials, a PSU's consent given on
// the sandbox page and redeemed by the TPP, a refresh. Shared by the HTTPS and Chromium tests.
import * as oauth from 'oauth4webapi';
import { randomSecret, secretDigest } from '../../server/protocol/secrets.ts';
import { type OAuthTpp, REDIRECT_URI } from './oauth-tpp.ts';
import { approveInSandbox, authorizeUrl, pkce } from './psu.ts';
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
