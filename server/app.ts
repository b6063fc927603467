// createApp(deps): every route mounted on one OpenAPIHono, one error mapper, the OpenAPI document.
// It receives its stores and keys; it never opens a database or a socket itself.
import { createHmac, randomBytes } from 'node:crypto';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { bodyLimits } from './http/body.ts';
import { parseTrustedProxies } from './http/client-certificate.ts';
import type { AppEnv } from './http/env.ts';
import { errorResponse, handleError, validationHook } from './http/errors.ts';
import { requestLog, requestLogger } from './http/request-log.ts';
import { mountAuthorization } from './http/routes/authorization.ts';
import { mountDiscovery } from './http/routes/discovery.ts';
import { mountDocs } from './http/routes/docs.ts';
import { createReadiness, mountHealth } from './http/routes/health.ts';
import { mountIntrospection } from './http/routes/introspection.ts';
import { mountPar } from './http/routes/par.ts';
import { mountPaymentAuthorizations } from './http/routes/payment-authorizations.ts';
import { mountPermissionsApi } from './http/routes/permissions-api.ts';
import { mountPermissionPages } from './http/routes/permissions-pages.ts';
import { mountRegistration } from './http/routes/registration.ts';
import { mountToken } from './http/routes/token.ts';
import { listenerGate } from './http/surfaces.ts';
import { tppAuthentication } from './http/tpp-authentication.ts';
import type { Metrics } from './metrics.ts';
import { BANK_LOGO_PATH, type Branding } from './pages/branding.ts';
import { createAccessTokens } from './protocol/access-tokens.ts';
import type { AccountDirectory, PsuAuthenticator, RevocationChecker } from './protocol/bank.ts';
import { OAuthError } from './protocol/errors.ts';
import type { EndpointPaths } from './protocol/metadata.ts';
import type { HealthProbe } from './protocol/operations/ports.ts';
import type { PaymentAuthorizationStore } from './protocol/payments/ports.ts';
import { createPermissionDashboard } from './protocol/permissions/dashboard.ts';
import type { PermissionStores } from './protocol/permissions/ports.ts';
import type { BackOfficeCredentials, PermissionDeps } from './protocol/permissions.ts';
import type { AuthenticationEvent, AuthenticationEventLog, AuthorizationStores } from './protocol/psu/ports.ts';
import { createDatabasePsuAuthenticator } from './protocol/psu-authentication.ts';
import { type Clock, createPsuJourney } from './protocol/psu-journey.ts';
import type { ClientAdministration, ClientStore } from './protocol/registration/ports.ts';
import type { Signer } from './protocol/signer.ts';
import { GRANT_TYPES_SUPPORTED } from './protocol/token/index.ts';
import type {
  AuthorizationCodeStore,
  GrantStore,
  ResourceServerStore,
  RevokedAccessTokenStore,
} from './protocol/token/ports.ts';
import { createTppIdentityVerifier, type TppIdentityVerifier } from './protocol/tpp-identity.ts';

export interface AppDeps {
  /** Key of the PSU pseudonyms in the logs; default: random for this process. */
  logPseudonymKey?: string;
  /** Prometheus metrics (server/metrics.ts), when the admin listener is on. */
  metrics?: Pick<Metrics, 'http' | 'psuEvent'>;
  issuer: string;
  /**
   * The public base URL of the PSU listener, when the PSU pages have their own (two listeners): the
   * metadata then names it in `authorization_endpoint` and lists the mTLS endpoints in
   * `mtls_endpoint_aliases` (RFC 8705 §5). Default: the issuer (one listener).
   */
  psuBaseUrl?: string;
  mode: 'sandbox' | 'production';
  logger: Logger;
  keys: Signer;
  stores: {
    health: HealthProbe;
    clients: ClientStore;
    clientAdministration: ClientAdministration;
    authorizationCodes: AuthorizationCodeStore;
    grants: GrantStore;
    revokedAccessTokens: RevokedAccessTokenStore;
    resourceServers: ResourceServerStore;
    authorization: AuthorizationStores;
    payments: PaymentAuthorizationStore;
    /** The permission dashboard's sessions and records. */
    permissions: PermissionStores;
  };
  /** The bank's back office on the permission API (BACK_OFFICE_*); absent: the API refuses every call. */
  backOffice?: BackOfficeCredentials;
  /** The PSU side: settings, and the bank's own PSU authentication and account lookup if it has them. */
  authorization?: AuthorizationSettings;
  /** Access tokens and refresh tokens; defaults: 300 s, `${issuer}/psd2`, no rotation. */
  tokens?: { ttl?: number; audience?: string; refreshTokenRotation?: boolean };
  /** PEM bundle of the CAs whose client certificates are accepted. */
  trustAnchorsPem: string;
  /** PEM bundle of intermediates that may complete a path; never trusted on their own. */
  intermediatesPem?: string;
  /** Comma-separated IPs and CIDRs whose RFC 9440 Client-Cert headers are honoured. */
  trustedProxies?: string;
  /** Injected by tests that need a clock; built from trustAnchorsPem otherwise. */
  verifier?: TppIdentityVerifier;
  /** How long a keep-alive connection's verified identity is reused (default and maximum 60 s). */
  connectionReverifyMs?: number;
  /** OCSP/CRL (server/pki/revocation.ts); absent: no revocation check. */
  revocationChecker?: RevocationChecker;
  /** The time of the PSU journey; tests inject one to move past timeouts. Default: Date.now. */
  clock?: Clock;
}

