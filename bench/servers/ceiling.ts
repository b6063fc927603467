// The ceiling: the same mTLS listener as psd2-oauth (node:https, requestCert) answering a small JSON,
// either bare (`node`) or through a bare Hono app and @hono/node-server (`hono`), as psd2-oauth does.
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
