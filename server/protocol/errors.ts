// The one error type of the protocol core. `code` is the registered OAuth error code; `description`
// is safe to show a caller; `detail` is for the log only. Only server/http/errors.ts turns it into a
// response.

/** RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2, RFC 7009 §2.2.1, RFC 9396 §5, plus server_error. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'unsupported_token_type'
  | 'not_found'
  | 'method_not_allowed'
  /** RFC 9396 §5. */
  | 'invalid_authorization_details'
  /** A state conflict on the payment back channel (a payment registered differently, consumed twice). */
  | 'conflict';

const DEFAULT_STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  access_denied: 403,
  unsupported_response_type: 400,
  server_error: 500,
  temporarily_unavailable: 503,
  invalid_token: 401,
  insufficient_scope: 403,
  invalid_redirect_uri: 400,
  invalid_client_metadata: 400,
  unsupported_token_type: 400,
  not_found: 404,
  method_not_allowed: 405,
  invalid_authorization_details: 400,
  conflict: 409,
};

export interface OAuthErrorOptions {
  status?: number;
  /** Private detail for the log; never sent. */
  detail?: string;
  /** The authentication scheme to challenge with on 401 (`WWW-Authenticate`). */
  challenge?: 'mTLS' | 'Bearer' | 'Basic';
  cause?: unknown;
}

export class OAuthError extends Error {
  override name = 'OAuthError';
  readonly code: OAuthErrorCode;
  readonly description: string;
  readonly status: number;
  readonly detail: string | undefined;
  readonly challenge: OAuthErrorOptions['challenge'];

  constructor(code: OAuthErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(`${code}: ${description}`, { cause: options.cause });
    this.code = code;
    this.description = description;
    this.status = options.status ?? DEFAULT_STATUS[code];
    this.detail = options.detail;
    this.challenge = options.challenge;
  }
}
