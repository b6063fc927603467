// How a PSU page or redirect leaves the server: the headers every page carries (no caching, no
// framing, a CSP limited to this origin, no referrer), the session cookie, and the redirect to
// the client with the authorization response.
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { errorPage } from '../pages/authorize.ts';
import { isLang, LANGUAGES, type Lang, type MessageKey } from '../pages/i18n.ts';
import { type Frame, type PageContent, renderPage } from '../pages/layout.ts';
import { authorizationResponseUrl } from '../protocol/authorization.ts';
import type { AuthorizationRequest } from '../protocol/psu/ports.ts';
import type { AuthorizationResponse } from '../protocol/psu-journey.ts';
import type { AppEnv } from './env.ts';
import { type PagePolicy, pageContentSecurityPolicy } from './security-headers.ts';

const COOKIE = 'psu_session';

export type PageStatus = 200 | 400 | 403 | 404 | 409 | 410 | 500;

/** URLs the page's CSP allows beside 'self'; security-headers.ts re-parses each (origin, path). */
export type PageSources = PagePolicy;

/** Headers of every page and redirect: no caching, no framing, only this origin, no referrer. */
export function secureHeaders(c: Context<AppEnv>, extra: PageSources = {}): void {
  c.header('Content-Security-Policy', pageContentSecurityPolicy(extra));
  c.header('Cache-Control', 'no-store');
  c.header('Pragma', 'no-cache');
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('X-Frame-Options', 'DENY');
  c.header('Referrer-Policy', 'no-referrer');
}

/**
 * A PSU page in its frame: the bank's branding (set on the context by app.ts) and the switch to the
 * same page in the other language. Without `languageSwitch`, a GET page offers its own URL with
 * the language segment swapped (same query); a page answering a POST offers none unless given.
 */
export async function showPage(
  c: Context<AppEnv>,
  page: PageContent,
  status: PageStatus,
  extra: PageSources = {},
  languageSwitch: Frame['languageSwitch'] = c.req.method === 'GET' ? sameRequestIn(c) : undefined,
) {
  const branding = c.get('branding') ?? {};
  // A logo the bank serves from elsewhere is allowed by its exact URL, as the TPP's is.
  const images = [...(extra.images ?? []), ...(branding.logoSrc?.startsWith('https://') ? [branding.logoSrc] : [])];
  secureHeaders(c, { ...extra, images });
  const rendered = await renderPage(page, { branding, languageSwitch });
  // html`` makes a String object. @hono/node-server sends only a primitive string directly: the
  // object went through a web ReadableStream, and the request log's X-Request-Id turned it into a
  // full fetch Response first. The pages have no async parts (callbacks) that c.html would resolve.
  return c.html(rendered.callbacks?.length ? rendered : rendered.toString(), status);
}

/** This GET request's path in each other language: `/{lang}/…` or `/authorize`, query kept. */
function sameRequestIn(c: Context<AppEnv>): Frame['languageSwitch'] {
  const url = new URL(c.req.url);
  const match = /^\/([a-z]{2})(\/.*)$/.exec(url.pathname);
  const rest = match && isLang(match[1]) ? match[2] : url.pathname === '/authorize' ? '/authorize' : undefined;
  if (rest === undefined) return undefined;
  return Object.fromEntries(LANGUAGES.map((lang) => [lang, `/${lang}${rest}${url.search}`]));
}

export const showError = (c: Context<AppEnv>, lang: Lang, message: MessageKey, status: Exclude<PageStatus, 200>) =>
  showPage(c, errorPage(lang, message), status);

export function seeOther(c: Context<AppEnv>, location: string) {
  secureHeaders(c);
  return c.redirect(location, 303);
}

/** The browser back to the client: the redirect URI with the response, `state` and `iss` (RFC 9207). */
export function respondToClient(
  c: Context<AppEnv>,
  issuer: string,
  request: Pick<AuthorizationRequest, 'redirectUri' | 'state'>,
  response: AuthorizationResponse,
) {
  return seeOther(c, authorizationResponseUrl(issuer, request.redirectUri, response, request.state));
}

/** The permission dashboard's own session cookie: a consent in progress in another tab is untouched. */
export const DASHBOARD_COOKIE = 'psu_permissions';

/** The session cookie's secret: `__Host-`, Secure, HttpOnly, SameSite=Lax. */
export function sessionSecret(c: Context<AppEnv>, name = COOKIE): string | undefined {
  return getCookie(c, name, 'host');
}

export function setSessionSecret(c: Context<AppEnv>, secret: string, name = COOKIE): void {
  setCookie(c, name, secret, { prefix: 'host', path: '/', secure: true, httpOnly: true, sameSite: 'Lax' });
}

/** The page sources a PSU page of `redirectUri`'s client needs. */
export function pageSources(redirectUri: string, logoUri: string | undefined): PageSources {
  // Chromium applies form-action to the redirect that follows a form POST: the client's origin is allowed.
  return { formTargets: [redirectUri], images: logoUri ? [logoUri] : [] };
}
