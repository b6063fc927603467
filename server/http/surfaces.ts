// Which listener serves which route. The PSU's browser reaches the pages on a listener that never
// asks for a client certificate; TPPs and the bank's back end reach the APIs on the mTLS listener.
// A route served on the wrong listener is 404, as if it did not exist there.
import type { MiddlewareHandler } from 'hono';
import { OAuthError } from '../protocol/errors.ts';
import type { AppEnv } from './env.ts';

/** `psu`: pages and their assets; `tpp`: every API; `shared`: metadata, keys and health, on both. */
export type Surface = 'psu' | 'tpp' | 'shared';

const PSU_PATHS = [/^\/authorize$/, /^\/[a-z]{2}\/authorize(\/|$)/, /^\/[a-z]{2}\/permissions(\/|$)/, /^\/assets\//];
const SHARED_PATHS = [/^\/\.well-known\/oauth-authorization-server$/, /^\/jwks$/, /^\/health(\/|$)/];

export function surfaceOf(path: string): Surface {
  if (PSU_PATHS.some((p) => p.test(path))) return 'psu';
  if (SHARED_PATHS.some((p) => p.test(path))) return 'shared';
  return 'tpp';
}

/** 404 for a route of the other listener; requests without a listener role (one listener) pass. */
export function listenerGate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const role = c.env?.listener;
    if (role && role !== 'all') {
      const surface = surfaceOf(c.req.path);
      if (surface !== 'shared' && surface !== role) {
        throw new OAuthError('not_found', `No endpoint at ${c.req.method} ${c.req.path} on this listener.`);
      }
    }
    await next();
  };
}
