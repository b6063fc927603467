// The headers that keep a page of this server from being framed, scripted or sniffed. The only
// outside values that reach them are URLs a TPP registered; each is parsed here again and written
// re-serialised, and one that would not stay a single source expression is left out, never copied.

/** A source expression (CSP3 §2.3.1) of a URL: its origin, and its path when `withPath`. */
export function cspSource(value: string, withPath: boolean): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  const source = withPath ? `${url.origin}${url.pathname}` : url.origin;
  // `;` ends a directive, `,` a policy, `'` opens a keyword; whitespace separates sources.
  if (!/^[\x21-\x7e]+$/.test(source) || /[;,'"]/.test(source)) return undefined;
  return source;
}

export interface PagePolicy {
  /** Image URLs beside 'self' (the TPP logo): allowed by origin and exact path. */
  images?: string[];
  /** Where forms may lead beside 'self' (the redirect URI after a form POST): allowed by origin. */
  formTargets?: string[];
}

/** The PSU pages' policy: nothing but this origin, the TPP logo and the TPP's redirect origin. */
export function pageContentSecurityPolicy(policy: PagePolicy = {}): string {
  const sources = (values: string[] | undefined, withPath: boolean) =>
    (values ?? []).map((v) => cspSource(v, withPath)).filter((v): v is string => v !== undefined);
  const images = ["'self'", ...sources(policy.images, true)].join(' ');
  const forms = ["'self'", ...sources(policy.formTargets, false)].join(' ');
  return `default-src 'self'; img-src ${images}; frame-ancestors 'none'; form-action ${forms}; base-uri 'none'`;
}

/** The /docs page: Swagger UI from this origin only, not frameable. */
export const DOCS_CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'";

export interface HstsSettings {
  /** Seconds; at least a year. */
  maxAge: number;
  includeSubDomains: boolean;
}

/** RFC 6797 `Strict-Transport-Security`. */
export function hstsHeader(settings: HstsSettings): string {
  return `max-age=${settings.maxAge}${settings.includeSubDomains ? '; includeSubDomains' : ''}`;
}