export const OPENAPI_INFO = {
  title: 'psd2-oauth',
  version: pkg.version,
  description: [
    'OAuth 2 authorization server for PSD2 APIs (STET). TPPs authenticate with mutual TLS using their eIDAS QWAC (`tls_client_auth`, RFC 8705).',
    '',
    '**Trying operations from this page:** the operations secured by `mutualTLS` (registration, token, revocation, PAR) need a client certificate in the TLS handshake. A browser presents one only if a certificate is installed in it and the server asks for it, so "Try it out" answers `401 invalid_client` (no client certificate was presented) otherwise. Use the SDK (`@psd2-oauth/sdk`), curl with `--cert`/`--key`, or any HTTP client configured with the QWAC.',
  ].join('\n'),
  license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
};

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook('invalid_request') });
  const trustedProxies = parseTrustedProxies(deps.trustedProxies ?? '');
  if (deps.metrics) app.use('*', deps.metrics.http);
  app.use('*', requestLog(deps.logger, trustedProxies));
  app.use('*', bodyLimits);
  app.onError(handleError);
  app.use('*', listenerGate());
  // The PSU pages' frame (server/http/psu-pages.ts) reads the bank's branding from the request.
  const branding = brandingOf(deps.authorization?.branding);
  app.use('*', async (c, next) => {
    c.set('branding', branding);
    await next();
  });
  app.notFound((c) => errorResponse(c, new OAuthError('not_found', `No endpoint at ${c.req.method} ${c.req.path}.`)));

  app.openAPIRegistry.registerComponent('securitySchemes', 'mutualTLS', {
    type: 'mutualTLS',
    description:
      'The TPP presents its eIDAS QWAC (an X.509 certificate for website authentication carrying the PSD2 QCStatement) in the TLS handshake.',
  });

  const authenticate = tppAuthentication({
    verifier:
      deps.verifier ??
      createTppIdentityVerifier({
        trustAnchors: deps.trustAnchorsPem,
        intermediates: deps.intermediatesPem,
        revocationChecker: deps.revocationChecker,
      }),
    trustedProxies,
    reverifyAfterMs: deps.connectionReverifyMs,
  });

  const endpoints: EndpointPaths = {
    registration_endpoint: '/register',
    token_endpoint: '/token',
    revocation_endpoint: '/revoke',
    introspection_endpoint: '/introspect',
    authorization_endpoint: '/authorize',
    pushed_authorization_request_endpoint: '/par',
    jwks_uri: '/jwks',
    service_documentation: '/docs',
  };
  mountRegistration(app, {
    issuer: deps.issuer,
    clients: deps.stores.clients,
    policy: { allowLocalhostRedirects: deps.mode === 'sandbox' },
    organizationSuspended: async (organizationId) =>
      (await deps.stores.clientAdministration.list({ organizationId, suspended: true })).length > 0,
    authenticate,
  });
  const accessTokens = createAccessTokens({
    issuer: deps.issuer,
    audience: deps.tokens?.audience ?? `${deps.issuer}/psd2`,
    ttl: deps.tokens?.ttl ?? 300,
    keys: deps.keys,
  });
  const tokenStores = {
    clients: deps.stores.clients,
    authorizationCodes: deps.stores.authorizationCodes,
    grants: deps.stores.grants,
    revokedAccessTokens: deps.stores.revokedAccessTokens,
    payments: deps.stores.payments,
    accessTokens,
  };
  mountToken(app, {
    ...tokenStores,
    refreshTokenRotation: deps.tokens?.refreshTokenRotation ?? false,
    authenticate,
  });
  mountIntrospection(app, { ...tokenStores, resourceServers: deps.stores.resourceServers });
  mountPsuSide(app, deps, authenticate);
  mountPaymentAuthorizations(app, {
    authorizationEndpoint: `${deps.psuBaseUrl ?? deps.issuer}${endpoints.authorization_endpoint}`,
    clients: deps.stores.clients,
    payments: deps.stores.payments,
    resourceServers: deps.stores.resourceServers,
    ttlSeconds: deps.authorization?.paymentAuthorizationTtlSeconds ?? 900,
    clock: deps.clock ?? Date.now,
  });
  mountDiscovery(app, {
    issuer: deps.issuer,
    psuBaseUrl: deps.psuBaseUrl,
    endpoints,
    grantTypes: GRANT_TYPES_SUPPORTED,
    keys: deps.keys,
  });
  mountHealth(app, createReadiness(deps.stores.health, deps.keys));
  mountDocs(app);

  // The one public URL is the issuer's (RFC 8414): never the Host header a request happened to carry.
  app.doc31('/openapi.json', () => openApiConfig(deps.issuer));
  return app;
}

