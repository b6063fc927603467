// Shared zod schemas that are also OpenAPI components, and the response helpers every route uses
// (the conventions are in docs/OPENAPI.md).
import { z } from '@hono/zod-openapi';
import type { OAuthError } from '../protocol/errors.ts';
import { errorBody, errorHeaders } from './errors.ts';

export const OAuthErrorBody = z
  .object({
    error: z
      .string()
      .openapi({ description: 'The registered error code (RFC 6749 §5.2, RFC 7591 §3.2.2, RFC 6750 §3.1).' }),
    error_description: z
      .string()
      .optional()
      .openapi({ description: 'Human-readable explanation; ASCII without `"` or `\\` (RFC 6749 §5.2).' }),
  })
  .openapi('OAuthError');

const HEADER_DESCRIPTIONS: Record<string, string> = {
  'Cache-Control':
    'Whether and how long the answer may be cached: `no-store` for tokens, credentials and errors (RFC 6749 §5.1).',
  Pragma: '`no-cache`, for HTTP/1.0 caches.',
  'WWW-Authenticate': 'The scheme to authenticate with and the error (RFC 6750 §3, RFC 9110 §11.6.1).',
};

/** Response headers for the OpenAPI document, each with the value the server sends as example. */
export function responseHeaders(headers: Record<string, string>) {
  const out: Record<string, { description: string; schema: { type: 'string' }; example: string }> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = { description: HEADER_DESCRIPTIONS[name] ?? name, schema: { type: 'string' }, example: value };
  }
  return out;
}

/** The `Cache-Control: no-store` and `Pragma: no-cache` headers of an answer carrying credentials. */
export const noStoreHeaders = responseHeaders({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });

export interface ErrorResponse {
  /** Every error code this status can carry on this operation, and when. */
  description: string;
  /**
   * One error the server really answers with this status on this operation: its body and headers
   * become the example (test/openapi/error-examples.test.ts sends the request that produces it).
   */
  example: OAuthError;
}

/**
 * The error responses of an operation: the OAuthError body, its headers (Cache-Control, Pragma,
 * and WWW-Authenticate on 401) and one example built by the same code that builds the answer.
 * An example whose code belongs to another status is a mistake caught when the route is defined.
 */
export function errorResponses<const S extends number>(statuses: Record<S, ErrorResponse>) {
  const out = {} as Record<
    S,
    {
      description: string;
      headers: ReturnType<typeof responseHeaders>;
      content: { 'application/json': { schema: typeof OAuthErrorBody; example: ReturnType<typeof errorBody> } };
    }
  >;
  for (const [key, spec] of Object.entries(statuses) as [string, ErrorResponse][]) {
    const status = Number(key);
    if (spec.example.status !== status) {
      throw new Error(`error example ${spec.example.code} answers ${spec.example.status}, declared under ${status}`);
    }
    out[status as S] = {
      description: spec.description,
      headers: responseHeaders(errorHeaders(spec.example)),
      content: { 'application/json': { schema: OAuthErrorBody, example: errorBody(spec.example) } },
    };
  }
  return out;
}

const IbanAccount = z.object({ iban: z.string() });

/** RFC 9396 `payment_initiation` as granted: in the token response, the JWT and introspection. */
export const AuthorizationDetails = z
  .array(
    z.object({
      type: z.literal('payment_initiation'),
      actions: z.array(z.enum(['initiate', 'cancel'])).openapi({ description: '`["initiate"]` or `["cancel"]`.' }),
      identifier: z.string().openapi({ description: 'The payment authorization id.' }),
      instructedAmount: z.object({ amount: z.string(), currency: z.string() }),
      creditorName: z.string(),
      creditorAccount: IbanAccount,
      debtorAccount: IbanAccount.optional().openapi({ description: 'The account the PSU chose (RFC 9396 §7.1).' }),
      remittanceInformation: z.string().optional(),
      requestedExecutionDate: z.string().optional(),
      payment_hash: z.string().openapi({
        description: 'base64url(SHA-256(RFC 8785 canonical JSON)) of the payment as registered: compare it with yours.',
      }),
    }),
  )
  .openapi('AuthorizationDetails', { description: 'Scope pisp: the one payment the PSU authorised.' });
