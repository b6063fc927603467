// RFC 7591 §2 client metadata, checked against the TPP's certificate: what a TPP may register is
// decided by its PSD2 roles (scope-policy.ts), and its certificate binding (RFC 8705 §2.1.2) can
// only be the certificate it presents.
import { MAX_URI_LENGTH, parseClientUri } from './client-uri.ts';
import { OAuthError } from './errors.ts';
import {
  type GrantType,
  grantTypesAllowedForScopes,
  grantTypesForScopes,
  type Scope,
  scopesAllowedForRoles,
} from './scope-policy.ts';
import type { TppIdentity } from './tpp-identity.ts';

/** The display fields that may carry a BCP 47 language tag (RFC 7591 §2.2): `client_name#fr`. */
export const LOCALIZABLE_FIELDS = ['client_name', 'logo_uri', 'client_uri', 'policy_uri', 'tos_uri'] as const;
export type LocalizableField = (typeof LOCALIZABLE_FIELDS)[number];
const URI_FIELDS = new Set<string>(['logo_uri', 'client_uri', 'policy_uri', 'tos_uri']);

/**
 * Bounds on what a client may register: every value is stored, returned and shown on PSU pages, so
 * none may be unbounded (the request body is capped as well, by the HTTP layer).
 */
export const METADATA_LIMITS = {
  uri: MAX_URI_LENGTH,
  /** client_name and its localised forms, software_id, software_version, each contact. */
  text: 256,
  subjectDn: 1024,
  scope: 256,
  redirectUris: 20,
  contacts: 10,
  jwksKeys: 10,
  /** Localised forms of one display field (`client_name#fr`, …). */
  languages: 20,
} as const;

/** C0 and C1 controls, and the bidirectional formatting characters that can reorder a name on a page. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
export const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function checkText(field: string, value: unknown, max: number = METADATA_LIMITS.text): string {
  if (typeof value !== 'string' || value.trim() === '') invalid(field, 'must be a non-empty string');
  if (value.length > max) invalid(field, `is longer than ${max} characters`);
  if (UNSAFE_TEXT.test(value)) invalid(field, 'must not contain control or bidirectional formatting characters');
  return value;
}

function checkArray<T>(field: string, value: T[] | undefined, max: number): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) invalid(field, 'must be an array');
  if (value.length > max) invalid(field, `has more than ${max} entries`);
  return value;
}

/** BCP 47 in the shape RFC 5646 allows (language, optional script, region, variants). */
const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|\d{3}))?(-([A-Za-z\d]{5,8}|\d[A-Za-z\d]{3}))*$/;

/** The metadata of a registered client, as stored and as returned (RFC 7591 §3.2.1). */
export interface ClientMetadata {
  redirect_uris: string[];
  grant_types: GrantType[];
  response_types: 'code'[];
  scope: string;
  token_endpoint_auth_method: 'tls_client_auth';
  tls_client_auth_subject_dn: string;
  contacts?: string[];
  jwks?: { keys: Record<string, unknown>[] };
  jwks_uri?: string;
  software_id?: string;
  software_version?: string;
  /** client_name, logo_uri, … and their `#tag` forms. */
  [localized: `${LocalizableField}${string}`]: string | undefined;
}

/** What the HTTP layer hands over once JSON types are checked; unknown fields are already gone. */
export interface ClientMetadataInput {
  redirect_uris?: string[];
  grant_types?: string[];
  response_types?: string[];
  scope?: string;
  token_endpoint_auth_method?: string;
  tls_client_auth_subject_dn?: string;
  contacts?: string[];
  jwks?: { keys: Record<string, unknown>[] };
  jwks_uri?: string;
  software_id?: string;
  software_version?: string;
  [other: string]: unknown;
}

export interface MetadataPolicy {
  /** Sandbox mode accepts http://localhost redirect URIs for a TPP developer's machine. */
  allowLocalhostRedirects: boolean;
}

const SCOPE_NAMES = new Set<string>(['aisp', 'extended_transaction_history', 'cbpii', 'pisp']);

function invalid(field: string, reason: string): never {
  throw new OAuthError('invalid_client_metadata', `${field}: ${reason}`);
}

