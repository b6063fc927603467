// The PSU side for tests that need an authorization code: PKCE, the authorization URL, and a PSU
// who approves (or refuses) on the sandbox page with plain HTTPS requests, as a browser without
// JavaScript would: GET the page, keep the cookie, POST the form with its CSRF token.
import { createHash, randomBytes } from 'node:crypto';
import { type HttpResponse, request } from './https.ts';
import type { TestServer } from './server.ts';

export function pkce(): { codeVerifier: string; codeChallenge: string } {
  const codeVerifier = randomBytes(32).toString('base64url');
  return { codeVerifier, codeChallenge: createHash('sha256').update(codeVerifier).digest('base64url') };
}

export function authorizeUrl(
  server: TestServer,
  params: {
    clientId: string;
    redirectUri: string;
    scope: string;
    state?: string;
    codeChallenge: string;
    lang?: string;
  },
): string {
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: params.clientId,
    redirect_uri: params.redirectUri,
    scope: params.scope,
    code_challenge: params.codeChallenge,
    code_challenge_method: 'S256',
  });
  if (params.state !== undefined) query.set('state', params.state);
  return `${server.psuUrl}${params.lang ? `/${params.lang}` : ''}/authorize?${query}`;
}

/** The attributes of every `<tag …>` in a page, entities decoded. */
export function tags(page: string, tag: string): Record<string, string>[] {
  const found: Record<string, string>[] = [];
  for (const match of page.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'gi'))) {
    const attributes: Record<string, string> = {};
    for (const attr of (match[1] ?? '').matchAll(/([\w-]+)(?:="([^"]*)")?/g)) {
      attributes[attr[1]!.toLowerCase()] = decodeEntities(attr[2] ?? '');
    }
    found.push(attributes);
  }
  return found;
}

function decodeEntities(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** `name=value` of the session cookie a response sets. */
export function sessionCookie(res: HttpResponse): string {
  const setCookie = res.headers['set-cookie'];
  const first = (Array.isArray(setCookie) ? setCookie : [setCookie ?? ''])[0] ?? '';
  const pair = first.split(';')[0] ?? '';
  if (!pair.includes('='))
    throw new Error(`no session cookie in the response (${res.status}): ${res.text.slice(0, 200)}`);
  return pair;
}

/** The hidden fields and the action of the page's form. */
export function formOf(page: string): { action: string; csrf: string } {
  const form = tags(page, 'form')[0];
  const csrf = tags(page, 'input').find((i) => i.name === 'csrf_token')?.value;
  if (!form?.action || !csrf) throw new Error(`no form with a CSRF token on the page: ${page.slice(0, 300)}`);
  return { action: form.action, csrf };
}

/**
 * Drives the sandbox page: approves with the preselected persona and accounts (or the persona that
 * holds `accountIds`, with those accounts), or refuses. Returns the URL the browser is sent to.
 */
export async function approveInSandbox(
  server: TestServer,
  authorizeUrl: string,
  options: { refuse?: boolean; accountIds?: string[] } = {},
): Promise<URL> {
  const page = await request(authorizeUrl, { ca: server.caPem });
  if (page.status === 303 || page.status === 302) return new URL(page.header('location')!);
  if (page.status !== 200)
    throw new Error(`the authorization page answered ${page.status}: ${page.text.slice(0, 300)}`);
  const cookie = sessionCookie(page);
  const { action, csrf } = formOf(page.text);
  const inputs = tags(page.text, 'input');
  const accounts = inputs.filter((i) => i.name === 'account');
  const body = new URLSearchParams({ csrf_token: csrf, decision: options.refuse ? 'refuse' : 'approve' });
  const chosen = options.accountIds ?? accounts.filter((a) => 'checked' in a).map((a) => a.value!);
  const persona =
    accounts.find((a) => a.value === chosen[0])?.['data-persona'] ??
    inputs.find((i) => i.name === 'persona' && 'checked' in i)?.value;
  if (persona) body.set('persona', persona);
  for (const id of chosen) body.append('account', id);

  const res = await request(new URL(action, authorizeUrl).toString(), {
    ca: server.caPem,
    method: 'POST',
    headers: { cookie },
    body,
  });
  if (res.status !== 303) throw new Error(`the decision answered ${res.status}: ${res.text.slice(0, 300)}`);
  return new URL(res.header('location')!);
}
