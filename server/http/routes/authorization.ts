// The authorization endpoint and the PSU's pages: the sandbox page that simulates the PSU, and in
// production the login, the one-time code (SCA) and the consent. Handlers adapt HTTP to
// protocol/authorization.ts and the PSU ports; pages come from server/pages/.
import { timingSafeEqual } from 'node:crypto';
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { PSU_CSS } from '../../pages/assets.ts';
import { consentPage, errorPage, loginPage, otpPage, sandboxPage, type TppDisplay } from '../../pages/authorize.ts';
import { isLang, type Lang, type MessageKey, negotiateLang, t } from '../../pages/i18n.ts';
import {
  AISP_CONSENT_DAYS,
  authorizationResponseUrl,
  checkAuthorizationRequest,
  grantConsent,
  RedirectableError,
  rawParameters,
  UntrustedRequestError,
} from '../../protocol/authorization.ts';
import type { AccountDirectory, PsuAuthenticator } from '../../protocol/bank.ts';
import { localized } from '../../protocol/client-metadata.ts';
import { OAuthError, type OAuthErrorCode } from '../../protocol/errors.ts';
import type {
  AuthenticationEventLog,
  AuthenticationEventName,
  AuthorizationRequest,
  ConsentStore,
  PsuSession,
  PsuSessionStage,
  PsuSessionStore,
  PsuStore,
  PushedRequestStore,
} from '../../protocol/psu/ports.ts';
import type { ClientStore } from '../../protocol/registration/ports.ts';
import { randomSecret, secretDigest } from '../../protocol/secrets.ts';
import type { AppEnv } from '../env.ts';
import { responseHeaders } from '../schemas.ts';

export interface AuthorizationRouteDeps {
  issuer: string;
  mode: 'sandbox' | 'production';
  clients: ClientStore;
  psus: Pick<PsuStore, 'find' | 'list'>;
  accounts: AccountDirectory;
  authenticator: PsuAuthenticator;
  sessions: PsuSessionStore;
  events: AuthenticationEventLog;
  pushedRequests: PushedRequestStore;
  consents: ConsentStore;
  settings: { sessionInactivitySeconds: number; cbpiiConsentDays: number; codeTtlSeconds: number };
}

const COOKIE = 'psu_session';
// The authorization endpoint is an operation of the API (a TPP sends the PSU there); the pages behind
// it are HTML for the PSU's browser, defined here with `hide: true` and left out of the document.
const TAG = 'PSU pages';
const html = (description: string) => ({
  description,
  headers: responseHeaders({ 'Cache-Control': 'no-store' }),
  content: { 'text/html': { schema: z.string().openapi({ description: 'An HTML page' }) } },
});
const seeOther = (description: string) => ({
  description,
  headers: {
    Location: { description: 'Where the browser goes next', schema: { type: 'string' as const } },
    ...responseHeaders({ 'Cache-Control': 'no-store' }),
  },
});

const LangParam = z.object({
  lang: z.enum(['fr', 'en']).openapi({ param: { name: 'lang', in: 'path' }, example: 'fr' }),
});

const AuthorizeQuery = z.object({
  response_type: z.string().optional().openapi({ description: '`code`', example: 'code' }),
  client_id: z.string().optional().openapi({ description: 'Required.', example: 'tq3Vb2cN9xVhK1xq0yM2lQqB' }),
  redirect_uri: z.string().optional().openapi({
    description: 'Required; one of the registered redirect URIs, exactly.',
    example: 'https://tpp.example/cb',
  }),
  scope: z
    .string()
    .optional()
    .openapi({ description: '`aisp`, `aisp extended_transaction_history` or `cbpii`, within the client’s scopes.' }),
  state: z.string().optional().openapi({ description: 'Echoed byte for byte in the redirect.' }),
  code_challenge: z.string().optional().openapi({ description: 'Required: BASE64URL(SHA-256(code_verifier)).' }),
  code_challenge_method: z.string().optional().openapi({ description: 'Required: `S256` (`plain` is refused).' }),
  request_uri: z
    .string()
    .optional()
    .openapi({ description: 'Instead of the other parameters: a `request_uri` from `/par` (with client_id).' }),
  ui_locales: z.string().optional().openapi({ description: '`fr` or `en` (on `/authorize` only).' }),
});

