// RFC 7591 registration and RFC 7592 management, over mTLS. Handlers only adapt HTTP.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { METADATA_LIMITS } from '../../protocol/client-metadata.ts';
import { OAuthError } from '../../protocol/errors.ts';
import {
  type ClientInformation,
  deleteClient,
  type RegistrationDeps,
  readClient,
  registerClient,
  updateClient,
} from '../../protocol/registration.ts';
import { bodyTooLargeResponse, readJsonObject, unsupportedMediaTypeResponse } from '../body.ts';
import type { AppEnv } from '../env.ts';
import { describeZodError } from '../errors.ts';
import { errorResponses, noStoreHeaders } from '../schemas.ts';

const L = METADATA_LIMITS;
const https = z.string().openapi({ format: 'uri', maxLength: L.uri });
const text = z.string().max(L.text);

const metadataFields = {
  redirect_uris: z.array(https).max(L.redirectUris).optional().openapi({
    description:
      'Required for aisp and cbpii clients; https, a host, no userinfo, no fragment, printable ASCII, written as it parses (matched exactly).',
  }),
  grant_types: z
    .array(z.enum(['authorization_code', 'refresh_token', 'client_credentials']))
    .optional()
    .openapi({
      description: 'Default: what the scopes need (authorization_code + refresh_token, client_credentials for pisp).',
    }),
  // Documented enums only: the protocol core names the field and the reason in invalid_client_metadata.
  response_types: z
    .array(z.string().openapi({ enum: ['code'] }))
    .optional()
    .openapi({ description: '`["code"]` with authorization_code.' }),
  scope: z.string().max(L.scope).optional().openapi({
    description:
      'Space-separated: aisp, extended_transaction_history, cbpii, pisp, within what the certificate roles allow. Default: all of them.',
  }),
  token_endpoint_auth_method: z
    .string()
    .optional()
    .openapi({ description: 'Only `tls_client_auth` (RFC 8705).', enum: ['tls_client_auth'] }),
  tls_client_auth_subject_dn: z
    .string()
    .max(L.subjectDn)
    .optional()
    .openapi({ description: 'Must equal the subject DN of the presented certificate; taken from it when absent.' }),
  client_name: text.optional(),
  logo_uri: https
    .optional()
    .openapi({ description: "https; no `;`, `,` or `'` (it is written into the PSU page's CSP)." }),
  client_uri: https.optional(),
  policy_uri: https.optional(),
  tos_uri: https.optional(),
  contacts: z.array(text).max(L.contacts).optional(),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).max(L.jwksKeys) }).optional(),
  jwks_uri: https.optional(),
  software_id: text.optional(),
  software_version: text.optional(),
};

const LOCALIZED_NOTE =
  'Display fields may be localised with a BCP 47 tag (RFC 7591 §2.2): `client_name#fr`, `logo_uri#en`, …; the PSU pages pick the PSU language and fall back to the plain value. Unknown fields are ignored and not echoed.';

const ClientMetadataRequest = z
  .object(metadataFields)
  .catchall(z.unknown())
  .openapi('ClientMetadata', {
    description: LOCALIZED_NOTE,
    example: {
      redirect_uris: ['https://tpp.example/callback'],
      scope: 'aisp extended_transaction_history',
      client_name: 'Acme Budget',
      'client_name#fr': 'Acme Budget (FR)',
      logo_uri: 'https://tpp.example/logo.png',
      contacts: ['psd2@tpp.example'],
    },
  });

const ClientUpdateRequest = z
  .object({
    client_id: z.string().optional().openapi({ description: 'Required: the client being updated.' }),
    ...metadataFields,
  })
  .catchall(z.unknown())
  .openapi('ClientUpdate', {
    description: `The full metadata that replaces the registered one, with the client_id. ${LOCALIZED_NOTE}`,
  });

