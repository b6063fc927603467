// Liveness and readiness, on the main listeners and on the admin listener (server/admin.ts).
// Liveness says the process serves requests (restart it when not); readiness says it can do its job
// (send it traffic when so): the database answers a read and commits a write, every migration is
// applied, the file is not corrupt, a signing key is active.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { CheckResult, HealthProbe } from '../../protocol/operations/ports.ts';
import type { Signer } from '../../protocol/signer.ts';
import type { AppEnv } from '../env.ts';
import { responseHeaders } from '../schemas.ts';

export interface ReadinessReport {
  ready: boolean;
  checks: {
    database_read: CheckResult;
    database_write: CheckResult;
    migrations: CheckResult;
    database_integrity: CheckResult;
    signing_key: CheckResult;
  };
}

export type Readiness = () => Promise<ReadinessReport>;

export function createReadiness(probe: HealthProbe, keys: Pick<Signer, 'active' | 'jwks'>): Readiness {
  return async () => {
    let database: Awaited<ReturnType<HealthProbe['readiness']>>;
    try {
      database = await probe.readiness();
    } catch (err) {
      const failed = `failed: ${err instanceof Error ? err.message : String(err)}` as const;
      database = { read: failed, write: failed, migrations: failed, integrity: failed };
    }
    const active = keys.active().kid;
    const signing: CheckResult =
      active && keys.jwks().keys.some((k) => k.kid === active) ? 'ok' : 'failed: no active signing key';
    const checks = {
      database_read: database.read,
      database_write: database.write,
      migrations: database.migrations,
      database_integrity: database.integrity,
      signing_key: signing,
    };
    return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
  };
}

const Status = z.enum(['ok', 'unavailable']);
const Health = z.object({ status: Status }).openapi('Health');
const Check = z.string().openapi({ description: '`ok`, or `failed: ` and the reason (an error code).', example: 'ok' });
const Readiness = z
  .object({
    status: Status,
    checks: z.object({
      database_read: Check,
      database_write: Check,
      migrations: Check,
      database_integrity: Check,
      signing_key: Check,
    }),
  })
  .openapi('Readiness');

const noStore = responseHeaders({ 'Cache-Control': 'no-store' });

export const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  tags: ['Operations'],
  summary: 'Readiness, short form',
  description: 'The readiness checks of `/health/ready` without their detail (kept for existing probes).',
  operationId: 'getHealth',
  security: [],
  responses: {
    200: { description: 'Ready.', headers: noStore, content: { 'application/json': { schema: Health } } },
    503: { description: 'Not ready.', headers: noStore, content: { 'application/json': { schema: Health } } },
  },
});

export const livenessRoute = createRoute({
  method: 'get',
  path: '/health/live',
  tags: ['Operations'],
  summary: 'Liveness: the process serves requests',
  operationId: 'getLiveness',
  security: [],
  responses: {
    200: {
      description: 'The process serves requests.',
      headers: noStore,
      content: { 'application/json': { schema: Health } },
    },
  },
});

export const readinessRoute = createRoute({
  method: 'get',
  path: '/health/ready',
  tags: ['Operations'],
  summary: 'Readiness: database read and write, migrations, integrity, an active signing key',
  operationId: 'getReadiness',
  security: [],
  responses: {
    200: {
      description: 'Every check passed.',
      headers: noStore,
      content: { 'application/json': { schema: Readiness } },
    },
    503: {
      description: 'A check failed: each one says `ok` or why it failed.',
      headers: noStore,
      content: { 'application/json': { schema: Readiness } },
    },
  },
});

export function mountHealth(app: OpenAPIHono<AppEnv>, readiness: Readiness): void {
  const report = async (log: (failed: ReadinessReport) => void) => {
    const result = await readiness();
    if (!result.ready) log(result);
    return result;
  };
  app.openapi(livenessRoute, (c) => {
    c.header('Cache-Control', 'no-store');
    return c.json({ status: 'ok' as const }, 200);
  });
  app.openapi(readinessRoute, async (c) => {
    c.header('Cache-Control', 'no-store');
    const result = await report((r) => c.get('logger').error({ checks: r.checks }, 'not ready'));
    return result.ready
      ? c.json({ status: 'ok' as const, checks: result.checks }, 200)
      : c.json({ status: 'unavailable' as const, checks: result.checks }, 503);
  });
  app.openapi(healthRoute, async (c) => {
    c.header('Cache-Control', 'no-store');
    const result = await report((r) => c.get('logger').error({ checks: r.checks }, 'not ready'));
    return result.ready ? c.json({ status: 'ok' as const }, 200) : c.json({ status: 'unavailable' as const }, 503);
  });
}
