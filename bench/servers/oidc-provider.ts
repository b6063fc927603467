// node-oidc-provider configured for psd2-oauth's job, as its documentation recommends: mTLS client
// authentication (tls_client_auth by subject DN) and certificate-bound access tokens, client
// credentials, introspection, revocation, dynamic registration, and access tokens for a resource
// server, JWT (`/jwt`) or opaque (`/opaque`) depending on the requested resource. Storage is the
// bundled in-memory adapter: nothing is fsync'd (psd2-oauth commits every token to SQLite, FULL).
import { X509Certificate } from 'node:crypto';
import { createServer, type ServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import process from 'node:process';
import type { TLSSocket } from 'node:tls';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { loadBenchPki } from '../pki.ts';

export const OIDC_RESOURCES = {
  jwt: 'https://api.bank.example/jwt',
  opaque: 'https://api.bank.example/opaque',
} as const;
export const OIDC_CLIENT = { id: 'bench-tpp', redirectUri: 'https://tpp.example/cb' } as const;
export const OIDC_RESOURCE_SERVER = { id: 'bench-rs', secret: 'bench-rs-secret-0123456789abcdef' } as const;

if (import.meta.main) await main();

async function main(): Promise<void> {
  const pki = loadBenchPki(process.env.BENCH_PKI_DIR ?? '');
  // ES256 by default (the reference of issue 8's figures); BENCH_OIDC_ALG=EdDSA for a like-for-like
  // comparison with psd2-oauth's default.
  const alg = process.env.BENCH_OIDC_ALG === 'EdDSA' ? 'EdDSA' : 'ES256';
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const signingKey = { ...(await exportJWK(privateKey)), kid: `bench-${alg}`, alg, use: 'sig' };

  // The peer certificate cannot change on a connection: parse it once per socket, as psd2-oauth does.
  const perSocket = new WeakMap<object, X509Certificate | null>();
  const peerCertificate = (ctx: KoaContextWithOIDC): X509Certificate | undefined => {
    const socket = ctx.socket as TLSSocket;
    let cert = perSocket.get(socket);
    if (cert === undefined) {
      cert = socket.getPeerX509Certificate?.() ?? null;
      perSocket.set(socket, cert);
    }
    return cert ?? undefined;
  };
  // Node's form of the subject ("C=FR\nO=..."), compared as a string.
  const tppSubject = new X509Certificate(pki.tppCertPem).subject;

  const configuration: Configuration = {
    clients: [
      {
        client_id: OIDC_CLIENT.id,
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: tppSubject,
        tls_client_certificate_bound_access_tokens: true,
        grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [OIDC_CLIENT.redirectUri],
        scope: 'aisp cbpii pisp',
      },
      {
        client_id: OIDC_RESOURCE_SERVER.id,
        client_secret: OIDC_RESOURCE_SERVER.secret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    // Its only key is ES256 or EdDSA; the default RS256 would refuse every client.
    clientDefaults: { id_token_signed_response_alg: alg, grant_types: ['authorization_code'] },
    clientAuthMethods: ['tls_client_auth', 'client_secret_basic'],
    scopes: ['aisp', 'cbpii', 'pisp'],
    jwks: { keys: [signingKey as any] },
    cookies: { keys: ['bench-cookie-signing-key-0123456789'] },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // FAPI 2.0 and psd2-oauth's default: no refresh token rotation.
    rotateRefreshToken: false,
    ttl: { AccessToken: 300, ClientCredentials: 300, AuthorizationCode: 60, RefreshToken: 90 * 86_400 },
    features: {
      devInteractions: { enabled: false },
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        certificateBoundAccessTokens: true,
        getCertificate: peerCertificate as any,
        // node:https verified the chain against the CA in the handshake (requestCert + ca).
        certificateAuthorized: (ctx) => (ctx.socket as TLSSocket).authorized,
        certificateSubjectMatches: (ctx, property, expected) =>
          property === 'tls_client_auth_subject_dn' && peerCertificate(ctx)?.subject === expected,
      },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async (_ctx, client) => client.clientAuthMethod !== 'none' },
      revocation: { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OIDC_RESOURCES.jwt,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: 'aisp cbpii pisp',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: resource === OIDC_RESOURCES.opaque ? 'opaque' : 'jwt',
          jwt: { sign: { alg } },
        }),
      },
    },
  };

  const tlsOptions: ServerOptions = {
    cert: pki.serverCertPem,
    key: pki.serverKeyPem,
    ca: pki.caPem,
    requestCert: true,
    rejectUnauthorized: false,
  };
  let provider: Provider | undefined;
  const server = createServer(tlsOptions, (req, res) => {
    if (!provider) return void res.writeHead(503).end();
    // The PSU's login and consent, approved at once: what psd2-oauth's sandbox pages do after a
    // form POST, without rendering a page.
    if (req.url?.startsWith('/interaction/')) {
      approve(provider, req, res).catch((err: Error) => res.writeHead(500).end(err.message));
      return;
    }
    callback(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  provider = new Provider(`https://localhost:${port}`, configuration);
  const callback = provider.callback();

  process.send?.({ port });
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

async function approve(provider: Provider, req: any, res: any): Promise<void> {
  const { params, prompt } = await provider.interactionDetails(req, res);
  if (process.env.BENCH_DEBUG) console.error(JSON.stringify({ prompt, params }));
  const accountId = 'psu-bench';
  const grant = new provider.Grant({ accountId, clientId: String(params.client_id) });
  // Scopes listed in `scopes` are granted as "OIDC" scopes, and for the resource as resource scopes.
  grant.addOIDCScope(String(params.scope));
  grant.addResourceScope(String(params.resource ?? OIDC_RESOURCES.jwt), String(params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } });
}
