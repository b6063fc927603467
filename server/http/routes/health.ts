import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { HealthProbe } from '../../protocol/operations/ports.ts';
import type { AppEnv } from '../env.ts';
import { responseHeaders } from '../schemas.ts';

const Health = z.object({ status: z.enum(['ok', 'unavailable']) }).openapi('Health');

export const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  tags: ['Operations'],
  summary: 'Liveness and database check',
  operationId: 'getHealth',
  security: [],
  responses: {
    200: {
      description: 'The server and its database answer.',
      headers: responseHeaders({ 'Cache-Control': 'no-store' }),
      content: { 'application/json': { schema: Health } },
    },
    503: {
      description: 'The database does not answer.',
      headers: responseHeaders({ 'Cache-Control': 'no-store' }),
      content: { 'application/json': { schema: Health } },
    },
  },
});

export function mountHealth(app: OpenAPIHono<AppEnv>, probe: HealthProbe): void {
  app.openapi(healthRoute, async (c) => {
    c.header('Cache-Control', 'no-store');
    try {
      await probe.ping();
      return c.json({ status: 'ok' as const }, 200);
    } catch (err) {
      c.get('logger').error({ err }, 'database health check failed');
      return c.json({ status: 'unavailable' as const }, 503);
    }
  });
}
