// The authorization endpoint and the PSU's pages. The handlers only adapt HTTP: they read the
// cookie and the form, call a step of the PSU journey (protocol/psu-journey.ts), and turn its
// outcome into a page, a redirect to the next step, or the redirect back to the client.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { psuStylesheet } from '../../pages/assets.ts';
import {
  consentPage,
  debtorAccountPage,
  errorPage,
  loginPage,
  otpPage,
  paymentPage,
  sandboxPage,
  type TppDisplay,
} from '../../pages/authorize.ts';
import { BANK_LOGO_PATH, type Branding } from '../../pages/branding.ts';
import { formatInstant, isLang, LANGUAGES, type Lang, type MessageKey, negotiateLang, t } from '../../pages/i18n.ts';
import type { PageContent } from '../../pages/layout.ts';
import { tppDisplay as tppOf } from '../../pages/tpp.ts';
import {
  authorizationResponseUrl,
  checkAuthorizationRequest,
  RedirectableError,
  rawParameters,
  UntrustedRequestError,
} from '../../protocol/authorization.ts';
import { OAuthError } from '../../protocol/errors.ts';
import type { PaymentAuthorizationStore } from '../../protocol/payments/ports.ts';
import type { PsuStore, PushedRequestStore } from '../../protocol/psu/ports.ts';
import type { JourneyOutcome, PsuJourney } from '../../protocol/psu-journey.ts';
import type { ClientStore } from '../../protocol/registration/ports.ts';
import type { AppEnv } from '../env.ts';
import { urlencodedFormData } from '../form.ts';
import {
  type PageSources,
  type PageStatus,
  pageSources,
  respondToClient,
  seeOther,
  sessionSecret,
  setSessionSecret,
  showPage as show,
  showError,
} from '../psu-pages.ts';
import {
  authorizeRoute,
  bankLogoRoute,
  cancelRoute,
  consentFormRoute,
  debtorAccountFormRoute,
  debtorAccountRoute,
  decisionRoute,
  localizedAuthorizeRoute,
  loginFormRoute,
  loginRoute,
  otpFormRoute,
  otpRoute,
  paymentFormRoute,
  paymentRoute,
  stylesheetRoute,
} from './authorization-contracts.ts';

export interface AuthorizationRouteDeps {
  issuer: string;
  clients: ClientStore;
  pushedRequests: PushedRequestStore;
  payments: Pick<PaymentAuthorizationStore, 'find'>;
  /** The sandbox page lists the personas. */
  psus: Pick<PsuStore, 'list'>;
  journey: PsuJourney;
  /** The clock the journey uses, for the request checks (PAR expiry). */
  clock: () => number;
  /** IANA zone of the times the pages show (BANK_TIME_ZONE). */
  timeZone: string;
  /** The bank's branding, validated (server/config.ts); the logo's bytes when BANK_LOGO is a file. */
  branding?: Branding & { logoFile?: { bytes: Uint8Array; contentType: string } };
}

