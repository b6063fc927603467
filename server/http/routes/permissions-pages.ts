// The permission dashboard's pages on the PSU listener (/{lang}/permissions): the handlers read the
// cookie and the form, call a use case of protocol/permissions/dashboard.ts, and turn its outcome
// into a page or a redirect. Same headers, cookie rules and CSRF checks as the consent pages.
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { formatInstant, isLang, type Lang, t } from '../../pages/i18n.ts';
import {
  confirmPage,
  dashboardErrorPage,
  dashboardPage,
  dashboardPaths,
  otpPage,
  type PermissionMessage,
  personaPage,
  pt,
  signInPage,
} from '../../pages/permissions.ts';
import type { DashboardOutcome, PermissionDashboard } from '../../protocol/permissions/dashboard.ts';
import type { PsuStore } from '../../protocol/psu/ports.ts';
import type { AppEnv } from '../env.ts';
import { urlencodedFormData } from '../form.ts';
import { DASHBOARD_COOKIE, seeOther, sessionSecret, setSessionSecret, showPage } from '../psu-pages.ts';
import { responseHeaders } from '../schemas.ts';

const TAG = 'PSU pages';
const html = (description: string) => ({
  description,
  headers: responseHeaders({ 'Cache-Control': 'no-store' }),
  content: { 'text/html': { schema: z.string().openapi({ description: 'An HTML page' }) } },
});
const seeOtherResponse = (description: string) => ({
  description,
  headers: {
    Location: { description: 'Where the browser goes next', schema: { type: 'string' as const } },
    ...responseHeaders({ 'Cache-Control': 'no-store' }),
  },
});
const LangParam = z.object({ lang: z.enum(['fr', 'en']).openapi({ param: { name: 'lang', in: 'path' } }) });
const ConsentParam = LangParam.extend({
  consent_id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'consent_id', in: 'path' } }),
});
const CsrfField = { csrf_token: z.string().optional() };
const formBody = <T extends z.ZodRawShape>(shape: T) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: z.object({ ...CsrfField, ...shape }) } },
});
const errors = {
  400: html('A malformed form.'),
  403: html('The CSRF token is missing or wrong.'),
  404: html('No such permission for this PSU.'),
  409: html('The permission was already withdrawn or has expired.'),
  410: html('No session: the cookie is missing, unknown or the session ended.'),
};

export const dashboardRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/{lang}/permissions',
  tags: [TAG],
  summary: 'The permission dashboard (after login and SCA; the persona in the sandbox)',
  request: {
    params: LangParam,
    query: z.object({
      notice: z.enum(['withdrawn', 'signed_out']).optional(),
      retry: z.enum(['failed', 'locked']).optional(),
      until: z.string().optional(),
    }),
  },
  responses: { 200: html('The sign-in step, or the dashboard.'), ...errors },
});
const post = <T extends z.ZodRawShape>(path: string, summary: string, shape: T) =>
  createRoute({
    hide: true,
    method: 'post',
    path,
    tags: [TAG],
    summary,
    request: { params: LangParam, body: formBody(shape) },
    responses: { 303: seeOtherResponse('Back to the dashboard.'), ...errors },
  });
export const dashboardLoginRoute = post('/{lang}/permissions/login', 'Identifier and password (first factor)', {
  username: z.string().optional(),
  password: z.string().optional(),
});
export const dashboardOtpRoute = post('/{lang}/permissions/otp', 'One-time code (second factor)', {
  otp: z.string().optional(),
});
export const dashboardPersonaRoute = post('/{lang}/permissions/persona', 'Sandbox: the test customer', {
  persona: z.string().optional(),
});
export const dashboardSignOutRoute = post('/{lang}/permissions/sign-out', 'Ends the dashboard session', {});
export const confirmWithdrawalRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/{lang}/permissions/{consent_id}/withdraw',
  tags: [TAG],
  summary: 'The confirmation step of a withdrawal',
  request: { params: ConsentParam },
  responses: { 200: html('Withdraw or Back.'), 303: seeOtherResponse('Not signed in.'), ...errors },
});
export const withdrawRoute = createRoute({
  hide: true,
  method: 'post',
  path: '/{lang}/permissions/{consent_id}/withdraw',
  tags: [TAG],
  summary: 'Withdraws the permission (CSRF token of the session)',
  request: { params: ConsentParam, body: formBody({}) },
  responses: { 303: seeOtherResponse('To the dashboard, with the notice.'), ...errors },
});

export interface PermissionPagesDeps {
  dashboard: PermissionDashboard;
  /** The sandbox's sign-in lists the personas. */
  psus: Pick<PsuStore, 'list'>;
  /** IANA zone of the times the pages show (BANK_TIME_ZONE). */
  timeZone: string;
}

