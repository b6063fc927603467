// What the load generator does, per scenario and per server: a setup (register a client, obtain
// a token...) that returns one operation, which the measuring loop repeats on every connection.
// An operation is one request, or for the authorization-code flow the whole flow; it answers the
// last reply (2xx counts as a success) or throws FlowFailure with the step that went wrong.
import { X509Certificate } from 'node:crypto';
import type { Dispatcher } from 'undici';
import { basic, CookieJar, location, pkce, type Reply, randomState, send } from './http.ts';
import type { BenchPki } from './pki.ts';
import { OIDC_CLIENT, OIDC_RESOURCE_SERVER, OIDC_RESOURCES } from './servers/oidc-provider.ts';

export interface LoadContext {
  pki: BenchPki;
  /** Keep-alive connections presenting the TPP's QWAC. */
  tpp: Dispatcher;
  /** Keep-alive connections without a client certificate (resource server, PSU browser). */
  anonymous: Dispatcher;
  /** Values from the benchmark runner: a resource server's credentials... */
  options: Record<string, string>;
}

export type Operation = () => Promise<Reply>;
export type Setup = (ctx: LoadContext) => Promise<Operation>;

/** The server lacks what the scenario needs (an endpoint not built yet): the row says n/a. */
export class Unavailable extends Error {
  override name = 'Unavailable';
}

/** A multi-step operation stopped at a step: counted as a non-2xx outcome with that status. */
export class FlowFailure extends Error {
  override name = 'FlowFailure';
  readonly reply: Reply;
  constructor(reply: Reply, step: string) {
    super(`${step}: ${reply.status} ${reply.text.slice(0, 300)}`);
    this.reply = reply;
  }
}