/**
 * Validates submitted metadata against the presenting TPP's certificate and fills the defaults.
 * Throws OAuthError invalid_client_metadata or invalid_redirect_uri naming the field and reason.
 */
export function checkClientMetadata(
  input: ClientMetadataInput,
  tpp: TppIdentity,
  policy: MetadataPolicy,
): ClientMetadata {
  const authMethod = input.token_endpoint_auth_method ?? 'tls_client_auth';
  if (authMethod !== 'tls_client_auth') {
    invalid('token_endpoint_auth_method', `only tls_client_auth is supported (RFC 8705), not ${authMethod}`);
  }

  if (input.tls_client_auth_subject_dn !== undefined) {
    checkText('tls_client_auth_subject_dn', input.tls_client_auth_subject_dn, METADATA_LIMITS.subjectDn);
  }
  if (input.scope !== undefined && input.scope.length > METADATA_LIMITS.scope) {
    invalid('scope', `is longer than ${METADATA_LIMITS.scope} characters`);
  }
  if (input.tls_client_auth_subject_dn !== undefined && !sameDn(input.tls_client_auth_subject_dn, tpp.subjectDn)) {
    invalid('tls_client_auth_subject_dn', 'must equal the subject DN of the certificate presented in this request');
  }

  const allowed = scopesAllowedForRoles(tpp.roles);
  if (allowed.length === 0) {
    invalid('scope', `the certificate's PSD2 roles (${tpp.roles.join(', ')}) allow no scope of this server`);
  }
  // Omitted scope: everything the roles allow, narrowed to what the requested grant types serve.
  const scopes =
    input.scope !== undefined
      ? parseScope(input.scope)
      : input.grant_types === undefined
        ? allowed
        : allowed.filter((s) => grantTypesForScopes([s]).some((g) => input.grant_types?.includes(g)));
  if (scopes.length === 0) invalid('grant_types', `none of them serves a scope the roles allow (${allowed.join(' ')})`);
  for (const scope of scopes) {
    if (!allowed.includes(scope)) {
      invalid('scope', `${scope} is not allowed by the certificate's PSD2 roles (${tpp.roles.join(', ')})`);
    }
  }
  if (scopes.includes('extended_transaction_history') && !scopes.includes('aisp')) {
    invalid('scope', 'extended_transaction_history extends aisp and needs it');
  }

  const fitting = grantTypesAllowedForScopes(scopes);
  const grantTypes =
    input.grant_types === undefined ? grantTypesForScopes(scopes) : unique('grant_types', input.grant_types);
  for (const grant of grantTypes) {
    if (!(fitting as string[]).includes(grant)) {
      invalid('grant_types', `${grant} does not fit the scopes ${scopes.join(' ')} (allowed: ${fitting.join(', ')})`);
    }
  }
  if (grantTypes.length === 0) invalid('grant_types', 'must not be empty');
  if (grantTypes.includes('refresh_token') && !grantTypes.includes('authorization_code')) {
    invalid('grant_types', 'refresh_token needs authorization_code');
  }
  const usesCode = grantTypes.includes('authorization_code');
  const hasPisp = scopes.includes('pisp');
  if (hasPisp && !grantTypes.includes('client_credentials')) {
    invalid('grant_types', 'the pisp scope is obtained with client_credentials, which is missing');
  }
  if (scopes.some((s) => s !== 'pisp') && !usesCode) {
    invalid('grant_types', `${scopes.filter((s) => s !== 'pisp').join(' ')} needs authorization_code`);
  }

  const responseTypes = input.response_types === undefined ? (usesCode ? ['code'] : []) : input.response_types;
  for (const type of responseTypes) {
    if (type !== 'code') invalid('response_types', `only code is supported, not ${type}`);
  }
  if (usesCode && !responseTypes.includes('code')) {
    invalid('response_types', 'authorization_code needs the code response type');
  }
  if (!usesCode && responseTypes.length > 0) {
    invalid('response_types', 'the code response type needs the authorization_code grant type');
  }

  const redirectUris = checkArray('redirect_uris', input.redirect_uris, METADATA_LIMITS.redirectUris).map((uri) =>
    checkRedirectUri(uri, policy),
  );
  if (usesCode && redirectUris.length === 0) {
    throw new OAuthError('invalid_redirect_uri', 'redirect_uris: required for the authorization_code grant');
  }

  if (input.jwks !== undefined && input.jwks_uri !== undefined) {
    invalid('jwks', 'jwks and jwks_uri are mutually exclusive (RFC 7591 §2)');
  }
  const jwksUri = input.jwks_uri === undefined ? undefined : checkUri('jwks_uri', input.jwks_uri);
  if (input.jwks !== undefined) checkJwks(input.jwks);
  const contacts = checkArray('contacts', input.contacts, METADATA_LIMITS.contacts).map((contact) =>
    checkText('contacts', contact),
  );
  if (input.software_id !== undefined) checkText('software_id', input.software_id);
  if (input.software_version !== undefined) checkText('software_version', input.software_version);

  const metadata: ClientMetadata = {
    redirect_uris: redirectUris,
    grant_types: grantTypes as GrantType[],
    response_types: responseTypes as 'code'[],
    scope: scopes.join(' '),
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: tpp.subjectDn,
  };
  const languages = new Map<LocalizableField, number>();
  for (const [key, value] of Object.entries(input)) {
    const field = localizableField(key);
    if (!field) continue;
    const count = (languages.get(field) ?? 0) + 1;
    if (count > METADATA_LIMITS.languages + 1) {
      invalid(field, `more than ${METADATA_LIMITS.languages} localised forms`);
    }
    languages.set(field, count);
    metadata[key as `${LocalizableField}${string}`] = URI_FIELDS.has(field)
      ? checkUri(key, value, { policySafe: field === 'logo_uri' })
      : checkText(key, value);
  }
  if (input.contacts !== undefined) metadata.contacts = contacts;
  if (input.jwks !== undefined) metadata.jwks = input.jwks;
  if (jwksUri !== undefined) metadata.jwks_uri = jwksUri;
  if (input.software_id !== undefined) metadata.software_id = input.software_id;
  if (input.software_version !== undefined) metadata.software_version = input.software_version;
  return metadata;
}

