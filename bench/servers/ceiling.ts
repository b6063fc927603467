// The ceiling: the same mTLS listener as psd2-oauth (node:https, requestCert) answering a small JSON,
// either bare (`node`) or through a bare Hono app and @hono/node-server (`hono`), as psd2-oauth does.
// The Hono app also has the floor of any token endpoint on this stack: POST /token reads the form
// and signs a JWT of the same size as psd2-oauth's with Ed25519 (its default), and does nothing
// else: no client, no certificate check, no log.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import type { RequestListener } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import process from 'node:process';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { loadBenchPki } from '../pki.ts';

const kind = process.argv[2];
const pki = loadBenchPki(process.env.BENCH_PKI_DIR ?? '');
const body = JSON.stringify({ status: 'ok' });

let listener: RequestListener;
if (kind === 'hono') {
  const app = new Hono();
  app.get('/', (c) => c.json({ status: 'ok' }));
  const { privateKey } = generateKeyPairSync('ed25519');
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'x'.repeat(43), typ: 'at+jwt' })).toString(
    'base64url',
  );
  app.post('/token', async (c) => {
    const form = new URLSearchParams(await c.req.text());
    const iat = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'https://127.0.0.1:8443',
      sub: form.get('client_id'),
      aud: 'https://127.0.0.1:8443/psd2',
      client_id: form.get('client_id'),
      scope: form.get('scope'),
      jti: randomUUID(),
      iat,
      exp: iat + 300,
      cnf: { 'x5t#S256': 'x'.repeat(43) },
    };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const token = `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
    const body = { access_token: token, token_type: 'Bearer', expires_in: 300, scope: claims.scope };
    return c.json(body, 200, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  });
  listener = getRequestListener(app.fetch);
} else {
  listener = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  };
}

const server = createServer(
  { cert: pki.serverCertPem, key: pki.serverKeyPem, requestCert: true, rejectUnauthorized: false },
  listener,
);
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
