// createApp(deps): every route mounted on one OpenAPIHono, one error mapper, the OpenAPI document.
// It receives its stores and keys; it never opens a database or a socket itself.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import pkg from '../package.json' with { type: 'json' };
import { parseTrustedProxies } from './http/client-certificate.ts';
import type { AppEnv } from './http/env.ts';
import { errorResponse, handleError, validationHook } from './http/errors.ts';
import { requestLog } from './http/request-log.ts';
import { mountDiscovery } from './http/routes/discovery.ts';
import { mountDocs } from './http/routes/docs.ts';
import { mountHealth } from './http/routes/health.ts';
import { mountRegistration } from './http/routes/registration.ts';
import { tppAuthentication } from './http/tpp-authentication.ts';
import { OAuthError } from './protocol/errors.ts';
import type { EndpointPaths } from './protocol/metadata.ts';
import type { ClientStore, HealthProbe } from './protocol/ports.ts';
import type { SigningKeySet } from './protocol/signing-keys.ts';
import { createTppIdentityVerifier, type TppIdentityVerifier } from './protocol/tpp-identity.ts';

export interface AppDeps {
  issuer: string;
  mode: 'sandbox' | 'production';
  logger: Logger;
  keys: SigningKeySet;
  stores: { health: HealthProbe; clients: ClientStore };
  /** PEM bundle of the CAs whose client certificates are accepted. */
  trustAnchorsPem: string;
  /** PEM bundle of intermediates that may complete a path; never trusted on their own. */
  intermediatesPem?: string;
  /** Comma-separated IPs and CIDRs whose RFC 9440 Client-Cert headers are honoured. */
  trustedProxies?: string;
  /** Injected by tests that need a clock; built from trustAnchorsPem otherwise. */
  verifier?: TppIdentityVerifier;
}

export const OPENAPI_INFO = {
  title: 'psd2-oauth',
  version: pkg.version,
  description:
    'OAuth 2 authorization server for PSD2 APIs (STET). TPPs authenticate with mutual TLS using their eIDAS QWAC (`tls_client_auth`, RFC 8705).',
  license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
};

export function createApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook('invalid_request') });
  app.use('*', requestLog(deps.logger));
  app.onError(handleError);
  app.notFound((c) => errorResponse(c, new OAuthError('not_found', `No endpoint at ${c.req.method} ${c.req.path}.`)));

  app.openAPIRegistry.registerComponent('securitySchemes', 'mutualTLS', {
    type: 'mutualTLS',
    description:
      'The TPP presents its eIDAS QWAC (an X.509 certificate for website authentication carrying the PSD2 QCStatement) in the TLS handshake.',
  });

  const authenticate = tppAuthentication({
    verifier:
      deps.verifier ??
      createTppIdentityVerifier({ trustAnchors: deps.trustAnchorsPem, intermediates: deps.intermediatesPem }),
    trustedProxies: parseTrustedProxies(deps.trustedProxies ?? ''),
  });

  const endpoints: EndpointPaths = {
    registration_endpoint: '/register',
    jwks_uri: '/jwks',
    service_documentation: '/docs',
  };
  mountRegistration(app, {
    issuer: deps.issuer,
    clients: deps.stores.clients,
    policy: { allowLocalhostRedirects: deps.mode === 'sandbox' },
    authenticate,
  });
  mountDiscovery(app, { issuer: deps.issuer, endpoints, grantTypes: [], keys: deps.keys });
  mountHealth(app, deps.stores.health);
  mountDocs(app);

  app.doc31('/openapi.json', (c) => openApiConfig(new URL(c.req.url).origin));
  return app;
}

export function openApiConfig(serverUrl: string) {
  return {
    openapi: '3.1.0',
    info: OPENAPI_INFO,
    servers: [{ url: serverUrl }],
    tags: [
      { name: 'Client registration', description: 'RFC 7591 and RFC 7592, over mutual TLS with a QWAC' },
      { name: 'Discovery', description: 'Metadata and keys' },
      { name: 'Operations', description: 'Health' },
    ],
  };
}