/** `client_name` or `client_name#fr-FR` → `client_name`; anything else (including a bad tag) → undefined or error. */
function localizableField(key: string): LocalizableField | undefined {
  const [field, tag, ...rest] = key.split('#');
  if (!LOCALIZABLE_FIELDS.includes(field as LocalizableField)) return undefined;
  if (tag === undefined) return field as LocalizableField;
  if (rest.length > 0 || !LANGUAGE_TAG.test(tag)) invalid(key, 'the part after # must be a BCP 47 language tag');
  return field as LocalizableField;
}

/**
 * The value of a display field in the PSU's language: exact tag, then the language alone, then any
 * regional variant of it, then the untagged value (RFC 7591 §2.2).
 */
export function localized(metadata: ClientMetadata, field: LocalizableField, lang: string): string | undefined {
  const wanted = lang.toLowerCase();
  const base = wanted.split('-')[0];
  let regional: string | undefined;
  let plain: string | undefined;
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') continue;
    const [name, tag] = key.split('#');
    if (name !== field) continue;
    if (tag === undefined) {
      plain = value;
      continue;
    }
    const t = tag.toLowerCase();
    if (t === wanted) return value;
    if (t === base) regional = value;
    else if (regional === undefined && t.split('-')[0] === base) regional = value;
  }
  return regional ?? plain;
}

function parseScope(scope: string): Scope[] {
  if (scope.trim() === '') invalid('scope', 'must not be empty');
  const names = scope.split(' ');
  const seen = new Set<string>();
  for (const name of names) {
    if (name === '') invalid('scope', 'scope values are separated by single spaces');
    if (!SCOPE_NAMES.has(name))
      invalid('scope', `unknown scope ${name} (known: aisp, extended_transaction_history, cbpii, pisp)`);
    if (seen.has(name)) invalid('scope', `${name} is repeated`);
    seen.add(name);
  }
  return names as Scope[];
}

function unique(field: string, values: string[]): string[] {
  if (new Set(values).size !== values.length) invalid(field, 'contains a value twice');
  return values;
}