const authorizeResponses = {
  200: html('The sandbox page (sandbox mode) or the login page (production mode).'),
  303: seeOther(
    'An error after the client and redirect URI are established: the redirect URI with `error`, `error_description`, `state` and `iss` (RFC 9207).',
  ),
  400: html(
    'An error page in the PSU’s language, never a redirect: unknown client, missing or unregistered redirect URI, bad request_uri.',
  ),
};
const AUTHORIZE_DESCRIPTION =
  'RFC 6749 §4.1.1 with PKCE (S256 only) and RFC 9126 request_uri. No CORS. Responses carry `Cache-Control: no-store`, a CSP limited to `self` with `frame-ancestors none`, and a `__Host-` session cookie (Secure, HttpOnly, SameSite=Lax).';

export const authorizeRoute = createRoute({
  method: 'get',
  path: '/authorize',
  tags: [TAG],
  summary: 'Authorization endpoint, language negotiated',
  operationId: 'authorize',
  security: [],
  description: `${AUTHORIZE_DESCRIPTION} The language comes from ui_locales, then Accept-Language, then French.`,
  request: { query: AuthorizeQuery },
  responses: authorizeResponses,
});

export const localizedAuthorizeRoute = createRoute({
  method: 'get',
  path: '/{lang}/authorize',
  tags: [TAG],
  summary: 'Authorization endpoint in French or English',
  operationId: 'authorizeInLanguage',
  security: [],
  description: AUTHORIZE_DESCRIPTION,
  request: { params: LangParam, query: AuthorizeQuery },
  responses: authorizeResponses,
});

const CsrfField = { csrf_token: z.string().optional().openapi({ description: 'The token of the page’s form.' }) };
const sessionErrors = {
  400: html('A malformed form.'),
  403: html('The CSRF token is missing or wrong.'),
  409: html('The session is not at this step (a replayed form, or a request already completed).'),
  410: html('No session: the cookie is missing, unknown or the session ended.'),
};
const formBody = <T extends z.ZodRawShape>(shape: T) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: z.object({ ...CsrfField, ...shape }) } },
});

export const decisionRoute = createRoute({
  hide: true,
  method: 'post',
  path: '/{lang}/authorize/decision',
  tags: [TAG],
  summary: 'The PSU approves or refuses',
  description:
    'Approve: a consent for the chosen accounts and an authorization code (single use, at most 60 s), then a 303 to the redirect URI with `code`, `state`, `iss`. Refuse: a 303 with `error=access_denied`. In the sandbox the form also names the persona.',
  request: {
    params: LangParam,
    body: formBody({
      decision: z.enum(['approve', 'refuse']).optional(),
      persona: z.string().optional().openapi({ description: 'Sandbox: the chosen persona (psu id).' }),
      account: z
        .union([z.string(), z.array(z.string())])
        .optional()
        .openapi({ description: 'The accounts the TPP may see (repeated).' }),
    }),
  },
  responses: {
    200: html('The page again, when no account was chosen.'),
    303: seeOther('The redirect URI with the authorization response.'),
    ...sessionErrors,
  },
});

export const loginFormRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/{lang}/authorize/login',
  tags: [TAG],
  summary: 'Production: the login page of the current session',
  request: {
    params: LangParam,
    query: z.object({ retry: z.enum(['failed', 'locked']).optional(), until: z.string().optional() }),
  },
  responses: { 200: html('The login page.'), 303: seeOther('The session is past this step.'), ...sessionErrors },
});

export const loginRoute = createRoute({
  hide: true,
  method: 'post',
  path: '/{lang}/authorize/login',
  tags: [TAG],
  summary: 'Production: identifier and password (first factor)',
  description:
    'Always continues to the one-time code, right password or not, so that a failure never tells which element was wrong (RTS art. 4(3)(a)).',
  request: { params: LangParam, body: formBody({ username: z.string().optional(), password: z.string().optional() }) },
  responses: { 303: seeOther('To the one-time code page.'), ...sessionErrors },
});

export const otpFormRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/{lang}/authorize/otp',
  tags: [TAG],
  summary: 'Production: the one-time code page',
  request: { params: LangParam },
  responses: {
    200: html('The one-time code page.'),
    303: seeOther('The session is past this step.'),
    ...sessionErrors,
  },
});

