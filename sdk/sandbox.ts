// Plays the PSU on the sandbox consent page, so a TPP's own automated tests can run the whole
// authorization-code flow against the sandbox without a browser: GET the page, keep the session
// cookie, POST the approve (or refuse) form with its CSRF token, and return where the browser
// would be sent. Sandbox only: production pages need a real PSU with SCA.

export interface SandboxDecision {
  refuse?: boolean;
  /** Accounts to share; the page's preselection (first persona, all its accounts) when absent. */
  accountIds?: string[];
}

function attributes(page: string, tag: string): Record<string, string>[] {
  const found: Record<string, string>[] = [];
  for (const match of page.matchAll(new RegExp(`<${tag}\\b([^>]*)>`, 'gi'))) {
    const attrs: Record<string, string> = {};
    for (const attr of (match[1] ?? '').matchAll(/([\w-]+)(?:="([^"]*)")?/g)) {
      attrs[(attr[1] ?? '').toLowerCase()] = (attr[2] ?? '')
        .replace(/&quot;/g, '"')
        .replace(/&#39;/g, "'")
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&');
    }
    found.push(attrs);
  }
  return found;
}

export async function decideInSandbox(
  fetch: (request: Request) => Promise<Response>,
  authorizationUrl: string,
  decision: SandboxDecision = {},
): Promise<URL> {
  const page = await fetch(new Request(authorizationUrl, { redirect: 'manual' }));
  const location = page.headers.get('location');
  if (page.status === 303 && location) return new URL(location, authorizationUrl);
  const text = await page.text();
  if (page.status !== 200) throw new Error(`the authorization page answered ${page.status}`);
  const cookie = (page.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const form = attributes(text, 'form')[0];
  const inputs = attributes(text, 'input');
  const csrf = inputs.find((i) => i.name === 'csrf_token')?.value;
  if (!form?.action || !csrf || !cookie.includes('=')) throw new Error('this is not a sandbox consent page');
  const accounts = inputs.filter((i) => i.name === 'account');
  const chosen = decision.accountIds ?? accounts.filter((a) => 'checked' in a).map((a) => a.value ?? '');
  const body = new URLSearchParams({ csrf_token: csrf, decision: decision.refuse ? 'refuse' : 'approve' });
  const persona =
    accounts.find((a) => a.value === chosen[0])?.['data-persona'] ??
    inputs.find((i) => i.name === 'persona' && 'checked' in i)?.value;
  if (persona) body.set('persona', persona);
  for (const id of chosen) body.append('account', id);
  const answer = await fetch(
    new Request(new URL(form.action, authorizationUrl), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    }),
  );
  const next = answer.headers.get('location');
  if (answer.status !== 303 || !next) throw new Error(`the consent form answered ${answer.status}`);
  return new URL(next, authorizationUrl);
}
