// TPP quickstart against a local sandbox: a test QWAC, registration, the PSU's consent (played by
// the sandbox), the code exchange, a refresh and a revocation.
//
//   npm start                                  # in one terminal: the sandbox on https://localhost:8443
//   npm run quickstart                         # in another (Deno: npx deno run -A examples/tpp-quickstart.ts)
//
// Settings: BASE_URL (default https://localhost:$PORT, PORT as for the server: 8443), DATA_DIR (the
// sandbox's, default ./data), TPP_DIR (a QWAC made before with `psd2-oauth sandbox-cert --out DIR`;
// made here when absent). With the PSU pages on their own listener (the server's PSU_PORT), BASE_URL
// is still the TPP listener (mTLS): the SDK reads where the pages are from the server's metadata.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { createTppClient } from '@psd2-oauth/sdk';

const baseUrl = process.env.BASE_URL ?? `https://localhost:${process.env.PORT ?? 8443}`;
const redirectUri = 'https://tpp.example/callback';

// 1. A test QWAC with the AISP role, signed by the sandbox CA (`psd2-oauth sandbox-cert`).
const out = process.env.TPP_DIR ?? mkdtempSync(join(tmpdir(), 'tpp-'));
const cli = new URL('../server/bin.ts', import.meta.url).pathname;
const runtime = 'Deno' in globalThis ? [process.execPath, 'run', '-A', cli] : [process.execPath, cli];
if (!process.env.TPP_DIR) {
  execFileSync(
    runtime[0] as string,
    [
      ...runtime.slice(1),
      'sandbox-cert',
      '--org-id',
      'PSDFR-ACPR-12345',
      '--roles',
      'PSP_AI',
      '--name',
      'Acme TPP',
      '--out',
      out,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}
const file = (name: string) => readFileSync(join(out, name), 'utf8');
const tpp = createTppClient({
  baseUrl,
  cert: file('tpp-chain.pem'),
  key: file('tpp-key.pem'),
  ca: file('sandbox-ca.pem'),
});

try {
  // 2. Registration (RFC 7591): the certificate is the only credential.
  const client = await tpp.registerClient({
    redirect_uris: [redirectUri],
    client_name: 'Acme Budget',
    'client_name#fr': 'Acme Budget (FR)',
  });
  console.log('registered', client.client_id, 'scope', client.scope);

  // 3. The PSU's consent: in real life, send the browser to `url` (on the PSU listener when the bank
  //    runs two); the sandbox can play the PSU.
  const { url, state, codeVerifier } = await tpp.authorizationUrl({
    clientId: client.client_id,
    redirectUri,
    scope: 'aisp',
    lang: 'en',
  });
  const callback = await tpp.sandboxConsent(url);
  if (callback.searchParams.get('state') !== state) throw new Error('state mismatch');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback.searchParams.get('error')}`);

  // 4. Tokens, certificate-bound (RFC 8705): only this QWAC can use them.
  const tokens = await tpp.exchangeCode({ clientId: client.client_id, code, redirectUri, codeVerifier });
  console.log('access token expires in', tokens.expires_in, 's; scope', tokens.scope);
  const refreshed = await tpp.refresh({ clientId: client.client_id, refreshToken: tokens.refresh_token as string });
  console.log('refreshed; scope', refreshed.scope);

  // 5. Revoking the refresh token revokes every access token issued from it (RFC 7009).
  await tpp.revokeToken({
    clientId: client.client_id,
    token: tokens.refresh_token as string,
    tokenTypeHint: 'refresh_token',
  });
  console.log('revoked');
} finally {
  await tpp.close();
}
