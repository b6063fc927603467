// Request bodies, bounded before anything reads them: a size cap per endpoint enforced while the
// stream is read (Content-Length or chunked alike, 413), media types parsed as RFC 9110 §8.3.1
// writes them (415 for anything else), and JSON nesting measured on the text before JSON.parse or
// any recursive walk sees it.
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { OAuthError, type OAuthErrorCode } from '../protocol/errors.ts';
import type { AppEnv } from './env.ts';
import { errorResponse } from './errors.ts';
import type { ErrorResponse } from './schemas.ts';

/** Bytes. Every endpoint has a cap; the largest legitimate body (client metadata with a JWKS) is a few KiB. */
export const BODY_LIMITS = {
  registration: 64 * 1024,
  par: 32 * 1024,
  form: 16 * 1024,
  /** Everything else: the PSU page posts, and endpoints that take no body at all. */
  other: 16 * 1024,
} as const;

/** Deepest JSON nesting accepted (client metadata needs 4: body, jwks, keys, key). */
export const MAX_JSON_DEPTH = 32;

const LIMIT_BY_PATH: [RegExp, number][] = [
  [/^\/register(\/|$)/, BODY_LIMITS.registration],
  [/^\/par$/, BODY_LIMITS.par],
  [/^\/(token|revoke|introspect)$/, BODY_LIMITS.form],
];

export function bodyLimitFor(path: string): number {
  for (const [pattern, limit] of LIMIT_BY_PATH) if (pattern.test(path)) return limit;
  return BODY_LIMITS.other;
}

function bodyTooLarge(maxSize: number): OAuthError {
  return new OAuthError('invalid_request', `the request body exceeds ${maxSize} bytes`, { status: 413 });
}

function tooLarge(c: Context<AppEnv>, maxSize: number): Response {
  // The rest of the body is never read: the connection closes after this answer.
  c.header('Connection', 'close');
  return errorResponse(c, bodyTooLarge(maxSize));
}

/**
 * The 413 of an operation at `path` (every method but GET and HEAD has a body cap), for its
 * OpenAPI error list: the example is the answer the cap of that path gives.
 */
export function bodyTooLargeResponse(path: string): ErrorResponse {
  const maxSize = bodyLimitFor(path);
  return {
    description: `invalid_request: the body exceeds ${maxSize} bytes (declared or counted while read); the connection is closed after the answer`,
    example: bodyTooLarge(maxSize),
  };
}

const limiters = new Map<number, MiddlewareHandler<AppEnv>>();
function streamLimiter(maxSize: number): MiddlewareHandler<AppEnv> {
  let found = limiters.get(maxSize);
  if (!found) {
    found = bodyLimit({
      maxSize,
      onError: (c) => tooLarge(c as Context<AppEnv>, maxSize),
    }) as MiddlewareHandler<AppEnv>;
    limiters.set(maxSize, found);
  }
  return found;
}

/**
 * The body cap of every request, by path, before authentication or parsing: a declared
 * Content-Length over the cap is refused without reading a byte (Node's parser never delivers more
 * than the declared length), a chunked body by hono/body-limit as soon as the bytes read pass it.
 * The Content-Length case is decided on the header alone, so the body stays with the adapter's
 * fast path (touching the web Request's body would materialise it as a stream).
 */
export const bodyLimits: MiddlewareHandler<AppEnv> = (c, next) => {
  if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
  const maxSize = bodyLimitFor(c.req.path);
  const length = c.req.header('content-length');
  if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
    return Number(length) > maxSize ? Promise.resolve(tooLarge(c, maxSize)) : next();
  }
  return streamLimiter(maxSize)(c, next);
};

