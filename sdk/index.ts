// The psd2-oauth TPP SDK: typed calls over the server's own OpenAPI document (sdk/schema.d.ts is
// generated from it by `npm run gen`), mutual TLS on Node and Deno. It never imports server code.
import './node-version.ts';
import createClient, { type Client } from 'openapi-fetch';
import { createMtlsFetch, type TlsCredentials } from './mtls.ts';
import { createPkce, randomToken } from './pkce.ts';
import { decideInSandbox, type SandboxDecision } from './sandbox.ts';
import type { components, paths } from './schema.d.ts';

export type { TlsCredentials } from './mtls.ts';
export { createPkce, pkceChallenge } from './pkce.ts';
export type { SandboxDecision } from './sandbox.ts';

/** A scope value of this server. */
export type Scope = 'aisp' | 'extended_transaction_history' | 'cbpii' | 'pisp';
/** What an authorization request may ask the PSU for. */
export type AuthorizationScope = 'aisp' | 'aisp extended_transaction_history' | 'cbpii';
/** What a refresh may ask for: never extended_transaction_history, which needs the PSU again. */
export type RefreshScope = 'aisp' | 'cbpii';
/** A registration scope: scope values in this order, space-separated. */
export type ScopeList = Join<Subsets<['aisp', 'extended_transaction_history', 'cbpii', 'pisp']>>;
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';
export type Language = 'fr' | 'en';

type Subsets<T extends string[]> = T extends [infer H extends string, ...infer R extends string[]]
  ? [H, ...Subsets<R>] | Subsets<R>
  : [];
type Join<T> = T extends [infer H extends string]
  ? H
  : T extends [infer H extends string, ...infer R]
    ? `${H} ${Join<R>}`
    : never;

/** Drops the index signature the server schema has for localised fields, keeping the named ones. */
type KnownFields<T> = { [K in keyof T as string extends K ? never : K]: T[K] };
type LocalizableField = 'client_name' | 'logo_uri' | 'client_uri' | 'policy_uri' | 'tos_uri';

/** RFC 7591 client metadata; display fields may carry a BCP 47 tag: `client_name#fr`. */
export type ClientMetadata = Omit<KnownFields<components['schemas']['ClientMetadata']>, 'scope' | 'grant_types'> & {
  scope?: ScopeList;
  grant_types?: GrantType[];
} & { [K in `${LocalizableField}#${string}`]?: string };

export type ClientInformation = KnownFields<components['schemas']['ClientInformation']> & {
  [K in `${LocalizableField}#${string}`]?: string;
};

/**
 * RFC 9396 `payment_initiation` as granted (scope pisp): the payment the PSU authorised, the
 * account they paid from (`debtorAccount`) and the bank's `payment_hash`.
 */
export type AuthorizationDetails = components['schemas']['AuthorizationDetails'];
export type PaymentInitiationDetail = AuthorizationDetails[number];

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
  refresh_token?: string;
  /** Scope pisp only. */
  authorization_details?: AuthorizationDetails;
}

/**
 * A PISP's redirect for a payment: the bank's `_links.consentApproval.href` (which already names
 * the client, scope pisp and the payment) with `redirect_uri`, a random `state` (unless given) and
 * a PKCE S256 challenge appended. Keep `state` and `codeVerifier` for the callback and exchangeCode.
 */
export async function paymentRedirect(
  consentApprovalHref: string,
  params: { redirectUri: string; state?: string },
): Promise<PreparedAuthorization> {
  const url = new URL(consentApprovalHref);
  for (const name of ['redirect_uri', 'state', 'code_challenge', 'code_challenge_method']) {
    if (url.searchParams.has(name)) throw new TypeError(`the consentApproval href already carries ${name}`);
  }
  const { codeVerifier, codeChallenge } = await createPkce();
  const state = params.state ?? randomToken(16);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return { url: url.toString(), state, codeVerifier };
}

