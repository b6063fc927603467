// The authorization endpoint (RFC 6749 §4.1, RFC 7636, RFC 9126, RFC 9207) without HTTP: checks an
// authorization request, pushes one, builds the redirects, and turns a PSU's approval into a consent
// and an authorization code.
import { OAuthError, type OAuthErrorCode } from './errors.ts';
import { effectiveStatus } from './payments/back-channel.ts';
import type { PaymentAuthorizationStore } from './payments/ports.ts';
import type { AuthorizationRequest, GrantedConsent, PushedRequestStore } from './psu/ports.ts';
import type { ClientRecord, ClientStore } from './registration/ports.ts';
import type { Scope } from './scope-policy.ts';
import { randomSecret, secretDigest } from './secrets.ts';

export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';
/** RTS art. 10a as amended by 2022/2360: an AISP consent lasts 180 days. */
export const AISP_CONSENT_DAYS = 180;
const DAY_MS = 86_400_000;
/** S256 of a 32-byte digest, base64url without padding (RFC 7636 §4.2). */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const MAX_STATE_LENGTH = 4096;

/** The scope combinations a PSU can be asked for: one consent, one kind of access. */
const GRANTABLE_SCOPES = ['aisp', 'aisp extended_transaction_history', 'cbpii', 'pisp'] as const;
const DETAIL_FIELDS = new Set(['type', 'identifier', 'actions']);

/**
 * A failure the PSU sees on our page because the redirect URI cannot be trusted (RFC 6749 §4.1.2.1):
 * unknown client, missing or unregistered redirect URI, bad request_uri. Never redirected.
 */
export class UntrustedRequestError extends Error {
  override name = 'UntrustedRequestError';
  readonly reason: 'unknown_client' | 'invalid_redirect_uri' | 'invalid_request_uri' | 'invalid_request';
  readonly description: string;
  constructor(reason: UntrustedRequestError['reason'], description: string) {
    super(description);
    this.reason = reason;
    this.description = description;
  }
}

/** A failure reported to the client at its redirect URI (RFC 6749 §4.1.2.1). */
export class RedirectableError extends Error {
  override name = 'RedirectableError';
  readonly code: OAuthErrorCode;
  readonly description: string;
  readonly request: Pick<AuthorizationRequest, 'redirectUri' | 'state' | 'clientId'>;
  constructor(code: OAuthErrorCode, description: string, request: RedirectableError['request']) {
    super(`${code}: ${description}`);
    this.code = code;
    this.description = description;
    this.request = request;
  }
}

export interface AuthorizationDeps {
  clients: Pick<ClientStore, 'find'>;
  pushedRequests: PushedRequestStore;
  payments: Pick<PaymentAuthorizationStore, 'find'>;
}

/** Query parameters as received: every value of every name, so a repeated one can be refused. */
export type RawParameters = Map<string, string[]>;

export function rawParameters(entries: Iterable<[string, string]>): RawParameters {
  const params: RawParameters = new Map();
  for (const [name, value] of entries) params.set(name, [...(params.get(name) ?? []), value]);
  return params;
}

/**
 * Checks an authorization request in the order RFC 6749 §4.1.2.1 requires: until the client and its
 * redirect URI are established, errors are for the PSU (UntrustedRequestError); after, for the
 * client (RedirectableError). With a request_uri, only the pushed parameters count (RFC 9126 §4).
 */
