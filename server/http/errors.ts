// The only place where an OAuthError, a validation failure or an unexpected exception becomes an
// HTTP response. Anything unexpected is `server_error` with nothing of its internals.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { OAuthError, type OAuthErrorCode } from '../protocol/errors.ts';
import type { AppEnv } from './env.ts';

/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
export function sanitizeDescription(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/["]/g, "'")
    .replace(/\\/g, '/')
    .replace(/[^\x20-\x7e]/g, '?');
}

export function errorBody(error: OAuthError): { error: OAuthErrorCode; error_description: string } {
  return { error: error.code, error_description: sanitizeDescription(error.description) };
}

/** The headers of an error answer; the OpenAPI document's error examples are built with it too. */
export function errorHeaders(error: OAuthError): Record<string, string> {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
  if (error.status === 401 || error.challenge) {
    const scheme = error.challenge ?? 'mTLS';
    const description = sanitizeDescription(error.description);
    // tls_client_auth has no registered HTTP scheme; `mTLS` tells the client what to present.
    headers['WWW-Authenticate'] =
      `${scheme} realm="psd2-oauth", error="${error.code}", error_description="${description}"`;
  }
  return headers;
}

export function errorResponse(c: Context<AppEnv>, error: OAuthError): Response {
  c.set('errorCode', error.code);
  c.set('errorDescription', error.description);
  if (error.detail) c.set('errorDetail', error.detail);
  return c.json(errorBody(error), error.status as ContentfulStatusCode, errorHeaders(error));
}

/** Describes a zod failure as `field: reason` lines a caller can act on. */
export function describeZodError(error: ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/**
 * Builds the validation hook of a route: a zod failure becomes the OAuth error of that endpoint
 * (invalid_request for most, invalid_client_metadata for registration), never a framework default.
 * It throws, so the one error handler serialises it like every other OAuthError.
 */
export function validationHook(code: OAuthErrorCode = 'invalid_request') {
  return (result: { success: true } | { success: false; error: ZodError }): undefined => {
    if (!result.success) throw new OAuthError(code, describeZodError(result.error));
    return undefined;
  };
}

export function handleError(err: unknown, c: Context<AppEnv>): Response {
  if (err instanceof OAuthError) return errorResponse(c, err);
  // Hono's body parsers throw HTTPException 400 on a body that does not parse, @hono/zod-openapi's
  // media-type gate 415: a client's mistake keeps its status and gets the OAuth shape.
  if (err instanceof HTTPException && err.status >= 400 && err.status < 500) {
    const description =
      err.status === 415 ? 'unsupported Content-Type for this endpoint' : 'the request body could not be parsed';
    return errorResponse(c, new OAuthError('invalid_request', description, { status: err.status }));
  }
  c.get('logger')?.error({ err }, 'unexpected error');
  return errorResponse(c, new OAuthError('server_error', 'The server could not complete the request.'));
}
