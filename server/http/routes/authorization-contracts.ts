// The OpenAPI contracts of the authorization endpoint and the PSU pages: what each route accepts
// and answers. The handlers (authorization.ts) are typed from these objects.
import { createRoute, z } from '@hono/zod-openapi';
import { responseHeaders } from '../schemas.ts';

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
  authorization_details: z.string().optional().openapi({
    description:
      'Scope pisp only (RFC 9396): `[{"type":"payment_initiation","identifier":"<authorization_id>"}]`, already in the consentApproval href the bank returned; the payment itself comes from the bank’s registration.',
  }),
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

export const paymentFormRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/{lang}/authorize/payment',
  tags: [TAG],
  summary: 'The payment page: amount, payee and accounts as the bank registered them',
  request: { params: LangParam },
  responses: { 200: html('The payment page.'), 303: seeOther('The session ended.'), ...sessionErrors },
});

export const paymentRoute = createRoute({
  hide: true,
  method: 'post',
  path: '/{lang}/authorize/payment',
  tags: [TAG],
  summary: 'The PSU confirms (with the one-time code in production) or refuses the payment',
  description:
    'Confirm: the second factor is checked on the page that shows amount and payee, the payment is re-read (withdrawn, expired or changed: an error page and access_denied, no code), and the approval, the code and the payment’s authorisation are written in one transaction, bound to `payment_hash`.',
  request: {
    params: LangParam,
    body: formBody({
      decision: z.enum(['approve', 'refuse']).optional(),
      otp: z.string().optional(),
      account: z.string().optional().openapi({ description: 'The debtor account, unless the bank fixed it.' }),
      payment_hash: z.string().optional().openapi({ description: 'The hash of the payment the page showed.' }),
    }),
  },
  responses: {
    200: html('The page again, when no account was chosen.'),
    303: seeOther(
      'The redirect URI with the authorization response, the debtor-account page (production, no account fixed), or back to the login.',
    ),
    ...sessionErrors,
  },
});

export const debtorAccountFormRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/{lang}/authorize/debtor-account',
  tags: [TAG],
  summary: 'Production, after the code: the choice of the account to pay from',
  request: { params: LangParam },
  responses: { 200: html('The debtor-account page.'), 303: seeOther('The session ended.'), ...sessionErrors },
});

export const debtorAccountRoute = createRoute({
  hide: true,
  method: 'post',
  path: '/{lang}/authorize/debtor-account',
  tags: [TAG],
  summary: 'Production, after the code: the PSU confirms with the chosen account, or refuses',
  description:
    'The PSU’s accounts are listed only once both factors are verified, so the payment page does not reveal which one failed. Confirm re-reads the payment and writes the approval, the code and the payment’s authorisation in one transaction, bound to `payment_hash`.',
  request: {
    params: LangParam,
    body: formBody({
      decision: z.enum(['approve', 'refuse']).optional(),
      account: z.string().optional().openapi({ description: 'The debtor account.' }),
      payment_hash: z.string().optional().openapi({ description: 'The hash of the payment the page showed.' }),
    }),
  },
  responses: {
    200: html('The page again, when no held account was chosen.'),
    303: seeOther('The redirect URI with the authorization response.'),
    ...sessionErrors,
  },
});

export const cancelRoute = createRoute({
  hide: true,
  method: 'post',
  path: '/{lang}/authorize/cancel',
  tags: [TAG],
  summary: 'The PSU gives up: cancel and return to the TPP',
  description:
    'Available on the login, one-time code, consent, payment and debtor-account pages: ends the session and sends the browser to the redirect URI with `error=access_denied`, `state` and `iss`, so the TPP is never left waiting.',
  request: { params: LangParam, body: formBody({}) },
  responses: { 303: seeOther('The redirect URI with `error=access_denied`.'), ...sessionErrors },
});

export const stylesheetRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/assets/psu.css',
  tags: [TAG],
  summary: 'The stylesheet of the PSU pages',
  responses: { 200: { description: 'CSS', content: { 'text/css': { schema: z.string() } } } },
});

export const bankLogoRoute = createRoute({
  hide: true,
  method: 'get',
  path: '/assets/bank-logo',
  tags: [TAG],
  summary: 'The bank’s logo (BANK_LOGO naming a file): PNG, JPEG, WebP or SVG',
  responses: {
    200: {
      description: 'The logo',
      content: {
        'image/png': { schema: z.string() },
        'image/jpeg': { schema: z.string() },
        'image/webp': { schema: z.string() },
        'image/svg+xml': { schema: z.string() },
      },
    },
  },
});