export const SCENARIO_NAMES = [
  'ceiling',
  'client_credentials',
  'introspection',
  'authorization_code',
  'refresh_token',
  'registration',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export const VARIANTS = [
  'node:https',
  'Hono',
  'psd2-oauth',
  'psd2-oauth, metrics on',
  'psd2-oauth PostgreSQL',
  'psd2-oauth PostgreSQL ×2',
  'oidc-provider JWT',
  'oidc-provider opaque',
] as const;
/** psd2-oauth on PostgreSQL: one instance, and two behind one database with the load spread over both. */
export const POSTGRES_VARIANTS: readonly Variant[] = ['psd2-oauth PostgreSQL', 'psd2-oauth PostgreSQL ×2'];
export type Variant = (typeof VARIANTS)[number];

export const SCENARIO_TITLES: Record<ScenarioName, string> = {
  ceiling: 'ceiling: GET a small JSON',
  client_credentials: 'client_credentials (certificate-bound)',
  introspection: 'introspection (RFC 7662)',
  authorization_code: 'authorization-code flow (authorize, consent, code exchange)',
  refresh_token: 'refresh_token',
  registration: 'registration (RFC 7591)',
};

function expectStatus(reply: Reply, step: string, ...expected: number[]): Reply {
  if (!expected.includes(reply.status)) throw new FlowFailure(reply, step);
  return reply;
}

const REDIRECT_URI = 'https://tpp.example/cb';

// ---------------------------------------------------------------------------------------------
// psd2-oauth

async function psd2Client(ctx: LoadContext): Promise<string> {
  const reply = await send(ctx.tpp, 'POST', '/register', {
    json: { redirect_uris: [REDIRECT_URI], client_name: 'Bench TPP' },
  });
  if (reply.status === 404) throw new Unavailable('POST /register is not there');
  return expectStatus(reply, 'register', 201).json().client_id;
}

async function psd2ClientCredentialsToken(ctx: LoadContext, clientId: string): Promise<string> {
  const reply = await send(ctx.tpp, 'POST', '/token', {
    form: { grant_type: 'client_credentials', client_id: clientId, scope: 'pisp' },
  });
  if (reply.status === 404) throw new Unavailable('POST /token is not there');
  return expectStatus(reply, 'client_credentials', 200).json().access_token;
}

/**
 * The sandbox PSU, without a browser: test/support/psu.ts (issue 5) knows the pages' forms; it is
 * loaded lazily so that the benchmark runs, with n/a rows, on a tree that does not have it yet.
 */
async function psd2AuthorizationCode(ctx: LoadContext, clientId: string): Promise<Operation> {
  const psu = await import('./psd2-psu.ts').catch((err: Error) => {
    throw new Unavailable(`sandbox consent driver unavailable: ${err.message}`);
  });
  return psu.authorizationCodeFlow(ctx, clientId, REDIRECT_URI);
}

const psd2: Partial<Record<ScenarioName, Setup>> = {
  async client_credentials(ctx) {
    const clientId = await psd2Client(ctx);
    const form = { grant_type: 'client_credentials', client_id: clientId, scope: 'pisp' };
    return () => send(ctx.tpp, 'POST', '/token', { form });
  },
  async introspection(ctx) {
    const { rsId, rsSecret } = ctx.options;
    if (!rsId || !rsSecret) throw new Unavailable('no resource server (`psd2-oauth resource-server add`)');
    const token = await psd2ClientCredentialsToken(ctx, await psd2Client(ctx));
    const headers = basic(rsId, rsSecret);
    const form = { token };
    return async () => {
      const reply = await send(ctx.anonymous, 'POST', '/introspect', { form, headers });
      if (reply.status === 200 && !reply.text.includes('"active":true')) throw new FlowFailure(reply, 'inactive');
      return reply;
    };
  },
  async authorization_code(ctx) {
    return psd2AuthorizationCode(ctx, await psd2Client(ctx));
  },
  async refresh_token(ctx) {
    const clientId = await psd2Client(ctx);
    const flow = await psd2AuthorizationCode(ctx, clientId);
    const refreshToken = (await flow()).json().refresh_token;
    if (!refreshToken) throw new Unavailable('the code exchange issued no refresh token');
    const form = { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken };
    return () => send(ctx.tpp, 'POST', '/token', { form });
  },
  async registration(ctx) {
    await psd2Client(ctx);
    const json = { redirect_uris: [REDIRECT_URI], client_name: 'Bench TPP' };
    return () => send(ctx.tpp, 'POST', '/register', { json });
  },
};

// ---------------------------------------------------------------------------------------------
// node-oidc-provider, with JWT or opaque access tokens depending on the resource requested

function oidcAuthorizationCode(ctx: LoadContext, resource: string): Operation {
  return async () => {
    const jar = new CookieJar();
    const { verifier, challenge } = pkce();
    const query = new URLSearchParams({
      client_id: OIDC_CLIENT.id,
      response_type: 'code',
      redirect_uri: OIDC_CLIENT.redirectUri,
      scope: 'aisp',
      state: randomState(),
      code_challenge: challenge,
      code_challenge_method: 'S256',
      resource,
    });
    // /auth, then its interaction (login and consent at once), then back to /auth/UID which
    // redirects to the client: followed hop by hop with the cookies, as a browser would.
    let reply = expectStatus(await send(ctx.anonymous, 'GET', `/auth?${query}`), 'authorize', 303, 302);
    for (let hop = 0; hop < 6 && location(reply).origin !== new URL(OIDC_CLIENT.redirectUri).origin; hop++) {
      jar.store(reply);
      const next = location(reply);
      reply = await send(ctx.anonymous, 'GET', `${next.pathname}${next.search}`, { headers: jar.header() });
      expectStatus(reply, next.pathname, 303, 302);
    }
    const code = location(reply).searchParams.get('code');
    if (!code) throw new FlowFailure(reply, 'no code in the redirect');
    return send(ctx.tpp, 'POST', '/token', {
      form: {
        grant_type: 'authorization_code',
        client_id: OIDC_CLIENT.id,
        code,
        redirect_uri: OIDC_CLIENT.redirectUri,
        code_verifier: verifier,
      },
    });
  };
}

function oidc(resource: string): Partial<Record<ScenarioName, Setup>> {
  const setups: Partial<Record<ScenarioName, Setup>> = {
    async client_credentials(ctx) {
      const form = { grant_type: 'client_credentials', client_id: OIDC_CLIENT.id, scope: 'pisp', resource };
      return () => send(ctx.tpp, 'POST', '/token', { form });
    },
    async introspection(ctx) {
      const form = { grant_type: 'client_credentials', client_id: OIDC_CLIENT.id, scope: 'pisp', resource };
      const token = expectStatus(await send(ctx.tpp, 'POST', '/token', { form }), 'token', 200).json().access_token;
      const headers = basic(OIDC_RESOURCE_SERVER.id, OIDC_RESOURCE_SERVER.secret);
      return async () => {
        const reply = await send(ctx.anonymous, 'POST', '/token/introspection', { form: { token }, headers });
        if (reply.status === 200 && !reply.text.includes('"active":true')) throw new FlowFailure(reply, 'inactive');
        return reply;
      };
    },
    async authorization_code(ctx) {
      return oidcAuthorizationCode(ctx, resource);
    },
    async refresh_token(ctx) {
      const refreshToken = (await oidcAuthorizationCode(ctx, resource)()).json().refresh_token;
      if (!refreshToken) throw new Error('node-oidc-provider issued no refresh token');
      const form = { grant_type: 'refresh_token', client_id: OIDC_CLIENT.id, refresh_token: refreshToken };
      return () => send(ctx.tpp, 'POST', '/token', { form });
    },
    async registration(ctx) {
      const json = {
        redirect_uris: [REDIRECT_URI],
        client_name: 'Bench TPP',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: new X509Certificate(ctx.pki.tppCertPem).subject,
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        scope: 'aisp cbpii pisp',
      };
      return () => send(ctx.tpp, 'POST', '/reg', { json });
    },
  };
  // Registration does not depend on the token format: one row.
  if (resource === OIDC_RESOURCES.opaque) delete setups.registration;
  // JWT access tokens are not stored by node-oidc-provider: it refuses to introspect them.
  if (resource === OIDC_RESOURCES.jwt) delete setups.introspection;
  return setups;
}

const ceiling: Setup = async (ctx) => () => send(ctx.tpp, 'GET', '/');
// The bare Hono app's POST /token: the same form, a token of the same size, nothing checked.
const signingFloor: Setup = async (ctx) => {
  const form = { grant_type: 'client_credentials', client_id: 'x'.repeat(24), scope: 'pisp' };
  return () => send(ctx.tpp, 'POST', '/token', { form });
};

export const SETUPS: Record<Variant, Partial<Record<ScenarioName, Setup>>> = {
  'node:https': { ceiling },
  Hono: { ceiling, client_credentials: signingFloor },
  'psd2-oauth': psd2,
  // The metrics' cost on the hottest path and on the flow with the most requests.
  'psd2-oauth, metrics on': {
    client_credentials: psd2.client_credentials,
    authorization_code: psd2.authorization_code,
  },
  // Every scenario of psd2-oauth: those that write, and those that read only caches
  // (client_credentials, introspection: the target there is SQLite's speed within 10 %).
  'psd2-oauth PostgreSQL': psd2,
  'psd2-oauth PostgreSQL ×2': psd2,
  'oidc-provider JWT': oidc(OIDC_RESOURCES.jwt),
  // node-oidc-provider does not store JWT access tokens, so it cannot introspect them: the
  // introspection row uses opaque tokens, and so does its code flow's second row.
  'oidc-provider opaque': oidc(OIDC_RESOURCES.opaque),
};