/**
 * A redirect URI is compared as a string (RFC 6749 §3.1.2.3), so it is accepted only when it is
 * already written the way it parses: what is stored, matched and redirected to is one string.
 */
function checkRedirectUri(uri: unknown, policy: MetadataPolicy): string {
  const parsed = parseClientUri(uri, { loopbackHttp: policy.allowLocalhostRedirects });
  const shown = typeof uri === 'string' ? uri.slice(0, 200) : typeof uri;
  if (!parsed.ok) throw new OAuthError('invalid_redirect_uri', `redirect_uris: ${shown} ${parsed.reason}`);
  if (parsed.url.href !== uri) {
    throw new OAuthError('invalid_redirect_uri', `redirect_uris: ${shown} must be written as ${parsed.url.href}`);
  }
  return parsed.url.href;
}

/** Any other URI field: parsed, and stored as its re-serialised form. */
function checkUri(field: string, value: unknown, rules: { policySafe?: boolean } = {}): string {
  const parsed = parseClientUri(value, rules);
  if (!parsed.ok) invalid(field, parsed.reason);
  return parsed.url.href;
}

function checkJwks(jwks: { keys: Record<string, unknown>[] }): void {
  if (jwks.keys.length === 0) invalid('jwks', 'keys must not be empty');
  if (jwks.keys.length > METADATA_LIMITS.jwksKeys) invalid('jwks', `more than ${METADATA_LIMITS.jwksKeys} keys`);
  for (const key of jwks.keys) {
    if (typeof key.kty !== 'string') invalid('jwks', 'every key needs a kty');
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
      if (secret in key) invalid('jwks', `keys must be public: a key has the private member ${secret}`);
    }
  }
}

/**
 * RFC 4514 strings compared as names, so a TPP may write the DN the way its tools print it:
 * attribute types case-insensitively and by name or OID (`organizationIdentifier` = `2.5.4.97`),
 * `#`-hex values (RFC 4514 §2.4) as the string they encode, spaces around separators ignored.
 */
export function sameDn(a: string, b: string): boolean {
  return normalizedDn(a) === normalizedDn(b);
}

// Every token request compares the registered DN with the certificate's: the same few strings.
const normalized = new Map<string, string>();
function normalizedDn(dn: string): string {
  let value = normalized.get(dn);
  if (value === undefined) {
    value = normalizeDn(dn);
    if (normalized.size >= 10_000) normalized.clear();
    normalized.set(dn, value);
  }
  return value;
}

const ATTRIBUTE_OIDS: Record<string, string> = {
  CN: '2.5.4.3',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  SERIALNUMBER: '2.5.4.5',
  ORGANIZATIONIDENTIFIER: '2.5.4.97',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
};

/** A `#`-hex BER value of a string type (PrintableString, UTF8String, IA5String…) → its text. */
function decodeHexValue(value: string): string {
  const hex = value.slice(1);
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) return value;
  const bytes = Uint8Array.from(hex.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
  const [tag, length] = bytes;
  if (![0x0c, 0x13, 0x14, 0x16].includes(tag ?? -1) || length === undefined || length > 127) return value;
  if (bytes.length !== 2 + length) return value;
  return new TextDecoder().decode(bytes.subarray(2));
}

function normalizeDn(dn: string): string {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i];
    if (ch === '\\' && i + 1 < dn.length) {
      current += ch + dn[i + 1];
      i++;
    } else if (ch === ',' || ch === '+') {
      parts.push(current.trim() + ch);
      current = '';
    } else current += ch;
  }
  parts.push(current.trim());
  return parts
    .map((part) => {
      const separator = part.endsWith(',') || part.endsWith('+') ? part.slice(-1) : '';
      const body = separator ? part.slice(0, -1) : part;
      const eq = body.indexOf('=');
      if (eq < 0) return part;
      const type = body.slice(0, eq).trim().toUpperCase();
      const raw = body.slice(eq + 1).trim();
      const value = raw.startsWith('#') ? decodeHexValue(raw) : raw;
      return `${ATTRIBUTE_OIDS[type] ?? type}=${value}${separator}`;
    })
    .join('');
}