/** An OAuth error answered by the server (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 6750 §3.1). */
export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly error: string;
  readonly error_description: string | undefined;
  readonly status: number;
  constructor(status: number, error: string, description?: string) {
    super(description ? `${error}: ${description}` : error);
    this.status = status;
    this.error = error;
    this.error_description = description;
  }
}

export interface TppClientOptions extends TlsCredentials {
  /** The server's issuer, e.g. https://localhost:8443. */
  baseUrl: string;
  /**
   * Where the PSU pages are (the metadata's `authorization_endpoint` without `/authorize`). Default:
   * read once from the server's metadata (RFC 8414), so a bank that serves the pages on their own
   * listener (PSU_PORT) needs nothing more than `baseUrl`.
   */
  psuBaseUrl?: string;
}

export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scope: AuthorizationScope;
  lang?: Language;
  /** Echoed back on the redirect; a random one is made when absent. */
  state?: string;
}

export interface PreparedAuthorization {
  /** Where to send the PSU's browser. */
  url: string;
  state: string;
  /** Keep it for exchangeCode. */
  codeVerifier: string;
}

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };
const formBody = (body: Record<string, string | undefined>) => {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(body)) if (value !== undefined) form.set(name, value);
  return form.toString();
};

async function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): Promise<T> {
  if (result.response.ok) return result.data as T;
  const body = (result.error ?? {}) as { error?: string; error_description?: string };
  throw new OAuthError(result.response.status, body.error ?? `http_${result.response.status}`, body.error_description);
}

/**
 * One method per operation of the OpenAPI document, named by its operationId (registerClient,
 * getClient, updateClient, deleteClient, pushAuthorizationRequest, revokeToken); the token endpoint
 * (requestToken) has one method per grant type: exchangeCode, refresh, clientCredentials.
 */
export interface TppClient {
  registerClient(metadata: ClientMetadata): Promise<ClientInformation>;
  getClient(clientId: string, registrationAccessToken: string): Promise<ClientInformation>;
  /** Returns the new metadata with a new registration_access_token: the old one stops working. */
  updateClient(clientId: string, registrationAccessToken: string, metadata: ClientMetadata): Promise<ClientInformation>;
  deleteClient(clientId: string, registrationAccessToken: string): Promise<void>;
  /** An authorization URL with PKCE S256 (RFC 7636) and a state. */
  authorizationUrl(request: AuthorizationRequest): Promise<PreparedAuthorization>;
  /** Pushes the request first (RFC 9126); the URL then carries only client_id and request_uri. */
  pushAuthorizationRequest(request: AuthorizationRequest): Promise<PreparedAuthorization & { expiresIn: number }>;
  exchangeCode(params: {
    clientId: string;
    code: string;
    redirectUri: string;
    codeVerifier: string;
  }): Promise<TokenResponse>;
  refresh(params: { clientId: string; refreshToken: string; scope?: RefreshScope }): Promise<TokenResponse>;
  clientCredentials(params: { clientId: string }): Promise<TokenResponse>;
  revokeToken(params: {
    clientId: string;
    token: string;
    tokenTypeHint?: 'access_token' | 'refresh_token';
  }): Promise<void>;
  /**
   * Sandbox only: plays the PSU on the consent page (approve with the preselected persona, or
   * refuse) and returns the redirect URL with `code` or `error`, `state` and `iss`.
   */
  sandboxConsent(authorizationUrl: string, decision?: SandboxDecision): Promise<URL>;
  /** The typed openapi-fetch client, for anything the helpers above do not cover. */
  readonly api: Client<paths>;
  /** Closes the mTLS connection pool. */
  close(): Promise<void>;
}