export async function checkAuthorizationRequest(
  deps: AuthorizationDeps,
  params: RawParameters,
  now: number,
): Promise<{ request: AuthorizationRequest; client: ClientRecord }> {
  const single = (name: string): string | undefined => {
    const values = params.get(name);
    if (values && values.length > 1) {
      throw new UntrustedRequestError('invalid_request', `the ${name} parameter is repeated`);
    }
    return values?.[0];
  };
  const clientId = single('client_id');
  if (!clientId) throw new UntrustedRequestError('unknown_client', 'client_id is missing');
  const client = await deps.clients.find(clientId);
  if (!client) throw new UntrustedRequestError('unknown_client', 'the client is unknown');
  if (client.suspendedAt) throw new UntrustedRequestError('unknown_client', 'the client is suspended by the bank');

  const requestUri = single('request_uri');
  if (requestUri !== undefined) {
    if (!requestUri.startsWith(REQUEST_URI_PREFIX)) {
      throw new UntrustedRequestError('invalid_request_uri', 'the request_uri was not issued by this server');
    }
    const pushed = await deps.pushedRequests.consume(
      await secretDigest(requestUri.slice(REQUEST_URI_PREFIX.length)),
      clientId,
      now,
    );
    if (!pushed) {
      throw new UntrustedRequestError('invalid_request_uri', 'the request_uri is unknown, expired or already used');
    }
    // Pushed parameters were checked when pushed; the client may have changed since.
    if (!client.metadata.redirect_uris.includes(pushed.redirectUri)) {
      throw new UntrustedRequestError('invalid_redirect_uri', 'the redirect_uri is not registered for this client');
    }
    // The payment may have been withdrawn or consumed since it was pushed.
    const request = await checkPaymentAuthorization(deps.payments, pushed, now, (code, description) => {
      throw new RedirectableError(code, description, pushed);
    });
    return { request, client };
  }

  const redirectUri = single('redirect_uri');
  if (!redirectUri) throw new UntrustedRequestError('invalid_redirect_uri', 'redirect_uri is missing');
  if (!client.metadata.redirect_uris.includes(redirectUri)) {
    throw new UntrustedRequestError('invalid_redirect_uri', 'the redirect_uri is not registered for this client');
  }

  const state = params.get('state')?.[0];
  const fail = (code: OAuthErrorCode, description: string): never => {
    throw new RedirectableError(code, description, { clientId, redirectUri, state });
  };
  for (const [name, values] of params) {
    if (values.length > 1) fail('invalid_request', `the ${name} parameter is repeated (RFC 6749 §3.1)`);
  }
  const checked = checkParameters(client, redirectUri, (name) => params.get(name)?.[0], fail);
  return { request: await checkPaymentAuthorization(deps.payments, checked, now, fail), client };
}

/** The checks shared by /authorize and /par once client and redirect URI are known. */
function checkParameters(
  client: ClientRecord,
  redirectUri: string,
  get: (name: string) => string | undefined,
  fail: (code: OAuthErrorCode, description: string) => never,
): AuthorizationRequest {
  const responseType = get('response_type');
  if (!responseType) fail('invalid_request', 'response_type is missing');
  if (responseType !== 'code') fail('unsupported_response_type', 'only response_type=code is supported');
  if (!client.metadata.grant_types.includes('authorization_code')) {
    fail('unauthorized_client', 'the client is not registered for the authorization_code grant');
  }
  const state = get('state');
  if (state !== undefined && state.length > MAX_STATE_LENGTH) {
    fail('invalid_request', `state is longer than ${MAX_STATE_LENGTH} characters`);
  }

  const scope = get('scope');
  if (!scope) fail('invalid_scope', 'scope is missing (aisp, aisp extended_transaction_history or cbpii)');
  const names = scope.split(' ');
  const registered = new Set(client.metadata.scope.split(' '));
  const outside = names.filter((name) => !registered.has(name));
  if (outside.length > 0) fail('invalid_scope', `${outside.join(' ')} is not among the client's scopes`);
  const normalized = (['aisp', 'extended_transaction_history', 'cbpii', 'pisp'] as Scope[])
    .filter((s) => names.includes(s))
    .join(' ');
  if (normalized.split(' ').length !== names.length || !(GRANTABLE_SCOPES as readonly string[]).includes(normalized)) {
    fail('invalid_scope', 'scope must be aisp, aisp extended_transaction_history, cbpii, or pisp');
  }
  const paymentAuthorizationId = paymentDetail(normalized, get('authorization_details'), fail);

  const challenge = get('code_challenge');
  const method = get('code_challenge_method');
  if (!challenge) fail('invalid_request', 'code_challenge is required (PKCE, RFC 7636, with S256)');
  if (method !== 'S256') {
    fail(
      'invalid_request',
      method ? `code_challenge_method ${method} is not supported: use S256` : 'code_challenge_method must be S256',
    );
  }
  if (!S256_CHALLENGE.test(challenge)) fail('invalid_request', 'code_challenge must be 43 base64url characters (S256)');

  return {
    clientId: client.clientId,
    redirectUri,
    scope: normalized,
    ...(state === undefined ? {} : { state }),
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    ...(paymentAuthorizationId ? { paymentAuthorizationId } : {}),
  };
}

