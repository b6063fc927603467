// Token introspection (RFC 7662) for the bank's resource servers, with HTTP Basic credentials
// (RFC 6749 §2.3.1) from `psd2-oauth resource-server add`. TPPs cannot introspect.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { OAuthError } from '../../protocol/errors.ts';
import { authenticateResourceServer, type IntrospectionDeps, introspect } from '../../protocol/introspection.ts';
import type { ResourceServerStore } from '../../protocol/token/ports.ts';
import { bodyTooLargeResponse } from '../body.ts';
import type { AppEnv } from '../env.ts';
import { formEndpoint, mountFormRoute, noStoreJson, readForm } from '../form.ts';
import { AuthorizationDetails, errorResponses, noStoreHeaders } from '../schemas.ts';

const IntrospectionRequest = z
  .object({
    token: z.string().openapi({ description: 'The access token. Required.' }),
    token_type_hint: z
      .string()
      .optional()
      .openapi({
        description: 'Ignored: only access tokens are introspected.',
        enum: ['access_token', 'refresh_token'],
      }),
  })
  .partial()
  .catchall(z.string())
  .openapi('IntrospectionRequest', { example: { token: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJpc3MiOi…' } });

const IntrospectionResponseSchema = z
  .object({
    active: z.boolean(),
    scope: z.string().optional(),
    client_id: z.string().optional(),
    sub: z.string().optional().openapi({ description: 'The PSU, or the client for client_credentials.' }),
    exp: z.number().int().optional(),
    iat: z.number().int().optional(),
    iss: z.string().optional(),
    aud: z.string().optional(),
    jti: z.string().optional(),
    token_type: z.literal('Bearer').optional(),
    cnf: z
      .object({ 'x5t#S256': z.string() })
      .optional()
      .openapi({ description: 'RFC 8705 §3: the resource server compares it with the presented certificate.' }),
    consent_id: z.string().optional(),
    account_ids: z.array(z.string()).optional(),
    authorization_details: AuthorizationDetails.optional(),
  })
  .openapi('IntrospectionResponse', {
    description:
      'An inactive token (revoked, expired, unknown, client deleted, consent ended) is exactly `{"active": false}`.',
    example: {
      active: true,
      scope: 'aisp',
      client_id: 'tq3Vb2cN9xVhK1xq0yM2lQqB',
      sub: 'psu-7c1e',
      exp: 1795490300,
      iat: 1795490000,
      iss: 'https://localhost:8443',
      aud: 'https://localhost:8443/psd2',
      jti: 'm1Zk3Yb0XQe7cD2fG9hJ4w',
      token_type: 'Bearer',
      cnf: { 'x5t#S256': 'bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2' },
      consent_id: 'c-41f2',
      account_ids: ['acc-1', 'acc-2'],
    },
  });

export const introspectionRoute = createRoute({
  method: 'post',
  path: '/introspect',
  tags: ['Tokens'],
  summary: 'Introspect an access token (RFC 7662)',
  description:
    'For the bank’s resource servers, authenticated with HTTP Basic (`client_secret_basic`). Sees a revocation at once, unlike local validation with `/jwks`.',
  operationId: 'introspectToken',
  security: [{ resourceServerBasic: [] }],
  request: {
    body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: IntrospectionRequest } } },
  },
  responses: {
    200: {
      description: 'The token’s state.',
      headers: noStoreHeaders,
      content: { 'application/json': { schema: IntrospectionResponseSchema } },
    },
    ...errorResponses({
      400: {
        description: 'invalid_request: token missing or repeated, or not a form body',
        example: new OAuthError('invalid_request', 'token: required'),
      },
      401: {
        description: 'invalid_client: missing or wrong resource server credentials; with WWW-Authenticate: Basic',
        example: new OAuthError('invalid_client', 'resource server authentication failed', { challenge: 'Basic' }),
      },
      413: bodyTooLargeResponse('/introspect'),
    }),
  },
});

/** RFC 6749 §2.3.1: both halves are form-urlencoded before being joined and base64-encoded. */
export function basicCredentials(header: string | undefined): { clientId: string; secret: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return clientId && secret ? { clientId, secret } : undefined;
}

function formDecode(s: string): string | undefined {
  if (!/[%+]/.test(s)) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

export function mountIntrospection(
  app: OpenAPIHono<AppEnv>,
  deps: IntrospectionDeps & { resourceServers: Pick<ResourceServerStore, 'find'> },
): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'resourceServerBasic', {
    type: 'http',
    scheme: 'basic',
    description: 'Resource server credentials from `psd2-oauth resource-server add NAME`.',
  });
  app.use('/introspect', formEndpoint);
  mountFormRoute(app, introspectionRoute, async (c) => {
    const server = await authenticateResourceServer(
      deps.resourceServers,
      basicCredentials(c.req.header('authorization')),
    );
    c.set('clientId', server.clientId);
    const params = await readForm(c);
    return noStoreJson(await introspect(deps, params.token));
  });
}