export function openApiConfig(issuer: string) {
  return {
    openapi: '3.1.0',
    info: OPENAPI_INFO,
    servers: [{ url: issuer, description: 'The issuer (ISSUER)' }],
    tags: [
      { name: 'Client registration', description: 'RFC 7591 and RFC 7592, over mutual TLS with a QWAC' },
      { name: 'Tokens', description: 'Token (RFC 6749), revocation (RFC 7009) and introspection (RFC 7662)' },
      { name: 'Authorization', description: 'Pushed authorization requests (RFC 9126), over mutual TLS' },
      {
        name: 'PSU pages',
        description:
          'The authorization endpoint, where a TPP sends the PSU’s browser. It answers HTML pages and redirects, not JSON; the pages behind it (login, one-time code, consent) are for browsers and not part of this API.',
      },
      {
        name: 'Payments',
        description:
          'The back channel of the bank’s resource servers (HTTP Basic): payments and cancellations the PSU authorises through the OAuth redirect (STET REDIRECT approach, RFC 9396 authorization_details).',
      },
      {
        name: 'Permissions',
        description:
          'The permission dashboard for the bank’s own online banking (HTTP Basic, the back office’s own credentials): a PSU’s permissions per TPP, their history, and the withdrawal. The PSU sees the same at /{lang}/permissions.',
      },
      { name: 'Discovery', description: 'Metadata and keys' },
      { name: 'Operations', description: 'Health' },
    ],
  };
}

/** The branding the pages show: the logo served by us (a file) or by its https URL. */
function brandingOf(assets: BrandingAssets | undefined): Branding {
  if (!assets) return {};
  const { logoFile, logoUrl, ...rest } = assets;
  return { ...rest, ...(logoFile ? { logoSrc: BANK_LOGO_PATH } : logoUrl ? { logoSrc: logoUrl } : {}) };
}

/** BANK_* settings, validated (server/config.ts), the logo file read and its type recognised (main.ts). */
export type BrandingAssets = Omit<Branding, 'logoSrc'> & {
  logoFile?: { bytes: Uint8Array; contentType: string };
  logoUrl?: string;
};

export interface AuthorizationSettings {
  /** The bank's name, logo, colour and help link on the PSU pages; default: a neutral frame. */
  branding?: BrandingAssets;
  /** IANA zone of the times on the PSU pages; default Europe/Paris. */
  timeZone?: string;
  /** Default 300 (RTS art. 4(3)(d)). */
  sessionInactivitySeconds?: number;
  /** Default 1800. */
  lockoutSeconds?: number;
  /** Default 180. */
  cbpiiConsentDays?: number;
  /** Default 60. */
  codeTtlSeconds?: number;
  /** Default 60. */
  parExpiresInSeconds?: number;
  /** Default 900. */
  paymentAuthorizationTtlSeconds?: number;
  /** Default: PSUs of the database, password (scrypt) and TOTP. */
  authenticator?: PsuAuthenticator;
  /** Default: accounts of the database. */
  accounts?: AccountDirectory;
}