export function createTppClient(options: TppClientOptions): TppClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const transport = createMtlsFetch(options);
  const api = createClient<paths>({ baseUrl, fetch: async (request) => (await transport).fetch(request) });
  // The pages' base: given, or the metadata's authorization_endpoint (asked once; again after a failure).
  let pages: Promise<string> | undefined = options.psuBaseUrl
    ? Promise.resolve(options.psuBaseUrl.replace(/\/+$/, ''))
    : undefined;
  const psuBaseUrl = () => {
    pages ??= api
      .GET('/.well-known/oauth-authorization-server')
      .then(unwrap)
      .then((metadata) => {
        const endpoint = (metadata as { authorization_endpoint?: string }).authorization_endpoint ?? '';
        if (!/^https?:\/\/[^/]+(\/.*)?\/authorize$/.test(endpoint)) {
          throw new Error(`the server's metadata names no usable authorization_endpoint (${endpoint || 'none'})`);
        }
        return endpoint.replace(/\/authorize$/, '');
      })
      .catch((err: unknown) => {
        pages = undefined;
        throw err;
      });
    return pages;
  };
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  async function prepare(request: AuthorizationRequest) {
    const { codeVerifier, codeChallenge } = await createPkce();
    const state = request.state ?? randomToken(16);
    const params = {
      response_type: 'code',
      client_id: request.clientId,
      redirect_uri: request.redirectUri,
      scope: request.scope,
      state,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
    };
    return { params, state, codeVerifier, lang: request.lang ?? 'fr' };
  }

  const token = (body: Record<string, string | undefined>) =>
    api
      .POST('/token', { body: body as never, bodySerializer: formBody, headers: FORM })
      .then(unwrap) as Promise<TokenResponse>;

  return {
    api,
    registerClient: (metadata) => api.POST('/register', { body: metadata }).then(unwrap) as Promise<ClientInformation>,
    getClient: (clientId, rat) =>
      api
        .GET('/register/{client_id}', { params: { path: { client_id: clientId } }, headers: bearer(rat) })
        .then(unwrap) as Promise<ClientInformation>,
    updateClient: (clientId, rat, metadata) =>
      api
        .PUT('/register/{client_id}', {
          params: { path: { client_id: clientId } },
          headers: bearer(rat),
          body: { ...metadata, client_id: clientId },
        })
        .then(unwrap) as Promise<ClientInformation>,
    deleteClient: async (clientId, rat) => {
      await api
        .DELETE('/register/{client_id}', { params: { path: { client_id: clientId } }, headers: bearer(rat) })
        .then(unwrap);
    },
    async authorizationUrl(request) {
      const { params, state, codeVerifier, lang } = await prepare(request);
      return { url: `${await psuBaseUrl()}/${lang}/authorize?${new URLSearchParams(params)}`, state, codeVerifier };
    },
    async pushAuthorizationRequest(request) {
      const { params, state, codeVerifier, lang } = await prepare(request);
      const pushed = (await api
        .POST('/par', { body: params as never, bodySerializer: formBody, headers: FORM })
        .then(unwrap)) as { request_uri: string; expires_in: number };
      const query = new URLSearchParams({ client_id: request.clientId, request_uri: pushed.request_uri });
      return {
        url: `${await psuBaseUrl()}/${lang}/authorize?${query}`,
        state,
        codeVerifier,
        expiresIn: pushed.expires_in,
      };
    },
    exchangeCode: (p) =>
      token({
        grant_type: 'authorization_code',
        client_id: p.clientId,
        code: p.code,
        redirect_uri: p.redirectUri,
        code_verifier: p.codeVerifier,
      }),
    refresh: (p) =>
      token({ grant_type: 'refresh_token', client_id: p.clientId, refresh_token: p.refreshToken, scope: p.scope }),
    clientCredentials: (p) => token({ grant_type: 'client_credentials', client_id: p.clientId, scope: 'pisp' }),
    async revokeToken(p) {
      await api
        .POST('/revoke', {
          body: { client_id: p.clientId, token: p.token, token_type_hint: p.tokenTypeHint } as never,
          bodySerializer: formBody,
          headers: FORM,
        })
        .then(unwrap);
    },
    async sandboxConsent(authorizationUrl, decision) {
      return decideInSandbox((await transport).fetch, authorizationUrl, decision);
    },
    async close() {
      await (await transport).close();
    },
  };
}
