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

/** Endpoints a TPP calls with its certificate: on the mTLS listener only. */
const MTLS_ENDPOINTS = [
  'token_endpoint',
  'revocation_endpoint',
  'pushed_authorization_request_endpoint',
  'registration_endpoint',
] as const;

/**
 * `psuBaseUrl` is the origin of the PSU listener when it is not the issuer's: the authorization
 * endpoint is named there, and the endpoints that need the client certificate are listed again in
 * `mtls_endpoint_aliases` (RFC 8705 §5), which is where a client that authenticates with mTLS
 * looks first. There is no certificate-less token endpoint to alias them from: the conventional
 * entries name the mTLS listener too.
 */
export function authorizationServerMetadata(
  issuer: string,
  paths: EndpointPaths,
  grantTypes: readonly string[],
  psuBaseUrl: string = issuer,
) {
  const endpoints: Record<string, string> = {};
  for (const [name, path] of Object.entries(paths)) {
    if (path) endpoints[name] = `${name === 'authorization_endpoint' ? psuBaseUrl : issuer}${path}`;
  }
  const aliases: Record<string, string> = {};
  if (psuBaseUrl !== issuer) {
    for (const name of MTLS_ENDPOINTS) if (endpoints[name]) aliases[name] = endpoints[name];
  }
  return {
    issuer,
    ...endpoints,
    ...(Object.keys(aliases).length > 0 ? { mtls_endpoint_aliases: aliases } : {}),
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