/** The largest time a JavaScript Date holds (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

export function mountAuthorization(app: OpenAPIHono<AppEnv>, deps: AuthorizationRouteDeps): void {
  const { journey } = deps;
  app.use('/:lang/authorize/*', urlencodedFormData);
  const accountsOf = (psuId: string) => journey.accounts.accountsOf(psuId);

  async function tppDisplay(clientId: string, lang: Lang): Promise<TppDisplay> {
    return tppOf(await deps.clients.find(clientId), clientId, lang);
  }

  /** The journey's outcome as HTTP. `notice` is the login page's message, if any. */
  async function answer(c: Context<AppEnv>, lang: Lang, outcome: JourneyOutcome, notice?: string) {
    switch (outcome.type) {
      case 'error':
        if (outcome.reason === 'payment_changed') {
          // The PSU reads why, and the link takes them back to the TPP with access_denied.
          const { request } = outcome;
          c.set('clientId', request.clientId);
          c.set('errorCode', 'access_denied');
          const back = authorizationResponseUrl(
            deps.issuer,
            request.redirectUri,
            { error: 'access_denied', error_description: 'the payment was withdrawn, expired or changed' },
            request.state,
          );
          const tpp = await tppDisplay(request.clientId, lang);
          return show(c, errorPage(lang, 'error.payment_changed', { href: back, client: tpp.name }), 409);
        }
        return showError(c, lang, `error.${outcome.reason}` as MessageKey, outcome.status);
      case 'respond':
        c.set('clientId', outcome.request.clientId);
        if ('error' in outcome.response) c.set('errorCode', outcome.response.error);
        return respondToClient(c, deps.issuer, outcome.request, outcome.response);
      case 'goto': {
        const path = `/${lang}/authorize/${outcome.step.replace('_', '-')}`;
        const retry = outcome.retry;
        if (!retry) return seeOther(c, path);
        return seeOther(
          c,
          'lockedUntil' in retry ? `${path}?retry=locked&until=${retry.lockedUntil}` : `${path}?retry=failed`,
        );
      }
      case 'page':
        return renderPage(c, lang, outcome, notice);
    }
  }

  async function renderPage(
    c: Context<AppEnv>,
    lang: Lang,
    outcome: Extract<JourneyOutcome, { type: 'page' }>,
    notice?: string,
  ) {
    const { session, problem } = outcome;
    c.set('clientId', session.request.clientId);
    const tpp = await tppDisplay(session.request.clientId, lang);
    const sources = pageSources(session.request.redirectUri, tpp.logoUri);
    // The other language shows this step of this session again: its own GET page (never the
    // authorization request, whose request_uri is single use), or this very GET with its query.
    // (A page's name is its path segment, debtor_account's written with a hyphen.)
    const step = outcome.page === 'sandbox' ? 'consent' : outcome.page.replace('_', '-');
    const stepPage = c.req.method === 'GET' && c.req.path.endsWith(`/authorize/${step}`);
    const languages = stepPage ? undefined : Object.fromEntries(LANGUAGES.map((l) => [l, `/${l}/authorize/${step}`]));
    const showPage = (c: Context<AppEnv>, page: PageContent, status: PageStatus, extra: PageSources) =>
      show(c, page, status, extra, languages);
    const common = { tpp, csrf: session.csrfToken, cancelAction: `/${lang}/authorize/cancel` };
    const decision = `/${lang}/authorize/decision`;
    const days = journey.consentDays(session.request.scope);
    switch (outcome.page) {
      case 'login':
        return showPage(
          c,
          loginPage(lang, { ...common, action: `/${lang}/authorize/login`, message: notice }),
          200,
          sources,
        );
      case 'otp':
        return showPage(c, otpPage(lang, { ...common, action: `/${lang}/authorize/otp` }), 200, sources);
      case 'consent': {
        const page = consentPage(lang, {
          ...common,
          scope: session.request.scope,
          days,
          accounts: await accountsOf(session.psuId ?? ''),
          action: decision,
          ...(problem ? { error: 'consent.no_account' as const, chosen: problem.chosen } : {}),
        });
        return showPage(c, page, problem ? 400 : 200, sources);
      }
      case 'payment':
      case 'debtor_account': {
        const record = await deps.payments.find(session.request.paymentAuthorizationId ?? '');
        if (!record) return showError(c, lang, 'error.payment_changed', 409);
        const currency = record.payment.instructedAmount.currency;
        const payment = {
          action: record.action,
          amount: record.payment.instructedAmount.amount,
          currency,
          creditorName: record.payment.creditorName,
          creditorIban: record.payment.creditorAccount.iban,
          remittanceInformation: record.payment.remittanceInformation,
          requestedExecutionDate: record.payment.requestedExecutionDate,
          debtorIban: record.payment.debtorAccount?.iban,
          paymentHash: record.paymentHash,
        };
        const chosen = problem ? { error: 'payment.choose_account' as const, chosen: problem.chosen[0] } : {};
        if (outcome.page === 'debtor_account') {
          // Both factors are verified: the PSU's own accounts (the fixed one only, if the bank fixed it).
          const fixed = payment.debtorIban;
          const accounts = (await accountsOf(session.psuId ?? '')).filter(
            (a) => a.currency === currency && (!fixed || a.iban === fixed),
          );
          const page = debtorAccountPage(lang, {
            ...common,
            action: `/${lang}/authorize/debtor-account`,
            payment,
            accounts,
            ...chosen,
          });
          return showPage(c, page, problem ? 400 : 200, sources);
        }
        // Production lists no account before the code (see paymentPage); the sandbox lists every persona's.
        const accounts =
          journey.settings.mode === 'sandbox'
            ? (
                await Promise.all(
                  (
                    await deps.psus.list({ sandbox: true })
                  )
                    .filter((p) => p.status === 'active')
                    .map(async (p) => (await accountsOf(p.psuId)).map((a) => ({ ...a, owner: p.displayName }))),
                )
              ).flat()
            : [];
        const page = paymentPage(lang, {
          ...common,
          action: `/${lang}/authorize/payment`,
          withCode: journey.settings.mode === 'production',
          payment,
          accounts: accounts.filter((a) => a.currency === currency),
          ...chosen,
        });
        return showPage(c, page, problem ? 400 : 200, sources);
      }
      case 'sandbox': {
        const personas = await Promise.all(
          (await deps.psus.list({ sandbox: true }))
            .filter((p) => p.status === 'active')
            .map(async (p) => ({ psuId: p.psuId, displayName: p.displayName, accounts: await accountsOf(p.psuId) })),
        );
        const page = sandboxPage(lang, {
          ...common,
          scope: session.request.scope,
          days,
          personas,
          action: decision,
          ...(problem
            ? {
                error: 'consent.no_account' as const,
                chosen: { psuId: problem.psuId ?? '', accountIds: problem.chosen },
              }
            : {}),
        });
        return showPage(c, page, 200, sources);
      }
    }
  }

  async function start(c: Context<AppEnv>, lang: Lang) {
    let checked: Awaited<ReturnType<typeof checkAuthorizationRequest>>;
    try {
      checked = await checkAuthorizationRequest(
        { clients: deps.clients, pushedRequests: deps.pushedRequests, payments: deps.payments },
        rawParameters(new URL(c.req.url).searchParams),
        deps.clock(),
      );
    } catch (err) {
      if (err instanceof UntrustedRequestError) {
        c.set('errorCode', err.reason === 'unknown_client' ? 'invalid_client' : 'invalid_request');
        c.set('errorDetail', err.description);
        return showError(c, lang, `error.${err.reason}` as MessageKey, 400);
      }
      if (err instanceof RedirectableError) {
        c.set('clientId', err.request.clientId);
        c.set('errorCode', err.code);
        return respondToClient(c, deps.issuer, err.request, { error: err.code, error_description: err.description });
      }
      throw err;
    }
    c.set('clientId', checked.request.clientId);
    const { secret, outcome } = await journey.start(checked.request);
    setSessionSecret(c, secret);
    return answer(c, lang, outcome);
  }

  const pageValidation = (result: { success: boolean }, c: Context<AppEnv>) =>
    result.success ? undefined : showError(c, pathLang(c), 'error.invalid_request', 400);
  const pathLang = (c: Context<AppEnv>): Lang => {
    const lang = c.req.param('lang');
    return isLang(lang) ? lang : 'fr';
  };

  // A repeated parameter fails the documented schema: the request checks then report it as OAuth says.
  const negotiated = (c: Context<AppEnv>) => negotiateLang(c.req.query('ui_locales'), c.req.header('accept-language'));
  app.openapi(
    authorizeRoute,
    (c) => start(c, negotiated(c)),
    (result, c) => (result.success ? undefined : start(c, negotiated(c))),
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
      const outcome = await journey.decide(sessionSecret(c), {
        csrf: form.csrf_token,
        approve: form.decision === 'approve',
        persona: form.persona,
        accounts: form.account === undefined ? [] : [form.account].flat(),
      });
      return answer(c, lang, outcome);
    },
    pageValidation,
  );

  app.openapi(
    loginFormRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const { retry, until } = c.req.valid('query');
      const outcome = await journey.view(sessionSecret(c), 'login');
      return answer(c, lang, outcome, loginNotice(lang, retry, until, deps.timeZone));
    },
    pageValidation,
  );

  app.openapi(
    loginRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      const outcome = await journey.login(sessionSecret(c), {
        csrf: form.csrf_token,
        username: form.username ?? '',
        password: form.password ?? '',
      });
      return answer(c, lang, outcome);
    },
    pageValidation,
  );

  app.openapi(
    otpFormRoute,
    async (c) => answer(c, c.req.valid('param').lang, await journey.view(sessionSecret(c), 'otp')),
    pageValidation,
  );

  app.openapi(
    otpRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      return answer(c, lang, await journey.otp(sessionSecret(c), { csrf: form.csrf_token, otp: form.otp ?? '' }));
    },
    pageValidation,
  );

  app.openapi(
    consentFormRoute,
    async (c) => answer(c, c.req.valid('param').lang, await journey.view(sessionSecret(c), 'consent')),
    pageValidation,
  );

  app.openapi(
    paymentFormRoute,
    async (c) => answer(c, c.req.valid('param').lang, await journey.view(sessionSecret(c), 'payment')),
    pageValidation,
  );

  app.openapi(
    paymentRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      const outcome = await journey.payment(sessionSecret(c), {
        csrf: form.csrf_token,
        approve: form.decision === 'approve',
        otp: form.otp ?? '',
        account: form.account,
        paymentHash: form.payment_hash,
      });
      return answer(c, lang, outcome);
    },
    pageValidation,
  );

  app.openapi(
    debtorAccountFormRoute,
    async (c) => answer(c, c.req.valid('param').lang, await journey.view(sessionSecret(c), 'debtor_account')),
    pageValidation,
  );

  app.openapi(
    debtorAccountRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      const outcome = await journey.debtorAccount(sessionSecret(c), {
        csrf: form.csrf_token,
        approve: form.decision === 'approve',
        account: form.account,
        paymentHash: form.payment_hash,
      });
      return answer(c, lang, outcome);
    },
    pageValidation,
  );

  app.openapi(
    cancelRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      return answer(c, lang, await journey.cancel(sessionSecret(c), { csrf: form.csrf_token }));
    },
    pageValidation,
  );

  const stylesheet = psuStylesheet(deps.branding?.primaryColor);
  app.openapi(stylesheetRoute, (c) => {
    c.header('Cache-Control', 'public, max-age=3600');
    c.header('X-Content-Type-Options', 'nosniff');
    return c.body(stylesheet, 200, { 'Content-Type': 'text/css; charset=utf-8' }) as never;
  });

  const logo = deps.branding?.logoFile;
  app.openapi(bankLogoRoute, (c) => {
    if (!logo) throw new OAuthError('not_found', `No endpoint at GET ${BANK_LOGO_PATH}.`);
    c.header('Cache-Control', 'public, max-age=3600');
    c.header('X-Content-Type-Options', 'nosniff');
    // An SVG opened on its own would be a document of this origin: no script, no plugin, sandboxed.
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    return c.body(logo.bytes as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': logo.contentType }) as never;
  });
}

/** The login page's single failure message; a lock's end as the server's query gave it. */
function loginNotice(lang: Lang, retry: 'failed' | 'locked' | undefined, until: string | undefined, timeZone: string) {
  if (retry === 'failed') return t(lang, 'login.failed');
  if (retry !== 'locked') return undefined;
  const ms = until && /^\d{1,16}$/.test(until) ? Number(until) : Number.NaN;
  const time = ms <= MAX_DATE_MS ? formatInstant(ms, lang, timeZone) : '';
  return t(lang, 'login.locked', { time, zone: timeZone });
}
