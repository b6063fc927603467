// One JSON line per request, and a request id in every line of that request. The id comes from
// X-Request-Id when a trusted proxy (TRUSTED_PROXIES) sent it, otherwise it is generated; it is
// returned in X-Request-Id either way. Only the path is logged, never the query string
// (authorization requests and redirects carry codes and state there), nor any header or body.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { TrustedProxies } from './client-certificate.ts';
import type { AppEnv } from './env.ts';

/** What a proxy may send as a request id: bounded, printable, nothing a log parser could trip on. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

const current = new AsyncLocalStorage<Logger>();

/** The logger of the request being served (with its request id), for code that has no context. */
export function requestLogger(): Logger | undefined {
  return current.getStore();
}

export function requestLog(logger: Logger, trustedProxies: TrustedProxies): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const offered = c.req.header('x-request-id');
    const peer = c.env?.incoming?.socket?.remoteAddress;
    const requestId =
      offered && REQUEST_ID.test(offered) && peer && trustedProxies.matches(peer) ? offered : crypto.randomUUID();
    const log = logger.child({ request_id: requestId });
    c.set('logger', log);
    await current.run(log, next);
    try {
      c.res.headers.set('X-Request-Id', requestId);
    } catch {
      // An immutable response (a static asset's): the id is still in the log.
    }
    const status = c.res.status;
    const line: Record<string, unknown> = {
      method: c.req.method,
      path: c.req.path,
      status,
      duration_ms: Math.round((performance.now() - started) * 100) / 100,
    };
    const clientId = c.get('clientId');
    if (clientId) line.client_id = clientId;
    const tpp = c.get('tpp');
    if (tpp) {
      line.tpp_thumbprint = tpp.thumbprint;
      line.tpp_organization = tpp.organizationIdentifier;
    }
    const error = c.get('errorCode');
    if (error) {
      line.error = error;
      // What the client was told, so that support can tell a TPP why it was refused.
      if (status < 500) line.error_description = c.get('errorDescription');
      const detail = c.get('errorDetail');
      if (detail) line.error_detail = detail;
    }
    if (status >= 500) log.error(line, 'request');
    else log.info(line, 'request');
  };
}