/** The largest time a JavaScript Date holds (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

export function mountPermissionPages(app: OpenAPIHono<AppEnv>, deps: PermissionPagesDeps): void {
  const { dashboard } = deps;
  app.use('/:lang/permissions/*', urlencodedFormData);
  const secretOf = (c: Context<AppEnv>) => sessionSecret(c, DASHBOARD_COOKIE);
  const errorPage = (c: Context<AppEnv>, lang: Lang, status: 400 | 403 | 404 | 409 | 410) => {
    const message: Record<typeof status, PermissionMessage> = {
      400: 'error.invalid_request',
      403: 'error.csrf',
      404: 'error.not_found',
      409: 'error.conflict',
      410: 'error.session',
    };
    return showPage(c, dashboardErrorPage(lang, message[status]), status);
  };
  const pathLang = (c: Context<AppEnv>): Lang => {
    const lang = c.req.param('lang');
    return isLang(lang) ? lang : 'fr';
  };
  const pageValidation = (result: { success: boolean }, c: Context<AppEnv>) =>
    result.success ? undefined : errorPage(c, pathLang(c), 400);

  async function answer(c: Context<AppEnv>, lang: Lang, outcome: DashboardOutcome, message?: string) {
    switch (outcome.type) {
      case 'error':
        return errorPage(c, lang, outcome.status);
      case 'goto': {
        const n = outcome.notice;
        const query = !n
          ? ''
          : 'withdrawn' in n
            ? '?notice=withdrawn'
            : 'signedOut' in n
              ? '?notice=signed_out'
              : 'lockedUntil' in n
                ? `?retry=locked&until=${n.lockedUntil}`
                : '?retry=failed';
        return seeOther(c, `${dashboardPaths(lang).base}${query}`);
      }
      case 'login': {
        const csrf = outcome.session.csrfToken;
        if (dashboard.settings.mode === 'sandbox') {
          const personas = (await deps.psus.list({ sandbox: true })).filter((p) => p.status === 'active');
          return showPage(c, personaPage(lang, { csrf, personas, notice: message }), 200);
        }
        const signedOut = c.req.query('notice') === 'signed_out' ? pt(lang, 'notice.signed_out') : undefined;
        return showPage(c, signInPage(lang, { csrf, message, notice: signedOut }), 200);
      }
      case 'otp':
        return showPage(c, otpPage(lang, { csrf: outcome.session.csrfToken }), 200);
      case 'overview':
        return showPage(
          c,
          dashboardPage(lang, {
            overview: outcome.overview,
            csrf: outcome.session.csrfToken,
            timeZone: deps.timeZone,
            ...(c.req.query('notice') === 'withdrawn' ? { notice: 'withdrawn' as const } : {}),
          }),
          200,
        );
      case 'confirm':
        return showPage(
          c,
          confirmPage(lang, {
            permission: outcome.permission,
            csrf: outcome.session.csrfToken,
            timeZone: deps.timeZone,
          }),
          200,
        );
    }
  }

  app.openapi(
    dashboardRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const { retry, until } = c.req.valid('query');
      const { secret, outcome } = await dashboard.view(secretOf(c), lang);
      if (secret) setSessionSecret(c, secret, DASHBOARD_COOKIE);
      return answer(c, lang, outcome, loginNotice(lang, retry, until, deps.timeZone));
    },
    pageValidation,
  );

  app.openapi(
    dashboardLoginRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      const outcome = await dashboard.login(secretOf(c), {
        csrf: form.csrf_token,
        username: String(form.username ?? ''),
        password: String(form.password ?? ''),
      });
      return answer(c, lang, outcome);
    },
    pageValidation,
  );

  app.openapi(
    dashboardOtpRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      return answer(c, lang, await dashboard.otp(secretOf(c), { csrf: form.csrf_token, otp: String(form.otp ?? '') }));
    },
    pageValidation,
  );

  app.openapi(
    dashboardPersonaRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      const form = c.req.valid('form');
      const outcome = await dashboard.persona(secretOf(c), {
        csrf: form.csrf_token,
        persona: String(form.persona ?? ''),
      });
      return answer(c, lang, outcome);
    },
    pageValidation,
  );

  app.openapi(
    dashboardSignOutRoute,
    async (c) => {
      const { lang } = c.req.valid('param');
      return answer(c, lang, await dashboard.signOut(secretOf(c), { csrf: c.req.valid('form').csrf_token }));
    },
    pageValidation,
  );

  app.openapi(
    confirmWithdrawalRoute,
    async (c) => {
      const { lang, consent_id } = c.req.valid('param');
      return answer(c, lang, await dashboard.confirm(secretOf(c), consent_id, lang));
    },
    pageValidation,
  );

  app.openapi(
    withdrawRoute,
    async (c) => {
      const { lang, consent_id } = c.req.valid('param');
      const outcome = await dashboard.withdraw(secretOf(c), {
        csrf: c.req.valid('form').csrf_token,
        consentId: consent_id,
      });
      return answer(c, lang, outcome);
    },
    pageValidation,
  );
}

/** The sign-in page's single failure message; a lock's end as the server's redirect gave it. */
function loginNotice(lang: Lang, retry: 'failed' | 'locked' | undefined, until: string | undefined, timeZone: string) {
  if (retry === 'failed') return t(lang, 'login.failed');
  if (retry !== 'locked') return undefined;
  const ms = until && /^\d{1,16}$/.test(until) ? Number(until) : Number.NaN;
  const time = ms <= MAX_DATE_MS ? formatInstant(ms, lang, timeZone) : '';
  return t(lang, 'login.locked', { time, zone: timeZone });
}