const ClientInformationSchema = z
  .object({
    client_id: z.string(),
    client_id_issued_at: z.number().int(),
    registration_access_token: z
      .string()
      .optional()
      .openapi({ description: 'Shown once; a new one after each update (the previous one stops working).' }),
    registration_client_uri: z.string(),
    redirect_uris: z.array(z.string()),
    grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])),
    response_types: z.array(z.literal('code')),
    scope: z.string(),
    token_endpoint_auth_method: z.literal('tls_client_auth'),
    tls_client_auth_subject_dn: z.string(),
    client_name: z.string().optional(),
    logo_uri: z.string().optional(),
    client_uri: z.string().optional(),
    policy_uri: z.string().optional(),
    tos_uri: z.string().optional(),
    contacts: z.array(z.string()).optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
    jwks_uri: z.string().optional(),
    software_id: z.string().optional(),
    software_version: z.string().optional(),
  })
  .catchall(z.string())
  .openapi('ClientInformation', {
    example: {
      client_id: 'tq3Vb2cN9xVhK1xq0yM2lQqB',
      client_id_issued_at: 1795490000,
      registration_access_token: 'Qm9vZ2xlLW5vdC1hLXJlYWwtdG9rZW4tZXhhbXBsZQ',
      registration_client_uri: 'https://localhost:8443/register/tq3Vb2cN9xVhK1xq0yM2lQqB',
      redirect_uris: ['https://tpp.example/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'aisp extended_transaction_history',
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: 'CN=Acme TPP,2.5.4.97=PSDFR-ACPR-12345,O=Acme TPP,C=FR',
      client_name: 'Acme Budget',
      'client_name#fr': 'Acme Budget (FR)',
    },
  });

const ClientIdParam = z.object({
  client_id: z.string().openapi({ param: { name: 'client_id', in: 'path' }, example: 'tq3Vb2cN9xVhK1xq0yM2lQqB' }),
});

/** RFC 7592 §2: the QWAC in the handshake and the registration access token, both. */
const MANAGEMENT_SECURITY = [{ mutualTLS: [], registrationAccessToken: [] }];

const noCertificate = new OAuthError(
  'invalid_client',
  'client certificate rejected: no client certificate was presented',
  { challenge: 'mTLS' },
);

const managementErrors = {
  401: {
    description:
      'invalid_client: no acceptable QWAC (the description says which check failed), or invalid_token: the registration access token is missing, wrong, or the client does not exist',
    example: new OAuthError(
      'invalid_token',
      'the registration access token is missing, invalid or not for this client',
      {
        challenge: 'Bearer',
      },
    ),
  },
  403: {
    description: 'access_denied: the certificate is of another organization',
    example: new OAuthError('access_denied', 'the client certificate belongs to another organization than the client'),
  },
};

const json = (schema: typeof ClientInformationSchema, description: string) => ({
  description,
  headers: noStoreHeaders,
  content: { 'application/json': { schema } },
});

export const registerRoute = createRoute({
  method: 'post',
  path: '/register',
  tags: ['Client registration'],
  summary: 'Register a client (RFC 7591)',
  description:
    'Authenticated by the TPP QWAC over mutual TLS; the scopes and grant types are checked against the PSD2 roles in its QCStatements, and the client is bound to its subject DN and organizationIdentifier.',
  operationId: 'registerClient',
  security: [{ mutualTLS: [] }],
  request: { body: { required: true, content: { 'application/json': { schema: ClientMetadataRequest } } } },
  responses: {
    201: json(ClientInformationSchema, 'The client is registered; keep the registration_access_token.'),
    ...errorResponses({
      400: {
        description: 'invalid_client_metadata or invalid_redirect_uri, naming the field and the reason',
        example: new OAuthError('invalid_client_metadata', 'client_id: issued by the server, must not be sent'),
      },
      401: {
        description: 'invalid_client: no acceptable QWAC; the description says which check failed',
        example: noCertificate,
      },
      413: bodyTooLargeResponse('/register'),
      415: unsupportedMediaTypeResponse,
    }),
  },
});

export const readClientRoute = createRoute({
  method: 'get',
  path: '/register/{client_id}',
  tags: ['Client registration'],
  summary: 'Read a client (RFC 7592)',
  operationId: 'getClient',
  security: MANAGEMENT_SECURITY,
  request: { params: ClientIdParam },
  responses: {
    200: json(ClientInformationSchema, 'The registered metadata.'),
    ...errorResponses(managementErrors),
  },
});

export const updateClientRoute = createRoute({
  method: 'put',
  path: '/register/{client_id}',
  tags: ['Client registration'],
  summary: 'Replace a client’s metadata (RFC 7592)',
  description:
    'The same rules as registration. The registration access token is rotated: the response carries the new one and the old one stops working. A failed update changes nothing.',
  operationId: 'updateClient',
  security: MANAGEMENT_SECURITY,
  request: {
    params: ClientIdParam,
    body: { required: true, content: { 'application/json': { schema: ClientUpdateRequest } } },
  },
  responses: {
    200: json(ClientInformationSchema, 'The new metadata and a new registration_access_token.'),
    ...errorResponses({
      400: {
        description: 'invalid_client_metadata or invalid_redirect_uri',
        example: new OAuthError(
          'invalid_client_metadata',
          'client_id: must be present and equal the client being updated',
        ),
      },
      413: bodyTooLargeResponse('/register/{client_id}'),
      415: unsupportedMediaTypeResponse,
      ...managementErrors,
    }),
  },
});

export const deleteClientRoute = createRoute({
  method: 'delete',
  path: '/register/{client_id}',
  tags: ['Client registration'],
  summary: 'Delete a client (RFC 7592)',
  description: 'Revokes every grant and token of the client; afterwards the client and its tokens are unusable.',
  operationId: 'deleteClient',
  security: MANAGEMENT_SECURITY,
  request: { params: ClientIdParam },
  responses: {
    204: { description: 'Deleted.' },
    ...errorResponses({ ...managementErrors, 413: bodyTooLargeResponse('/register/{client_id}') }),
  },
});

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * The metadata of a POST or PUT: a JSON object (415 for another media type; invalid_client_metadata
 * for what does not parse, nests too deep or fails the schema), read by body.ts rather than by the
 * framework, whose media-type gate and parser answered 500 to valid variants such as
 * `application/json ; charset=utf-8`.
 */
async function metadataBody<T>(c: Context<AppEnv>, schema: z.ZodType<T>): Promise<T> {
  const body = await readJsonObject(c, 'invalid_client_metadata');
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new OAuthError('invalid_client_metadata', describeZodError(parsed.error));
  return parsed.data;
}

export function mountRegistration(
  app: OpenAPIHono<AppEnv>,
  deps: RegistrationDeps & { issuer: string; authenticate: MiddlewareHandler<AppEnv> },
): void {
  const clientUri = (clientId: string) => `${deps.issuer}/register/${encodeURIComponent(clientId)}`;
  const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
  app.openAPIRegistry.registerComponent('securitySchemes', 'registrationAccessToken', {
    type: 'http',
    scheme: 'bearer',
    description:
      'The registration access token returned by `POST /register` (RFC 7592 §2), rotated on each update; sent together with the QWAC.',
  });
  for (const path of ['/register', '/register/*']) app.use(path, deps.authenticate);

  const respond = (info: ClientInformation) => info as z.infer<typeof ClientInformationSchema>;

  app.openAPIRegistry.registerPath(registerRoute);
  app.post(registerRoute.path, async (c) => {
    const metadata = await metadataBody(c, ClientMetadataRequest);
    const info = await registerClient(deps, c.get('tpp'), metadata, clientUri);
    c.set('clientId', info.client_id);
    return c.json(respond(info), 201, noStore);
  });

  app.openapi(readClientRoute, async (c) => {
    const { client_id } = c.req.valid('param');
    const info = await readClient(
      deps,
      c.get('tpp'),
      client_id,
      bearerToken(c.req.header('authorization')),
      clientUri(client_id),
    );
    c.set('clientId', client_id);
    return c.json(respond(info), 200, noStore);
  });

  app.openAPIRegistry.registerPath(updateClientRoute);
  app.put('/register/:client_id', async (c) => {
    const clientId = c.req.param('client_id');
    const token = bearerToken(c.req.header('authorization'));
    const metadata = await metadataBody(c, ClientUpdateRequest);
    const info = await updateClient(deps, c.get('tpp'), clientId, token, metadata, clientUri(clientId));
    c.set('clientId', clientId);
    return c.json(respond(info), 200, noStore);
  });

  app.openapi(deleteClientRoute, async (c) => {
    const { client_id } = c.req.valid('param');
    await deleteClient(deps, c.get('tpp'), client_id, bearerToken(c.req.header('authorization')));
    c.set('clientId', client_id);
    return c.body(null, 204);
  });
}