export interface MediaType {
  /** `type/subtype`, lower case. */
  essence: string;
  /** Parameter names lower case; quoted values unquoted. */
  parameters: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * RFC 9110 §8.3.1: `type "/" subtype *( OWS ";" OWS [ parameter ] )`, parameter `token "=" (token /
 * quoted-string)`. Anything else (a list, trailing garbage) is not a media type: undefined.
 */
export function parseMediaType(header: string | undefined): MediaType | undefined {
  if (header === undefined) return undefined;
  let rest = header.replace(/^[ \t]+|[ \t]+$/g, '');
  const semicolon = rest.indexOf(';');
  const essence = (semicolon < 0 ? rest : rest.slice(0, semicolon)).replace(/[ \t]+$/, '');
  const [type, subtype, extra] = essence.split('/');
  if (extra !== undefined || !type || !subtype || !TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  const parameters: Record<string, string> = Object.create(null);
  rest = semicolon < 0 ? '' : rest.slice(semicolon);
  while (rest !== '') {
    // rest starts with ';'
    rest = rest.slice(1).replace(/^[ \t]+/, '');
    if (rest === '' || rest.startsWith(';')) continue;
    const eq = rest.indexOf('=');
    if (eq <= 0) return undefined;
    const name = rest.slice(0, eq);
    if (!TOKEN.test(name)) return undefined;
    rest = rest.slice(eq + 1);
    let value: string;
    if (rest.startsWith('"')) {
      const match = /^"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)"/.exec(rest);
      if (!match) return undefined;
      value = (match[1] ?? '').replace(/\\(.)/g, '$1');
      rest = rest.slice(match[0].length);
    } else {
      const end = rest.search(/[ \t;]/);
      value = end < 0 ? rest : rest.slice(0, end);
      if (!TOKEN.test(value)) return undefined;
      rest = end < 0 ? '' : rest.slice(end);
    }
    rest = rest.replace(/^[ \t]+/, '');
    if (rest !== '' && !rest.startsWith(';')) return undefined;
    parameters[name.toLowerCase()] = value;
  }
  return { essence: `${type}/${subtype}`.toLowerCase(), parameters };
}

const NOT_JSON = 'the Content-Type must be application/json';

/** The 415 of an operation whose body is JSON (read with readJsonObject), for its OpenAPI error list. */
export const unsupportedMediaTypeResponse: ErrorResponse = {
  description:
    'invalid_request: the Content-Type is missing, is not application/json (RFC 9110 §8.3.1), or names a charset other than UTF-8',
  example: new OAuthError('invalid_request', NOT_JSON, { status: 415 }),
};

/** `application/json`, with no charset or UTF-8 (RFC 8259 §8.1); otherwise 415. */
export function requireJsonMediaType(header: string | undefined): void {
  const media = parseMediaType(header);
  if (header === undefined || header.trim() === '') {
    throw new OAuthError('invalid_request', 'the request has no Content-Type; send application/json', { status: 415 });
  }
  if (media?.essence !== 'application/json') {
    throw new OAuthError('invalid_request', NOT_JSON, { status: 415 });
  }
  const charset = media.parameters.charset?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8') {
    throw new OAuthError('invalid_request', 'JSON is read as UTF-8 only (RFC 8259 §8.1)', { status: 415 });
  }
}

/** The deepest nesting of arrays and objects in a JSON text, without parsing it (no recursion). */
export function jsonDepth(text: string, stopAt = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x7b || ch === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAt) return deepest;
      }
    } else if (ch === 0x7d || ch === 0x5d) depth--;
  }
  return deepest;
}

/**
 * The JSON object of the request body: 415 for another media type, then `code` (the endpoint's
 * error) for a body that is not JSON, nests deeper than MAX_JSON_DEPTH, or is not an object.
 */
export async function readJsonObject(c: Context<AppEnv>, code: OAuthErrorCode): Promise<Record<string, unknown>> {
  requireJsonMediaType(c.req.header('content-type'));
  const text = await c.req.text();
  if (jsonDepth(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) {
    throw new OAuthError(code, `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new OAuthError(code, 'the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new OAuthError(code, 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}
