// What a PSD2 role entitles a TPP to (ETSI TS 119 495 roles, STET scopes), in one place so that
// registration, authorization and token issuance cannot disagree.

export type Psd2Role = 'PSP_AS' | 'PSP_PI' | 'PSP_AI' | 'PSP_IC';
export type Scope = 'aisp' | 'extended_transaction_history' | 'cbpii' | 'pisp';
export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';

/** ETSI TS 119 495 §5.1: the OID of each role; a certificate's role name must match its OID. */
export const PSD2_ROLE_OIDS: Readonly<Record<Psd2Role, string>> = {
  PSP_AS: '0.4.0.19495.1.1',
  PSP_PI: '0.4.0.19495.1.2',
  PSP_AI: '0.4.0.19495.1.3',
  PSP_IC: '0.4.0.19495.1.4',
};

export const PSD2_ROLES = Object.keys(PSD2_ROLE_OIDS) as Psd2Role[];

/** Listed in the order scopes are reported, so outputs are stable. */
const SCOPES_BY_ROLE: Readonly<Record<Psd2Role, readonly Scope[]>> = {
  PSP_AI: ['aisp', 'extended_transaction_history'],
  PSP_IC: ['cbpii'],
  PSP_PI: ['pisp'],
  // An account servicing PSP is the bank itself: it has nothing to ask of another bank.
  PSP_AS: [],
};

const GRANT_TYPES_BY_SCOPE: Readonly<Record<Scope, readonly GrantType[]>> = {
  aisp: ['authorization_code', 'refresh_token'],
  extended_transaction_history: ['authorization_code', 'refresh_token'],
  cbpii: ['authorization_code', 'refresh_token'],
  pisp: ['client_credentials'],
};

/**
 * Grant types a client may add to the defaults above: a PISP may also take the PSU's authorisation
 * of one payment through the code flow (issue 13), never a refresh token for it.
 */
const OPTIONAL_GRANT_TYPES_BY_SCOPE: Readonly<Record<Scope, readonly GrantType[]>> = {
  aisp: [],
  extended_transaction_history: [],
  cbpii: [],
  pisp: ['authorization_code'],
};

const SCOPE_ORDER: readonly Scope[] = ['aisp', 'extended_transaction_history', 'cbpii', 'pisp'];
const GRANT_TYPE_ORDER: readonly GrantType[] = ['authorization_code', 'refresh_token', 'client_credentials'];

export function psd2RoleFromOid(oid: string): Psd2Role | undefined {
  return PSD2_ROLES.find((role) => PSD2_ROLE_OIDS[role] === oid);
}

export function scopesAllowedForRoles(roles: Iterable<Psd2Role>): Scope[] {
  const allowed = new Set<Scope>();
  for (const role of roles) for (const scope of SCOPES_BY_ROLE[role]) allowed.add(scope);
  return SCOPE_ORDER.filter((scope) => allowed.has(scope));
}

export function grantTypesForScopes(scopes: Iterable<Scope>): GrantType[] {
  const grants = new Set<GrantType>();
  for (const scope of scopes) for (const grant of GRANT_TYPES_BY_SCOPE[scope]) grants.add(grant);
  return GRANT_TYPE_ORDER.filter((grant) => grants.has(grant));
}

/** Every grant type a client with these scopes may register: the defaults and the optional ones. */
export function grantTypesAllowedForScopes(scopes: Iterable<Scope>): GrantType[] {
  const grants = new Set<GrantType>();
  for (const scope of scopes) {
    for (const grant of [...GRANT_TYPES_BY_SCOPE[scope], ...OPTIONAL_GRANT_TYPES_BY_SCOPE[scope]]) grants.add(grant);
  }
  return GRANT_TYPE_ORDER.filter((grant) => grants.has(grant));
}

/**
 * The part of a grant a refresh token may carry forward: history beyond 90 days needs the PSU
 * present (STET), so a refresh never yields extended_transaction_history.
 */
export function scopesGrantableByRefresh(scopes: Iterable<Scope>): Scope[] {
  const kept = new Set(scopes);
  kept.delete('extended_transaction_history');
  return SCOPE_ORDER.filter((scope) => kept.has(scope));
}