export const otpRoute = createRoute({
  hide: true,
  method: 'post',
  path: '/{lang}/authorize/otp',
  tags: [TAG],
  summary: 'Production: the TOTP code (second factor)',
  description:
    'Both factors right: on to the consent. Otherwise back to the login page with one message for every failure; 5 consecutive failures block the PSU (RTS art. 4(3)(b)).',
  request: { params: LangParam, body: formBody({ otp: z.string().optional() }) },
  responses: { 303: seeOther('To the consent page, or back to the login page.'), ...sessionErrors },
});

export const consentFormRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/{lang}/authorize/consent',
  tags: [TAG],
  summary: 'Production: the consent page, after SCA',
  request: { params: LangParam },
  responses: { 200: html('The consent page with account selection.'), ...sessionErrors },
});

export const stylesheetRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/assets/psu.css',
  tags: [TAG],
  summary: 'The stylesheet of the PSU pages',
  responses: { 200: { description: 'CSS', content: { 'text/css': { schema: z.string() } } } },
});

/** Constant-time string comparison for the CSRF token. */
function sameToken(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function origin(uri: string): string {
  return new URL(uri).origin;
}

interface LoadedSession {
  digest: string;
  session: PsuSession;
}

export function mountAuthorization(app: OpenAPIHono<AppEnv>, deps: AuthorizationRouteDeps): void {
  const inactivityMs = deps.settings.sessionInactivitySeconds * 1000;

  /** Headers of every page: no caching, no framing, only this origin, no referrer. */
  function secure(c: Context<AppEnv>, extra: { formTargets?: string[]; images?: string[] } = {}): void {
    const formAction = ["'self'", ...(extra.formTargets ?? [])].join(' ');
    const images = ["'self'", ...(extra.images ?? [])].join(' ');
    c.header(
      'Content-Security-Policy',
      `default-src 'self'; img-src ${images}; frame-ancestors 'none'; form-action ${formAction}; base-uri 'none'`,
    );
    c.header('Cache-Control', 'no-store');
    c.header('Pragma', 'no-cache');
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('X-Frame-Options', 'DENY');
    c.header('Referrer-Policy', 'no-referrer');
  }

  async function show(
    c: Context<AppEnv>,
    body: ReturnType<typeof errorPage>,
    status: 200 | 400 | 403 | 409 | 410 | 500,
    extra?: Parameters<typeof secure>[1],
  ) {
    secure(c, extra);
    return c.html(await body, status);
  }

  const showError = (c: Context<AppEnv>, lang: Lang, message: MessageKey, status: 400 | 403 | 409 | 410 | 500) =>
    show(c, errorPage(lang, message), status);

  function redirect(c: Context<AppEnv>, location: string) {
    secure(c);
    return c.redirect(location, 303);
  }

  function respondToClient(
    c: Context<AppEnv>,
    request: Pick<AuthorizationRequest, 'redirectUri' | 'state'>,
    params: { code: string } | { error: OAuthErrorCode; error_description?: string },
  ) {
    return redirect(c, authorizationResponseUrl(deps.issuer, request.redirectUri, params, request.state));
  }

  const log = (session: PsuSession, event: AuthenticationEventName, extra: { psuId?: string; detail?: object } = {}) =>
    deps.events.record({
      sessionId: session.sessionId,
      event,
      occurredAt: Date.now(),
      clientId: session.request.clientId,
      psuId: extra.psuId ?? session.psuId ?? undefined,
      detail: extra.detail as Record<string, unknown> | undefined,
    });

  async function tppDisplay(clientId: string, lang: Lang): Promise<TppDisplay> {
    const client = await deps.clients.find(clientId);
    const name = (client && localized(client.metadata, 'client_name', lang)) ?? clientId;
    const logoUri = client && localized(client.metadata, 'logo_uri', lang);
    return { name, ...(logoUri ? { logoUri } : {}) };
  }

  const consentDays = (scope: string) => (scope === 'cbpii' ? deps.settings.cbpiiConsentDays : AISP_CONSENT_DAYS);
  const pageExtras = (request: AuthorizationRequest, tpp: TppDisplay) => ({
    // Chromium applies form-action to the redirect that follows a form POST: the client's origin is allowed.
    formTargets: [origin(request.redirectUri)],
    images: tpp.logoUri ? [tpp.logoUri] : [],
  });

  /**
   * The session of the cookie, at one of `stages`, still active (RTS art. 4(3)(d)); refreshed on
   * each use. Otherwise the response to send instead.
   */
  async function loadSession(
    c: Context<AppEnv>,
    lang: Lang,
    stages: PsuSessionStage[],
  ): Promise<LoadedSession | Response> {
    const secret = getCookie(c, COOKIE, 'host');
    if (!secret) return showError(c, lang, 'error.session', 410);
    const digest = await secretDigest(secret);
    const session = await deps.sessions.find(digest);
    if (!session) return showError(c, lang, 'error.session', 410);
    c.set('clientId', session.request.clientId);
    const now = Date.now();
    if (session.stage === 'done') return showError(c, lang, 'error.done', 409);
    if (session.lastSeenAt + inactivityMs <= now || session.expiresAt <= now) {
      if (await deps.sessions.advance(digest, session.stage, { stage: 'done' })) {
        await log(session, 'session.expired');
        return respondToClient(c, session.request, {
          error: 'access_denied',
          error_description: 'the PSU session ended after 5 minutes of inactivity',
        });
      }
      return showError(c, lang, 'error.session', 410);
    }
    if (!stages.includes(session.stage)) return showError(c, lang, 'error.done', 409);
    await deps.sessions.advance(digest, session.stage, { lastSeenAt: now, expiresAt: now + inactivityMs });
    return { digest, session };
  }

  async function checkedForm(
    c: Context<AppEnv>,
    lang: Lang,
    stages: PsuSessionStage[],
    token: string | undefined,
  ): Promise<LoadedSession | Response> {
    const loaded = await loadSession(c, lang, stages);
    if (loaded instanceof Response) return loaded;
    if (!sameToken(token, loaded.session.csrfToken)) return showError(c, lang, 'error.csrf', 403);
    return loaded;
  }

  async function start(c: Context<AppEnv>, lang: Lang) {
    const now = Date.now();
    let request: AuthorizationRequest;
    try {
      ({ request } = await checkAuthorizationRequest(
        { clients: deps.clients, pushedRequests: deps.pushedRequests },
        rawParameters(new URL(c.req.url).searchParams),
        now,
      ));
    } catch (err) {
      if (err instanceof UntrustedRequestError) {
        c.set('errorCode', err.reason === 'unknown_client' ? 'invalid_client' : 'invalid_request');
        c.set('errorDetail', err.description);
        return showError(c, lang, `error.${err.reason}` as MessageKey, 400);
      }
      if (err instanceof RedirectableError) {
        c.set('clientId', err.request.clientId);
        c.set('errorCode', err.code);
        return respondToClient(c, err.request, { error: err.code, error_description: err.description });
      }
      throw err;
    }
    c.set('clientId', request.clientId);

    const secret = randomSecret(32);
    const session: PsuSession = {
      sessionId: globalThis.crypto.randomUUID(),
      request,
      psuId: null,
      stage: deps.mode === 'sandbox' ? 'consent' : 'login',
      csrfToken: randomSecret(32),
      authenticatedAt: null,
      lastSeenAt: now,
      expiresAt: now + inactivityMs,
      createdAt: now,
    };
    await deps.sessions.create(await secretDigest(secret), session);
    await log(session, 'session.started', { detail: { scope: request.scope, mode: deps.mode } });
    setCookie(c, COOKIE, secret, { prefix: 'host', path: '/', secure: true, httpOnly: true, sameSite: 'Lax' });
    return deps.mode === 'sandbox' ? renderSandbox(c, lang, session) : renderLogin(c, lang, session);
  }

  async function renderSandbox(
    c: Context<AppEnv>,
    lang: Lang,
    session: PsuSession,
    problem?: { error: MessageKey; chosen: { psuId: string; accountIds: string[] } },
  ) {
    const tpp = await tppDisplay(session.request.clientId, lang);
    const personas = await Promise.all(
      (await deps.psus.list({ sandbox: true }))
        .filter((p) => p.status === 'active')
        .map(async (p) => ({
          psuId: p.psuId,
          displayName: p.displayName,
          accounts: await deps.accounts.accountsOf(p.psuId),
        })),
    );
    const page = sandboxPage(lang, {
      tpp,
      scope: session.request.scope,
      days: consentDays(session.request.scope),
      personas,
      csrf: session.csrfToken,
      action: `/${lang}/authorize/decision`,
      ...(problem ?? {}),
    });
    return show(c, page, 200, pageExtras(session.request, tpp));
  }

  async function renderLogin(c: Context<AppEnv>, lang: Lang, session: PsuSession, message?: string) {
    const tpp = await tppDisplay(session.request.clientId, lang);
    const page = loginPage(lang, { tpp, csrf: session.csrfToken, action: `/${lang}/authorize/login`, message });
    return show(c, page, 200, pageExtras(session.request, tpp));
  }

  async function renderConsent(c: Context<AppEnv>, lang: Lang, session: PsuSession, problem?: { chosen: string[] }) {
    const tpp = await tppDisplay(session.request.clientId, lang);
    const page = consentPage(lang, {
      tpp,
      scope: session.request.scope,
      days: consentDays(session.request.scope),
      accounts: await deps.accounts.accountsOf(session.psuId ?? ''),
      csrf: session.csrfToken,
      action: `/${lang}/authorize/decision`,
      ...(problem ? { error: 'consent.no_account' as const, chosen: problem.chosen } : {}),
    });
    return show(c, page, problem ? 400 : 200, pageExtras(session.request, tpp));
  }

  const pageValidation = (lang: (c: Context<AppEnv>) => Lang) => (result: { success: boolean }, c: Context<AppEnv>) =>
    result.success ? undefined : showError(c, lang(c), 'error.invalid_request', 400);
  const pathLang = (c: Context<AppEnv>): Lang => {
    const lang = c.req.param('lang');
    return isLang(lang) ? lang : 'fr';
  };

  // A repeated parameter fails the documented schema: the request checks then report it as OAuth says.
  app.openapi(
    authorizeRoute,
    (c) => start(c, negotiateLang(c.req.query('ui_locales'), c.req.header('accept-language'))),
    (result, c) =>
      result.success ? undefined : start(c, negotiateLang(c.req.query('ui_locales'), c.req.header('accept-language'))),
  );
  app.openapi(
    localizedAuthorizeRoute,
    (c) => start(c, c.req.valid('param').lang),
    (result, c) => {
      if (result.success) return undefined;
      const lang = c.req.param('lang');
      if (!isLang(lang)) throw new OAuthError('not_found', `No endpoint at GET ${c.req.path}.`);
      return start(c, lang);
    },
  );

  app.openapi(
    decisionRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      const loaded = await checkedForm(c, lang, ['consent'], form.csrf_token);
      if (loaded instanceof Response) return loaded;
      const { digest, session } = loaded;
      const chosen = form.account === undefined ? [] : [form.account].flat();

      if (form.decision !== 'approve') {
        if (!(await deps.sessions.advance(digest, 'consent', { stage: 'done' }))) {
          return showError(c, lang, 'error.done', 409);
        }
        await log(session, 'consent.refused');
        return respondToClient(c, session.request, { error: 'access_denied', error_description: 'the PSU refused' });
      }

      let psuId = session.psuId;
      let scaAt: number | undefined;
      if (deps.mode === 'sandbox') {
        const persona = form.persona ? await deps.psus.find(form.persona) : undefined;
        if (!persona?.sandbox || persona.status !== 'active') return showError(c, lang, 'error.invalid_request', 400);
        psuId = persona.psuId;
      } else {
        if (!psuId || session.authenticatedAt === null) return showError(c, lang, 'error.session', 410);
        scaAt = session.authenticatedAt;
      }
      const accounts = await deps.accounts.accountsOf(psuId);
      if (!accounts.some((a) => chosen.includes(a.accountId))) {
        return deps.mode === 'sandbox'
          ? renderSandbox(c, lang, session, { error: 'consent.no_account', chosen: { psuId, accountIds: chosen } })
          : renderConsent(c, lang, session, { chosen });
      }
      if (!(await deps.sessions.advance(digest, 'consent', { stage: 'done', psuId }))) {
        return showError(c, lang, 'error.done', 409);
      }
      const granted = await grantConsent(
        { consents: deps.consents },
        { cbpiiConsentDays: deps.settings.cbpiiConsentDays, codeTtlSeconds: deps.settings.codeTtlSeconds },
        { request: session.request, psuId, accounts, chosenAccountIds: chosen, scaAt, now: Date.now() },
      );
      await log(session, 'consent.granted', {
        psuId,
        detail: { consentId: granted.consentId, scope: session.request.scope, accountIds: granted.accountIds },
      });
      return respondToClient(c, session.request, { code: granted.code });
    },
    pageValidation(pathLang),
  );
  app.openapi(
    loginFormRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const { retry, until } = c.req.valid('query');
      const loaded = await loadSession(c, lang, ['login']);
      if (loaded instanceof Response) return loaded;
      const time =
        until && /^\d+$/.test(until) ? new Date(Number(until)).toISOString().slice(0, 16).replace('T', ' ') : '';
      const message =
        retry === 'locked'
          ? t(lang, 'login.locked', { time })
          : retry === 'failed'
            ? t(lang, 'login.failed')
            : undefined;
      return renderLogin(c, lang, loaded.session, message);
    },
    pageValidation(pathLang),
  );

  app.openapi(
    loginRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      const loaded = await checkedForm(c, lang, ['login'], form.csrf_token);
      if (loaded instanceof Response) return loaded;
      const { digest, session } = loaded;
      const now = Date.now();
      const result = await deps.authenticator.verifyPassword(form.username ?? '', form.password ?? '', now);
      if (!result.ok && result.lockedUntil !== undefined) {
        await log(session, result.lockedNow ? 'psu.locked' : 'login.failed', {
          psuId: result.psuId,
          detail: { lockedUntil: result.lockedUntil },
        });
        return redirect(c, `/${lang}/authorize/login?retry=locked&until=${result.lockedUntil}`);
      }
      await log(session, result.ok ? 'login.succeeded' : 'login.failed', {
        psuId: result.psuId,
        detail: result.ok ? undefined : { factor: 'knowledge' },
      });
      // Right or wrong, the PSU is asked for the code: only the end result is shown (RTS art. 4(3)(a)).
      await deps.sessions.advance(digest, 'login', { stage: 'sca', psuId: result.ok ? result.psuId : null });
      return redirect(c, `/${lang}/authorize/otp`);
    },
    pageValidation(pathLang),
  );

  app.openapi(
    otpFormRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const loaded = await loadSession(c, lang, ['sca']);
      if (loaded instanceof Response) return loaded;
      const page = otpPage(lang, { csrf: loaded.session.csrfToken, action: `/${lang}/authorize/otp` });
      return show(c, page, 200, { formTargets: [origin(loaded.session.request.redirectUri)] });
    },
    pageValidation(pathLang),
  );

  app.openapi(
    otpRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      const loaded = await checkedForm(c, lang, ['sca'], form.csrf_token);
      if (loaded instanceof Response) return loaded;
      const { digest, session } = loaded;
      const now = Date.now();
      if (session.psuId) {
        const result = await deps.authenticator.verifyOneTimeCode(session.psuId, form.otp ?? '', now);
        if (result.ok) {
          await deps.sessions.advance(digest, 'sca', { stage: 'consent', authenticatedAt: now });
          await log(session, 'sca.succeeded');
          return redirect(c, `/${lang}/authorize/consent`);
        }
        await log(session, result.lockedNow ? 'psu.locked' : 'sca.failed', {
          detail: result.lockedUntil ? { lockedUntil: result.lockedUntil } : { factor: 'possession' },
        });
        await deps.sessions.advance(digest, 'sca', { stage: 'login', psuId: null });
        if (result.lockedUntil !== undefined) {
          return redirect(c, `/${lang}/authorize/login?retry=locked&until=${result.lockedUntil}`);
        }
        return redirect(c, `/${lang}/authorize/login?retry=failed`);
      }
      await log(session, 'sca.failed', { detail: { factor: 'knowledge' } });
      await deps.sessions.advance(digest, 'sca', { stage: 'login' });
      return redirect(c, `/${lang}/authorize/login?retry=failed`);
    },
    pageValidation(pathLang),
  );

  app.openapi(
    consentFormRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const loaded = await loadSession(c, lang, ['consent']);
      if (loaded instanceof Response) return loaded;
      return renderConsent(c, lang, loaded.session);
    },
    pageValidation(pathLang),
  );

  app.openapi(stylesheetRoute, (c) => {
    c.header('Cache-Control', 'public, max-age=3600');
    c.header('X-Content-Type-Options', 'nosniff');
    return c.body(PSU_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' }) as never;
  });
}