/**
 * RFC 9396 for scope pisp: exactly one `payment_initiation` object naming, by `identifier`, a
 * payment the bank's resource server registered. Only `type`, `identifier` and `actions`: the
 * payment's data comes from the bank alone (one copy of amount and payee, RTS art. 5).
 */
function paymentDetail(
  scope: string,
  raw: string | undefined,
  fail: (code: OAuthErrorCode, description: string) => never,
): string | undefined {
  if (scope !== 'pisp') {
    if (raw !== undefined) fail('invalid_scope', 'authorization_details (payment_initiation) go with scope pisp only');
    return undefined;
  }
  if (raw === undefined) fail('invalid_request', 'scope pisp needs authorization_details naming the payment');
  let details: unknown;
  try {
    details = JSON.parse(raw);
  } catch {
    fail('invalid_authorization_details', 'authorization_details is not valid JSON');
  }
  if (!Array.isArray(details) || details.length !== 1) {
    fail('invalid_authorization_details', 'authorization_details must be an array of one payment_initiation object');
  }
  const detail = (details as unknown[])[0];
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    fail('invalid_authorization_details', 'authorization_details[0] must be an object');
  }
  const fields = detail as Record<string, unknown>;
  if (fields.type !== 'payment_initiation') {
    fail('invalid_authorization_details', 'unknown authorization_details type (supported: payment_initiation)');
  }
  const extra = Object.keys(fields).filter((k) => !DETAIL_FIELDS.has(k));
  if (extra.length > 0) {
    fail(
      'invalid_authorization_details',
      `${extra.join(', ')}: not accepted; the payment's data comes from the bank's registration`,
    );
  }
  if (typeof fields.identifier !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(fields.identifier)) {
    fail('invalid_authorization_details', 'identifier: no payment authorization of this client has this id');
  }
  const actions = fields.actions;
  if (
    actions !== undefined &&
    !(Array.isArray(actions) && actions.length === 1 && (actions[0] === 'initiate' || actions[0] === 'cancel'))
  ) {
    fail('invalid_authorization_details', 'actions: ["initiate"] or ["cancel"]');
  }
  // The id and the requested action travel together until checkPaymentAuthorization compares them
  // with the registration ('#' never occurs in an id).
  return `${fields.identifier}${actions ? `#${actions[0]}` : ''}`;
}

/**
 * The payment a pisp request names must be this client's and awaiting the PSU's authorisation
 * (RFC 9396 §5); the actions, if given, must be the registered ones.
 */
export async function checkPaymentAuthorization(
  payments: Pick<PaymentAuthorizationStore, 'find'>,
  request: AuthorizationRequest,
  now: number,
  fail: (code: OAuthErrorCode, description: string) => never,
): Promise<AuthorizationRequest> {
  if (!request.paymentAuthorizationId) return request;
  const [id = '', action] = request.paymentAuthorizationId.split('#');
  const record = await payments.find(id);
  if (!record || record.clientId !== request.clientId) {
    fail('invalid_authorization_details', 'identifier: no payment authorization of this client has this id');
  }
  if (action && action !== record.action) {
    fail('invalid_authorization_details', `actions: the payment authorization is for ${record.action}`);
  }
  const status = effectiveStatus(record, now);
  if (status !== 'awaiting_authorisation') {
    fail('invalid_authorization_details', `identifier: the payment authorization is ${status}`);
  }
  return { ...request, paymentAuthorizationId: id };
}

/**
 * RFC 9126 §2: checks the pushed parameters of the authenticated client and stores them. The
 * errors are JSON (OAuthError): the request came from the client itself, not through a browser.
 */
