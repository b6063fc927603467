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
  if (!route.hide) app.openAPIRegistry.registerPath(route);
  app.on(route.method.toUpperCase(), route.path, handler);
}

/** Refuses a body that is not a form, or repeats a parameter, before anything else runs. */
export const formEndpoint: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === 'POST') {
    try {
      await readForm(c);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      return errorResponse(c, err);
    }
  }
  await next();
};

/**
 * The PSU pages' forms, parsed once with URLSearchParams for @hono/zod-openapi's form validator,
 * which reads the FormData left here. On its own it parses an urlencoded body through a fetch
 * Response and its formData(): the same WHATWG parser, behind a body stream, for a tenth of a
 * consent POST's CPU. The validator still checks every field; other media types are its own.
 */
export const urlencodedFormData: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === 'POST' && FORM.test(c.req.header('content-type') ?? '')) {
    const formData = new FormData();
    for (const [name, value] of new URLSearchParams(await c.req.text())) formData.append(name, value);
    c.req.bodyCache.formData = formData;
  }
  await next();
};

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/**
 * The answer of a form endpoint: never cached (RFC 6749 §5.1, RFC 7662 §2.2); error answers get
 * the same headers from errors.ts. The headers are one plain object so that the Node adapter writes
 * them as they are, without building a Headers object for each response.
 */
export function noStoreJson(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...NO_STORE } });
}

export function noStoreEmpty(status = 200): Response {
  return new Response(null, { status, headers: NO_STORE });
}
