// The admin listener (ADMIN_PORT, on ADMIN_HOST = 127.0.0.1 by default): what the bank's monitoring
// reads, apart from the TPP and PSU listeners so that it is never reachable from the internet and
// never costs a TLS handshake. Plain HTTP, no authentication: keep it on a local or management address.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { Readiness } from './http/routes/health.ts';
import { listenProblem } from './startup.ts';

export interface AdminDeps {
  readiness: Readiness;
  /** The Prometheus exposition (text format 0.0.4), when metrics are collected. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

export function createAdminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-store');
  });
  app.get('/health/live', (c) => c.json({ status: 'ok' }));
  app.get('/health/ready', async (c) => {
    const result = await deps.readiness();
    return c.json({ status: result.ready ? 'ok' : 'unavailable', checks: result.checks }, result.ready ? 200 : 503);
  });
  if (deps.metrics) {
    const metrics = deps.metrics;
    app.get('/metrics', async (c) => {
      const { contentType, body } = await metrics();
      return c.body(body, 200, { 'Content-Type': contentType });
    });
  }
  app.notFound((c) =>
    c.json({ error: 'not_found', error_description: `No endpoint at ${c.req.method} ${c.req.path}.` }, 404),
  );
  app.onError((err, c) => {
    return c.json({ error: 'server_error', error_description: err.message }, 500);
  });
  return app;
}

export interface AdminListener {
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function startAdminListener(
  app: Hono,
  settings: { port: number; host: string },
  logger: Logger,
): Promise<AdminListener> {
  const server: Server = createServer(getRequestListener(app.fetch));
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        listenProblem(
          err,
          { setting: 'ADMIN_PORT', value: settings.port },
          { setting: 'ADMIN_HOST', value: settings.host },
        ) ?? err,
      ),
    );
    server.listen(settings.port, settings.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  logger.info({ port, host: settings.host }, 'admin listener');
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
