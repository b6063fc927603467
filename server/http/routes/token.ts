// The token endpoint (RFC 6749 §3.2) and the revocation endpoint (RFC 7009), over mTLS with
// tls_client_auth (RFC 8705). Handlers only adapt HTTP: the protocol core does the rest.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { authenticateClient } from '../../protocol/client-authentication.ts';
import { OAuthError } from '../../protocol/errors.ts';
import { type RevocationDeps, revokeToken } from '../../protocol/revocation.ts';
import { type TokenDeps, tokenRequest } from '../../protocol/token/index.ts';
import { bodyTooLargeResponse } from '../body.ts';
import type { AppEnv } from '../env.ts';
import { formEndpoint, mountFormRoute, noStoreEmpty, noStoreJson, readForm } from '../form.ts';
import { AuthorizationDetails, errorResponses, noStoreHeaders } from '../schemas.ts';

const TokenRequest = z
  .object({
    // Enums here are documentation: the protocol core answers unsupported_grant_type (RFC 6749 §5.2)
    // for another value, which a schema check would turn into invalid_request.
    grant_type: z.string().openapi({
      description: 'Required.',
      enum: ['authorization_code', 'refresh_token', 'client_credentials'],
      example: 'authorization_code',
    }),
    client_id: z.string().openapi({
      description: 'Required (tls_client_auth): a client registered with the subject DN of the presented certificate.',
    }),
    code: z.string().optional().openapi({ description: 'authorization_code: the code from the redirect.' }),
    redirect_uri: z
      .string()
      .optional()
      .openapi({ description: 'authorization_code: exactly the one of the authorization request.' }),
    code_verifier: z.string().optional().openapi({ description: 'authorization_code: the PKCE verifier (S256).' }),
    refresh_token: z.string().optional().openapi({ description: 'refresh_token: the refresh token.' }),
    scope: z.string().optional().openapi({
      description:
        'refresh_token: a narrower scope than granted (never extended_transaction_history). client_credentials: `pisp` (the default).',
    }),
  })
  .partial()
  .catchall(z.string())
  .openapi('TokenRequest', {
    description: 'Each parameter at most once. Parameters the grant type does not take are ignored (RFC 6749 §3.2).',
    example: {
      grant_type: 'authorization_code',
      client_id: 'tq3Vb2cN9xVhK1xq0yM2lQqB',
      code: 'SplxlOBeZQQYbYS6WxSbIA…',
      redirect_uri: 'https://tpp.example/callback',
      code_verifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
    },
  });

const TokenResponseSchema = z
  .object({
    access_token: z.string().openapi({ description: 'A JWT (RFC 9068, `typ: at+jwt`) bound to the certificate.' }),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    scope: z.string(),
    refresh_token: z.string().optional().openapi({
      description: 'authorization_code for aisp and cbpii; refresh_token only when rotation is configured.',
    }),
    authorization_details: AuthorizationDetails.optional(),
  })
  .openapi('TokenResponse', {
    example: {
      access_token: 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJpc3MiOi…',
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'aisp',
      refresh_token: 'Yq9P4nZx1kLwQ2mT8vB3cA.4fK…',
    },
  });

const RevocationRequest = z
  .object({
    token: z.string().openapi({ description: 'The access token or refresh token. Required.' }),
    token_type_hint: z
      .string()
      .optional()
      .openapi({
        description: 'Not needed (the server tells the tokens apart) and ignored.',
        enum: ['access_token', 'refresh_token'],
      }),
    client_id: z.string().openapi({ description: 'Required (tls_client_auth).' }),
  })
  .partial()
  .catchall(z.string())
  .openapi('RevocationRequest', {
    example: { token: 'Yq9P4nZx1kLwQ2mT8vB3cA.4fK…', client_id: 'tq3Vb2cN9xVhK1xq0yM2lQqB' },
  });

const form = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema } },
});

export const tokenRoute = createRoute({
  method: 'post',
  path: '/token',
  tags: ['Tokens'],
  summary: 'Token endpoint (RFC 6749)',
  description:
    'Authenticated by the QWAC over mutual TLS (`tls_client_auth`, RFC 8705 §2.1). `authorization_code` (PKCE S256) and `refresh_token` for aisp and cbpii, `client_credentials` for pisp. Access tokens are JWTs bound to the certificate (`cnf.x5t#S256`). Responses carry `Cache-Control: no-store`.',
  operationId: 'requestToken',
  security: [{ mutualTLS: [] }],
  request: { body: form(TokenRequest) },
  responses: {
    200: {
      description: 'The tokens.',
      headers: noStoreHeaders,
      content: { 'application/json': { schema: TokenResponseSchema } },
    },
    ...errorResponses({
      400: {
        description:
          'invalid_request (missing or repeated parameter, not a form body), invalid_grant, unauthorized_client, unsupported_grant_type or invalid_scope (RFC 6749 §5.2)',
        example: new OAuthError('invalid_request', 'grant_type: required'),
      },
      401: {
        description:
          'invalid_client: no acceptable QWAC, or client_id unknown or not registered for this certificate and organisation; with WWW-Authenticate',
        example: new OAuthError('invalid_client', 'client certificate rejected: no client certificate was presented', {
          challenge: 'mTLS',
        }),
      },
      413: bodyTooLargeResponse('/token'),
    }),
  },
});

export const revocationRoute = createRoute({
  method: 'post',
  path: '/revoke',
  tags: ['Tokens'],
  summary: 'Revoke a token (RFC 7009)',
  description:
    'A refresh token revokes its grant: the refresh token and every access token issued from it. An access token is revoked alone. Unknown, expired or already revoked tokens get 200. A token issued to another client is refused with 400 `invalid_request` and left untouched (RFC 7009 §2.1).',
  operationId: 'revokeToken',
  security: [{ mutualTLS: [] }],
  request: { body: form(RevocationRequest) },
  responses: {
    200: { description: 'Revoked, or nothing to revoke.', headers: noStoreHeaders },
    ...errorResponses({
      400: {
        description:
          'invalid_request: token missing or repeated, not a form body, or the token belongs to another client',
        example: new OAuthError('invalid_request', 'token: required'),
      },
      401: {
        description:
          'invalid_client: no acceptable QWAC, or client_id unknown or not registered for this certificate; with WWW-Authenticate',
        example: new OAuthError(
          'invalid_client',
          'the client_id is unknown or is not registered for the presented certificate',
          { challenge: 'mTLS' },
        ),
      },
      413: bodyTooLargeResponse('/revoke'),
    }),
  },
});

export function mountToken(
  app: OpenAPIHono<AppEnv>,
  deps: TokenDeps & RevocationDeps & { authenticate: MiddlewareHandler<AppEnv> },
): void {
  for (const path of ['/token', '/revoke']) app.use(path, formEndpoint, deps.authenticate);

  mountFormRoute(app, tokenRoute, async (c) => {
    const params = await readForm(c);
    if (params.client_id) c.set('clientId', params.client_id);
    return noStoreJson(await tokenRequest(deps, c.get('tpp'), params));
  });

  mountFormRoute(app, revocationRoute, async (c) => {
    const params = await readForm(c);
    const client = await authenticateClient(deps.clients, c.get('tpp'), params.client_id);
    c.set('clientId', client.clientId);
    await revokeToken(deps, client, params.token);
    return noStoreEmpty();
  });
}
