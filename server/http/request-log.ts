// One JSON line per request. Only the path is logged, never the query string: authorization
// requests and redirects carry codes and state there.
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv } from './env.ts';

export function requestLog(logger: Logger): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    c.set('logger', logger);
    await next();
    const line: Record<string, unknown> = {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
    };
    if (c.get('clientId')) line.client_id = c.get('clientId');
    if (c.get('errorCode')) line.error = c.get('errorCode');
    if (c.get('errorDetail')) line.error_detail = c.get('errorDetail');
    logger.info(line, 'request');
  };
}
