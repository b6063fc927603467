// A TPP driving the server with a real OAuth 2 client library (oauth4webapi) over mutual TLS, and
// a resource server with introspection credentials from the `resource-server add` command.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as oauth from 'oauth4webapi';
import type { Psd2Role } from '../../server/protocol/scope-policy.ts';
import { type CodeOptions, type IssuedCode, issueCode } from './grants.ts';
import { type Fetch, mtlsFetch } from './mtls-fetch.ts';
import { databaseEnv, type TestServer } from './server.ts';
import { makeTpp, type Tpp } from './tpp.ts';

export const REDIRECT_URI = 'https://tpp.example/callback';

export interface OAuthTpp {
  tpp: Tpp;
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  clientId: string;
  auth: oauth.ClientAuth;
  fetch: Fetch;
  options: { [oauth.customFetch]: Fetch };
}

export async function discover(server: TestServer, fetch: Fetch): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(server.server.issuer);
  const response = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.customFetch]: fetch });
  return oauth.processDiscoveryResponse(issuer, response);
}

/** A TPP with a fresh QWAC of these roles and a client registered with `registration`. */
export async function oauthTpp(
  server: TestServer,
  roles: Psd2Role[],
  registration: Record<string, unknown> = roles.some((r) => r !== 'PSP_PI') ? { redirect_uris: [REDIRECT_URI] } : {},
  tpp?: Tpp,
): Promise<OAuthTpp> {
  const holder = tpp ?? (await makeTpp(server, roles));
  const registered = await holder.call('POST', '/register', { body: registration });
  if (registered.status !== 201) throw new Error(`registration failed: ${registered.text}`);
  const clientId = registered.json().client_id as string;
  return withClient(server, holder, clientId);
}

/** The same client_id used with another TPP certificate (or the same). */
export async function withClient(server: TestServer, tpp: Tpp, clientId: string): Promise<OAuthTpp> {
  const fetch = await mtlsFetch({ ca: server.caPem, cert: tpp.certChain, key: tpp.key });
  return {
    tpp,
    as: await discover(server, fetch),
    client: { client_id: clientId },
    clientId,
    auth: oauth.TlsClientAuth(),
    fetch,
    options: { [oauth.customFetch]: fetch },
  };
}

/** The error an oauth4webapi process*Response call threw: its OAuth code and HTTP status. */
export async function oauthError(promise: Promise<unknown>): Promise<{ error: string; status: number; www?: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) return { error: err.error, status: err.status };
    if (err instanceof oauth.WWWAuthenticateChallengeError) {
      const challenge = err.cause[0];
      return {
        error: String(challenge?.parameters.error),
        status: err.status,
        www: err.response.headers.get('www-authenticate') ?? undefined,
      };
    }
    throw err;
  }
  throw new Error('expected an OAuth error response');
}

export interface ResourceServerCredentials {
  client_id: string;
  client_secret: string;
}

/** Runs `psd2-oauth resource-server …` against the test server's database, as an operator would. */
export async function cli(
  server: TestServer,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = fileURLToPath(new URL('../../server/bin.ts', import.meta.url));
  const deno = 'Deno' in globalThis;
  const argv = deno ? ['run', '-A', script, ...args] : [script, ...args];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      argv,
      {
        env: {
          ...process.env,
          ...databaseEnv(server),
          LOG_LEVEL: 'silent',
        },
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export async function addResourceServer(server: TestServer, name: string): Promise<ResourceServerCredentials> {
  const result = await cli(server, ['resource-server', 'add', name, '--json']);
  if (result.code !== 0) throw new Error(`resource-server add failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** Introspects with oauth4webapi as a resource server (HTTP Basic, no client certificate). */
export async function introspector(server: TestServer, credentials: ResourceServerCredentials) {
  const fetch = await mtlsFetch({ ca: server.caPem });
  const as = await discover(server, fetch);
  const client = { client_id: credentials.client_id };
  const auth = oauth.ClientSecretBasic(credentials.client_secret);
  return async (token: string): Promise<oauth.IntrospectionResponse> => {
    const response = await oauth.introspectionRequest(as, client, auth, token, { [oauth.customFetch]: fetch });
    return oauth.processIntrospectionResponse(as, client, response);
  };
}

/** The redirect the PSU's browser brings back with `code`, checked by oauth4webapi (RFC 9207 `iss`). */
export function callback(tpp: OAuthTpp, s: TestServer, code: string): URLSearchParams {
  const url = new URL(REDIRECT_URI);
  url.searchParams.set('code', code);
  url.searchParams.set('iss', s.server.issuer);
  return oauth.validateAuthResponse(tpp.as, tpp.client, url, oauth.expectNoState);
}

/** The token request for a code issued by test/support/grants.ts; overrides make it wrong on purpose. */
export function redeemCode(
  tpp: OAuthTpp,
  s: TestServer,
  issued: IssuedCode,
  overrides: { redirectUri?: string; verifier?: string } = {},
): Promise<Response> {
  return oauth.authorizationCodeGrantRequest(
    tpp.as,
    tpp.client,
    tpp.auth,
    callback(tpp, s, issued.code),
    overrides.redirectUri ?? issued.redirectUri,
    overrides.verifier ?? issued.codeVerifier,
    tpp.options,
  );
}

/** A consent and code written for the client, redeemed: the tokens, and the consent they carry. */
export async function codeTokens(
  s: TestServer,
  tpp: OAuthTpp,
  scope = 'aisp',
  options: Pick<CodeOptions, 'consentLifetime'> = {},
) {
  const issued = await issueCode(s, { clientId: tpp.clientId, redirectUri: REDIRECT_URI, scope, ...options });
  const result = await oauth.processAuthorizationCodeResponse(tpp.as, tpp.client, await redeemCode(tpp, s, issued));
  return { ...result, consentId: issued.consentId };
}