function mountPsuSide(app: OpenAPIHono<AppEnv>, deps: AppDeps, authenticate: MiddlewareHandler<AppEnv>): void {
  const settings = deps.authorization ?? {};
  // scripts/gen.ts builds the app without stores, only for its OpenAPI document.
  const stores = deps.stores.authorization ?? ({} as AuthorizationStores);
  mountPar(app, {
    clients: deps.stores.clients,
    pushedRequests: stores?.pushedRequests,
    payments: deps.stores.payments,
    authenticate,
    expiresInSeconds: settings.parExpiresInSeconds ?? 60,
  });
  const clock = deps.clock ?? Date.now;
  // One authenticator for the consent pages and the dashboard: one lockout count per PSU.
  const journeyAuthenticator =
    settings.authenticator ??
    createDatabasePsuAuthenticator(stores.psus, { lockSeconds: settings.lockoutSeconds ?? 1800 });
  // One log for both: the PSU's pseudonym in the log lines is keyed once.
  const observe = eventObserver(deps);
  const events: AuthenticationEventLog = {
    async record(event) {
      await stores.events.record(event);
      observe(event);
    },
  };
  const journey = createPsuJourney({
    settings: {
      mode: deps.mode,
      sessionInactivitySeconds: settings.sessionInactivitySeconds ?? 300,
      cbpiiConsentDays: settings.cbpiiConsentDays ?? 180,
      codeTtlSeconds: settings.codeTtlSeconds ?? 60,
    },
    clock,
    sessions: stores.sessions,
    consents: stores.consents,
    events,
    observe,
    authenticator: journeyAuthenticator,
    accounts: settings.accounts ?? stores.accounts,
    psus: stores.psus,
    payments: deps.stores.payments,
  });
  const permissionDeps: PermissionDeps = {
    consents: stores.consents,
    clients: deps.stores.clients,
    accounts: settings.accounts ?? stores.accounts,
    psus: stores.psus,
    records: deps.stores.permissions,
    events,
  };
  mountPermissionsApi(app, { ...permissionDeps, backOffice: deps.backOffice, clock });
  mountPermissionPages(app, {
    dashboard: createPermissionDashboard({
      ...permissionDeps,
      settings: { mode: deps.mode, sessionInactivitySeconds: settings.sessionInactivitySeconds ?? 300 },
      clock,
      sessions: deps.stores.permissions?.sessions,
      authenticator: journeyAuthenticator,
      psus: stores.psus,
    }),
    psus: stores.psus,
    timeZone: settings.timeZone ?? 'Europe/Paris',
  });
  mountAuthorization(app, {
    issuer: deps.issuer,
    clients: deps.stores.clients,
    pushedRequests: stores.pushedRequests,
    payments: deps.stores.payments,
    psus: stores.psus,
    journey,
    clock,
    timeZone: settings.timeZone ?? 'Europe/Paris',
    branding: { ...brandingOf(settings.branding), logoFile: settings.branding?.logoFile },
  });
}

/**
 * The authentication log (RTS art. 29, in the database), also written to the log a SIEM reads and
 * counted in the metrics. The PSU appears there only as a keyed pseudonym (HMAC-SHA256 under
 * LOG_PSEUDONYM_KEY): the same PSU gives the same value, and the log alone does not name them.
 */
function eventObserver(
  deps: Pick<AppDeps, 'logger' | 'metrics' | 'logPseudonymKey'>,
): (event: AuthenticationEvent) => void {
  const key = deps.logPseudonymKey ?? randomBytes(32);
  const pseudonym = (psuId: string) => createHmac('sha256', key).update(psuId).digest('base64url').slice(0, 22);
  return (event) => {
    deps.metrics?.psuEvent(event);
    const line = {
      psu_event: event.event,
      session_id: event.sessionId,
      ...(event.psuId ? { psu: pseudonym(event.psuId) } : {}),
      ...(event.clientId ? { client_id: event.clientId } : {}),
    };
    const log = requestLogger() ?? deps.logger;
    if (event.event === 'psu.locked') log.warn(line, 'psu locked');
    else if (event.event.endsWith('.failed')) log.warn(line, 'psu authentication failed');
    else log.info(line, 'psu authentication');
  };
}
