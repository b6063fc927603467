// Authorization server metadata (RFC 8414): what a TPP reads to find every endpoint and capability.
// Endpoints are listed only when they are mounted, so the document never advertises what is absent.
const SCOPES = ['aisp', 'extended_transaction_history', 'cbpii', 'pisp'] as const;

export interface EndpointPaths {
  authorization_endpoint?: string;
  token_endpoint?: string;
  registration_endpoint?: string;
  revocation_endpoint?: string;
  introspection_endpoint?: string;
  pushed_authorization_request_endpoint?: string;
  jwks_uri: string;
  service_documentation: string;
}

export function authorizationServerMetadata(issuer: string, paths: EndpointPaths, grantTypes: readonly string[]) {
  const endpoints: Record<string, string> = {};
  for (const [name, path] of Object.entries(paths)) {
    if (path) endpoints[name] = `${issuer}${path}`;
  }
  return {
    issuer,
    ...endpoints,
    scopes_supported: [...SCOPES],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...grantTypes],
    token_endpoint_auth_methods_supported: ['tls_client_auth'],
    tls_client_certificate_bound_access_tokens: true,
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    ui_locales_supported: ['fr', 'en'],
    // RFC 9396 §10: payments registered by the bank's resource server, authorised by the PSU.
    authorization_details_types_supported: ['payment_initiation'],
    ...(paths.revocation_endpoint ? { revocation_endpoint_auth_methods_supported: ['tls_client_auth'] } : {}),
    // Resource servers, not TPPs, introspect: with the credentials of `psd2-oauth resource-server add`.
    ...(paths.introspection_endpoint ? { introspection_endpoint_auth_methods_supported: ['client_secret_basic'] } : {}),
    ...(paths.pushed_authorization_request_endpoint ? { require_pushed_authorization_requests: false } : {}),
  };
}
