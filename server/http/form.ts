// application/x-www-form-urlencoded bodies for the OAuth endpoints (RFC 6749 §3.2, RFC 7009 §2.1,
// RFC 7662 §2.1), read here rather than by the framework: another media type, or a parameter sent
// twice (RFC 6749 §3.2), is invalid_request before any handler runs.
import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import type { Context, Handler, MiddlewareHandler } from 'hono';
import { OAuthError } from '../protocol/errors.ts';
import type { AppEnv } from './env.ts';
import { errorResponse } from './errors.ts';

const FORM = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/** The parameters of a form body, each once. Throws invalid_request otherwise. */
export async function readForm(c: Context<AppEnv>): Promise<Record<string, string>> {
  const parsed = c.get('form');
  if (parsed) return parsed;
  if (!FORM.test(c.req.header('content-type') ?? '')) {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const params: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(await c.req.text())) {
    if (Object.hasOwn(params, name)) throw new OAuthError('invalid_request', `${name}: repeated parameter`);
    params[name] = value;
  }
  c.set('form', params);
  return params;
}

/**
 * Mounts a form endpoint: described in the OpenAPI document by its route like every other, but
 * served without @hono/zod-openapi's body validator. Every parameter of these forms is an optional
 * string, so the validator checked nothing readForm does not, while it parsed the body a second time
 * through a Response and FormData: a fifth of the token endpoint's CPU per request.
 */
export function mountFormRoute(app: OpenAPIHono<AppEnv>, route: RouteConfig, handler: Handler<AppEnv>): void {
  app.openAPIRegistry.registerPath(route);
  app.on(route.method.toUpperCase(), route.path, handler);
}

/** Checks the body before the route's validator sees it, and marks every answer uncacheable. */
export const formEndpoint: MiddlewareHandler<AppEnv> = async (c, next) => {
  let refused: OAuthError | undefined;
  if (c.req.method === 'POST') {
    await readForm(c).catch((err: unknown) => {
      if (!(err instanceof OAuthError)) throw err;
      refused = err;
    });
  }
  if (refused) c.res = errorResponse(c, refused);
  else await next();
  c.res.headers.set('Cache-Control', 'no-store');
  c.res.headers.set('Pragma', 'no-cache');
};
