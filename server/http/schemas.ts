// Shared zod schemas that are also OpenAPI components.
import { z } from '@hono/zod-openapi';

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
  .openapi('OAuthError', { example: { error: 'invalid_request', error_description: 'grant_type: required' } });

export function errorResponses<const S extends number>(statuses: Record<S, string>) {
  const out = {} as Record<
    S,
    { description: string; content: { 'application/json': { schema: typeof OAuthErrorBody } } }
  >;
  for (const [status, description] of Object.entries(statuses) as [string, string][]) {
    out[Number(status) as S] = { description, content: { 'application/json': { schema: OAuthErrorBody } } };
  }
  return out;
}
