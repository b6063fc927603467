// Discovery: RFC 8414 metadata and the JWK Set (RFC 7517).
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { authorizationServerMetadata, type EndpointPaths } from '../../protocol/metadata.ts';
import type { Signer } from '../../protocol/signer.ts';
import type { AppEnv } from '../env.ts';
import { responseHeaders } from '../schemas.ts';

const Metadata = z
  .object({
    issuer: z.string(),
    authorization_endpoint: z.string().optional(),
    token_endpoint: z.string().optional(),
    registration_endpoint: z.string().optional(),
    revocation_endpoint: z.string().optional(),
    introspection_endpoint: z.string().optional(),
    pushed_authorization_request_endpoint: z.string().optional(),
    jwks_uri: z.string(),
    service_documentation: z.string(),
    scopes_supported: z.array(z.string()),
    response_types_supported: z.array(z.string()),
    response_modes_supported: z.array(z.string()),
    grant_types_supported: z.array(z.string()),
    token_endpoint_auth_methods_supported: z.array(z.string()),
    tls_client_certificate_bound_access_tokens: z.boolean(),
    code_challenge_methods_supported: z.array(z.string()),
    authorization_response_iss_parameter_supported: z.boolean(),
    ui_locales_supported: z.array(z.string()),
    authorization_details_types_supported: z.array(z.string()),
    mtls_endpoint_aliases: z.record(z.string(), z.string()).optional().openapi({
      description:
        'RFC 8705 §5: when the PSU pages have their own listener, the endpoints that take the client certificate, on the mTLS listener.',
    }),
  })
  .passthrough()
  .openapi('AuthorizationServerMetadata');

const Jwk = z
  .object({
    kty: z.string(),
    kid: z.string(),
    alg: z.string(),
    use: z.literal('sig'),
    crv: z.string().optional(),
    x: z.string().optional(),
    y: z.string().optional(),
    n: z.string().optional(),
    e: z.string().optional(),
  })
  .openapi('JsonWebKey');

const JwkSet = z.object({ keys: z.array(Jwk) }).openapi('JsonWebKeySet');

export const metadataRoute = createRoute({
  method: 'get',
  path: '/.well-known/oauth-authorization-server',
  tags: ['Discovery'],
  summary: 'Authorization server metadata (RFC 8414)',
  operationId: 'getAuthorizationServerMetadata',
  security: [],
  responses: {
    200: {
      description: 'The metadata document.',
      headers: responseHeaders({ 'Cache-Control': 'public, max-age=300' }),
      content: {
        'application/json': {
          schema: Metadata,
          example: {
            issuer: 'https://localhost:8443',
            jwks_uri: 'https://localhost:8443/jwks',
            service_documentation: 'https://localhost:8443/docs',
            scopes_supported: ['aisp', 'extended_transaction_history', 'cbpii', 'pisp'],
            response_types_supported: ['code'],
            response_modes_supported: ['query'],
            grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
            token_endpoint_auth_methods_supported: ['tls_client_auth'],
            tls_client_certificate_bound_access_tokens: true,
            code_challenge_methods_supported: ['S256'],
            authorization_response_iss_parameter_supported: true,
            ui_locales_supported: ['fr', 'en'],
            authorization_details_types_supported: ['payment_initiation'],
          },
        },
      },
    },
  },
});

export const jwksRoute = createRoute({
  method: 'get',
  path: '/jwks',
  tags: ['Discovery'],
  summary: 'Public signing keys (JWK Set)',
  operationId: 'getJwks',
  security: [],
  description:
    'The keys that verify access tokens. Several keys may be published during a rotation; resource servers select by `kid`.',
  responses: {
    200: {
      description: 'The JWK Set; public members only.',
      headers: responseHeaders({ 'Cache-Control': 'public, max-age=300' }),
      content: { 'application/jwk-set+json': { schema: JwkSet } },
    },
  },
});

export interface DiscoveryDeps {
  issuer: string;
  /** The PSU listener's public base URL, when it is not the issuer's. */
  psuBaseUrl?: string;
  endpoints: EndpointPaths;
  grantTypes: readonly string[];
  keys: Signer;
}

export function mountDiscovery(app: OpenAPIHono<AppEnv>, deps: DiscoveryDeps): void {
  const metadata = authorizationServerMetadata(deps.issuer, deps.endpoints, deps.grantTypes, deps.psuBaseUrl);
  app.openapi(metadataRoute, (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    return c.json(metadata as z.infer<typeof Metadata>, 200);
  });
  app.openapi(jwksRoute, (c) => {
    // A cache keeps rotation slow enough that no verifier misses a new key for long.
    return c.json(deps.keys.jwks() as z.infer<typeof JwkSet>, 200, {
      'Content-Type': 'application/jwk-set+json',
      'Cache-Control': 'public, max-age=300',
    });
  });
}
