// psd2-oauth's authorization-code flow driven without a browser, on the benchmark's keep-alive
// connections: the sandbox page is fetched, its form read (csrf token, the preselected persona and
// accounts) with the tests' page readers, posted back with `decision=approve`, and the code is
// exchanged. (test/support/psu.ts's approveInSandbox does the same over one new connection per
// request, which would make this row measure TLS handshakes.)
import { formOf, tags } from '../test/support/psu.ts';
import { CookieJar, location, pkce, type Reply, randomState, send } from './http.ts';
import { FlowFailure, type LoadContext, type Operation, Unavailable } from './scenarios.ts';

/** The sandbox form as a browser would submit it with its preselected choices and "approve". */
export function sandboxApproval(page: string): { action: string; form: URLSearchParams } {
  const { action, csrf } = formOf(page);
  const inputs = tags(page, 'input');
  const accounts = inputs.filter((i) => i.name === 'account' && 'checked' in i);
  const persona = accounts[0]?.['data-persona'] ?? inputs.find((i) => i.name === 'persona' && 'checked' in i)?.value;
  const form = new URLSearchParams({ csrf_token: csrf, decision: 'approve' });
  if (persona) form.set('persona', persona);
  for (const account of accounts) form.append('account', account.value ?? '');
  return { action, form };
}

export interface IssuedCode {
  code: string;
  verifier: string;
}

/** GET /authorize, then the sandbox form approved: the code from the redirect, not yet redeemed. */
export async function obtainCode(
  anonymous: LoadContext['anonymous'],
  clientId: string,
  redirectUri: string,
): Promise<IssuedCode> {
  const jar = new CookieJar();
  const { verifier, challenge } = pkce();
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'aisp',
    state: randomState(),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ui_locales: 'en',
  });
  let reply: Reply = await send(anonymous, 'GET', `/authorize?${query}`);
  if (reply.status !== 200) throw new FlowFailure(reply, 'authorize');
  jar.store(reply);
  const { action, form } = sandboxApproval(reply.text);
  reply = await send(anonymous, 'POST', action, { form, headers: jar.header() });
  if (reply.status !== 303) throw new FlowFailure(reply, 'consent');
  const code = location(reply).searchParams.get('code');
  if (!code) throw new FlowFailure(reply, 'no code in the redirect');
  return { code, verifier };
}

export function redeemCode(
  tpp: LoadContext['tpp'],
  clientId: string,
  redirectUri: string,
  issued: IssuedCode,
): Promise<Reply> {
  return send(tpp, 'POST', '/token', {
    form: {
      grant_type: 'authorization_code',
      client_id: clientId,
      code: issued.code,
      redirect_uri: redirectUri,
      code_verifier: issued.verifier,
    },
  });
}

export async function authorizationCodeFlow(
  ctx: LoadContext,
  clientId: string,
  redirectUri: string,
): Promise<Operation> {
  const probe = await send(ctx.anonymous, 'GET', '/authorize');
  if (probe.status === 404) throw new Unavailable('GET /authorize is not there');
  return async () => redeemCode(ctx.tpp, clientId, redirectUri, await obtainCode(ctx.anonymous, clientId, redirectUri));
}
