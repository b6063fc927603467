// The URIs a TPP registers (redirect_uris, logo_uri, client_uri, policy_uri, tos_uri, jwks_uri and
// their localised forms) end up in Location headers, in the PSU page's Content-Security-Policy and
// in its HTML. Each is parsed here once, at registration, against one rule set, and stored as its
// re-serialised form: nothing a TPP writes reaches a header or a page as the raw string it sent.

/** Longest URI accepted, in characters. */
export const MAX_URI_LENGTH = 2048;

export interface UriRules {
  /** `http` on a loopback host (a TPP developer's machine): sandbox redirect URIs only. */
  loopbackHttp?: boolean;
  /**
   * The value is placed in a Content-Security-Policy source list (logo_uri): `;` and `,` separate
   * directives and policies there, and `'` starts a keyword, so none may appear.
   */
  policySafe?: boolean;
}

export type ParsedUri = { ok: true; url: URL } | { ok: false; reason: string };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** A DNS name (letters, digits, hyphens, dots; IDNs in their xn-- form), an IPv4 or a bracketed IPv6 address. */
const HOSTNAME = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?|\[[0-9a-f:.]+\])$/;

/**
 * An absolute https URI with a host, no userinfo, no fragment, printable ASCII only (no control,
 * whitespace or bidirectional characters anywhere), each `%` followed by two hex digits.
 */
export function parseClientUri(value: unknown, rules: UriRules = {}): ParsedUri {
  const fail = (reason: string): ParsedUri => ({ ok: false, reason });
  if (typeof value !== 'string' || value === '') return fail('must be a non-empty string');
  if (value.length > MAX_URI_LENGTH) return fail(`is longer than ${MAX_URI_LENGTH} characters`);
  if (!/^[\x21-\x7e]+$/.test(value)) {
    return fail('contains whitespace, control or non-ASCII characters (write an IDN host in its xn-- form)');
  }
  if (/["<>\\^`{|}]/.test(value)) return fail('contains a character that URIs do not allow (RFC 3986 §2)');
  if (/%(?![0-9A-Fa-f]{2})/.test(value)) return fail('contains a % that is not followed by two hex digits');
  if (value.includes('#')) return fail('must not contain a fragment');
  if (rules.policySafe && /[;,']/.test(value)) {
    return fail("must not contain ; , or ' (the URL is written into the page's Content-Security-Policy)");
  }
  const authority = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)/.exec(value);
  if (!authority) return fail('is not an absolute URI with a host (scheme://host/...)');
  if (!authority[2]) return fail('must have a host: a DNS name or an IP address');
  if (authority[2].includes('@')) return fail('must not contain userinfo (user@ before the host)');
  if (!URL.canParse(value)) return fail('is not a valid URI');
  const url = new URL(value);
  if (url.username !== '' || url.password !== '') return fail('must not contain userinfo');
  if (url.hostname === '' || !HOSTNAME.test(url.hostname)) return fail('must have a host: a DNS name or an IP address');
  if (url.protocol === 'https:') return { ok: true, url };
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) {
    return rules.loopbackHttp
      ? { ok: true, url }
      : fail('uses http, which only the sandbox accepts, and only for localhost');
  }
  return fail('must use https');
}

/**
 * A registered URI as it may be shown or linked on a page: parsed again by the same rules (a value
 * stored before those rules existed is dropped, not shown), re-serialised. Undefined otherwise.
 */
export function displayableUri(value: unknown, rules: UriRules = {}): string | undefined {
  const parsed = parseClientUri(value, rules);
  return parsed.ok ? parsed.url.href : undefined;
}