export async function pushAuthorizationRequest(
  deps: AuthorizationDeps,
  clientId: string,
  body: Record<string, string | undefined>,
  now: number,
  expiresInSeconds: number,
): Promise<{ request_uri: string; expires_in: number }> {
  if ('request_uri' in body && body.request_uri !== undefined) {
    throw new OAuthError('invalid_request', 'request_uri must not be pushed (RFC 9126 §2.1)');
  }
  if (body.client_id !== undefined && body.client_id !== clientId) {
    throw new OAuthError('invalid_request', 'client_id does not name the authenticated client');
  }
  const client = await deps.clients.find(clientId);
  if (!client) throw new OAuthError('invalid_client', 'the client is unknown');
  const redirectUri = body.redirect_uri;
  if (!redirectUri) throw new OAuthError('invalid_request', 'redirect_uri is missing');
  if (!client.metadata.redirect_uris.includes(redirectUri)) {
    throw new OAuthError('invalid_request', 'the redirect_uri is not registered for this client');
  }
  const request = checkParameters(
    client,
    redirectUri,
    (name) => body[name],
    (code, description) => {
      throw new OAuthError(code === 'unsupported_response_type' ? 'invalid_request' : code, description);
    },
  );
  const checked = await checkPaymentAuthorization(deps.payments, request, now, (code, description) => {
    throw new OAuthError(code, description);
  });
  const secret = randomSecret(32);
  await deps.pushedRequests.insert(await secretDigest(secret), checked, now, now + expiresInSeconds * 1000);
  return { request_uri: `${REQUEST_URI_PREFIX}${secret}`, expires_in: expiresInSeconds };
}

/** The client's redirect URI with the response parameters and `iss` (RFC 9207) added. */
export function authorizationResponseUrl(
  issuer: string,
  redirectUri: string,
  params: { code: string } | { error: OAuthErrorCode; error_description?: string },
  state: string | undefined,
): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) if (value !== undefined) url.searchParams.append(name, value);
  if (state !== undefined) url.searchParams.append('state', state);
  url.searchParams.append('iss', issuer);
  return url.toString();
}

export interface ConsentPolicy {
  cbpiiConsentDays: number;
  codeTtlSeconds: number;
}

/**
 * The PSU approved: a consent for the accounts they chose (the caller keeps only accounts they
 * hold), and a code bound to the client, redirect URI, PKCE challenge and consent. Nothing is
 * written here: the PSU journey stores it together with the end of the session.
 */
export async function prepareConsent(
  policy: ConsentPolicy,
  input: {
    request: AuthorizationRequest;
    psuId: string;
    accountIds: string[];
    /** The time of the SCA this consent follows; absent in the sandbox (no real SCA). */
    scaAt?: number;
    now: number;
    /** Default: the scope's duration (180 days for aisp, CBPII_CONSENT_DAYS for cbpii). */
    lifetimeMs?: number;
  },
): Promise<GrantedConsent> {
  const accountIds = [...new Set(input.accountIds)];
  if (accountIds.length === 0) throw new OAuthError('invalid_request', 'choose at least one account');
  const { request, now } = input;
  const days = request.scope === 'cbpii' ? policy.cbpiiConsentDays : AISP_CONSENT_DAYS;
  const consentId = randomSecret(16);
  const code = randomSecret(32);
  return {
    consent: {
      consentId,
      clientId: request.clientId,
      psuId: input.psuId,
      scope: request.scope,
      accountIds,
      createdAt: now,
      expiresAt: now + (input.lifetimeMs ?? days * DAY_MS),
    },
    code: {
      codeDigest: await secretDigest(code),
      clientId: request.clientId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      consentId,
      psuId: input.psuId,
      scope: request.scope,
      createdAt: now,
      expiresAt: now + Math.min(policy.codeTtlSeconds, 60) * 1000,
    },
    codeSecret: code,
    ...(input.scaAt === undefined ? {} : { sca: { at: input.scaAt } }),
  };
}
