// The PSU pages, rendered with hono/html's `html` template: interpolations are escaped, `raw` is
// never used on anything that comes from a request. (JSX syntax cannot run under type stripping,
// and nested `jsx()` calls hide the markup; the template keeps it readable and just as safe.)
import { html } from 'hono/html';
import type { PsuAccount } from '../protocol/bank.ts';
import { type Lang, type MessageKey, t } from './i18n.ts';
import { layout, type PageContent } from './layout.ts';
import { type TppDisplay, tppPanel } from './tpp.ts';

export type { TppDisplay } from './tpp.ts';

type Html = ReturnType<typeof html>;

function tppHeader(lang: Lang, tpp: TppDisplay): Html {
  return tppPanel(lang, tpp);
}

function scopeList(lang: Lang, tpp: TppDisplay, scope: string, days: number): Html {
  const items = scope.split(' ').map((s) => html`<li>${t(lang, `scope.${s}` as MessageKey)}</li>`);
  return html`<p>${t(lang, 'request.asks', { client: tpp.name })}</p>
<ul class="scopes">${items}</ul>
<p class="small">${t(lang, 'consent.duration', { days })}</p>`;
}

function alert(message: string | undefined): Html | string {
  return message ? html`<p class="alert" role="alert">${message}</p>` : '';
}

function accountChoice(lang: Lang, account: PsuAccount, checked: boolean, persona?: string): Html {
  const id = `account-${account.accountId}`;
  return html`<div class="choice">
<input type="checkbox" name="account" id="${id}" value="${account.accountId}"${persona ? html` data-persona="${persona}"` : ''}${checked ? ' checked' : ''}>
<label for="${id}">${t(lang, `account.${account.type}` as MessageKey)} · ${account.name} <span class="iban">${groupIban(account.iban)} (${account.currency})</span></label>
</div>`;
}

function decisionButtons(lang: Lang): Html {
  return html`<div class="actions">
<button type="submit" class="primary" name="decision" value="approve">${t(lang, 'consent.approve')}</button>
<button type="submit" class="secondary" name="decision" value="refuse">${t(lang, 'consent.refuse')}</button>
</div>`;
}

/** What every step's page needs for its forms and its way out. */
export interface StepView {
  tpp: TppDisplay;
  csrf: string;
  /** Where "Cancel and return to the TPP" posts. */
  cancelAction: string;
}

/** A form of its own, so that leaving never needs the step's fields to be filled in. */
function wayOut(lang: Lang, view: StepView): Html {
  return html`<form method="post" action="${view.cancelAction}" class="way-out">
<input type="hidden" name="csrf_token" value="${view.csrf}">
<button type="submit" class="link">${t(lang, 'cancel.return', { client: view.tpp.name })}</button>
</form>`;
}

export function errorPage(lang: Lang, message: MessageKey, back?: { href: string; client: string }): PageContent {
  return layout(
    lang,
    t(lang, 'page.error'),
    html`<p class="alert" role="alert">${t(lang, message)}</p>${
      back
        ? html`<p><a class="button" href="${back.href}">${t(lang, 'error.return', { client: back.client })}</a></p>`
        : html`<p>${t(lang, 'error.back')}</p>`
    }`,
  );
}

/** The payment as the bank registered it, in the PSU's language (RTS art. 5(1)(a)). */
export interface PaymentView {
  action: 'initiate' | 'cancel';
  amount: string;
  currency: string;
  creditorName: string;
  creditorIban: string;
  remittanceInformation?: string;
  requestedExecutionDate?: string;
  /** Set when the bank fixed the account. */
  debtorIban?: string;
  paymentHash: string;
}

/** `123,50 €` in French, `€123.50` in English, with the currency's own minor digits. */
export function formatAmount(lang: Lang, amount: string, currency: string): string {
  return new Intl.NumberFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', { style: 'currency', currency }).format(
    Number(amount),
  );
}

/** A requested execution date (`YYYY-MM-DD`, a calendar day: no time zone moves it) in words. */
export function formatDate(lang: Lang, date: string): string {
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(
    new Date(`${date}T00:00:00Z`),
  );
}

/** An IBAN in groups of four, as printed on a statement. */
export function groupIban(iban: string): string {
  return iban.replace(/(.{4})(?=.)/g, '$1 ');
}

/** Amount, payee, payee's IBAN, reference and date, as the bank registered them. */
function paymentRows(lang: Lang, p: PaymentView): { amount: string; rows: Html; row: PaymentRow } {
  const amount = formatAmount(lang, p.amount, p.currency);
  const row: PaymentRow = (label, value, cls = '') =>
    value === undefined ? '' : html`<dt>${t(lang, label)}</dt><dd class="${cls}">${value}</dd>`;
  const rows = html`${row('payment.amount', amount, 'amount')}
${row('payment.creditor', p.creditorName)}
${row('payment.creditor_iban', groupIban(p.creditorIban), 'iban')}
${row('payment.remittance', p.remittanceInformation)}
${row('payment.date', p.requestedExecutionDate && formatDate(lang, p.requestedExecutionDate))}`;
  return { amount, rows, row };
}
type PaymentRow = (label: MessageKey, value: string | undefined, cls?: string) => Html | string;

/** Radio buttons for the account to pay from (below the payment, full width), or why there is none. */
function debtorChoice(
  lang: Lang,
  p: PaymentView,
  accounts: (PsuAccount & { owner?: string })[],
  chosen: string | undefined,
): Html {
  if (accounts.length === 0)
    return html`<p class="notice">${t(lang, 'payment.no_account', { currency: p.currency })}</p>`;
  const legend = t(lang, p.action === 'cancel' ? 'payment.choose_account_cancel' : 'payment.choose_account');
  return html`<fieldset class="debtor"><legend>${legend}</legend>${accounts.map((a, i) => {
    const id = `debtor-${a.accountId}`;
    const checked = chosen ? chosen === a.accountId : i === 0;
    return html`<div class="choice"><input type="radio" name="account" id="${id}" value="${a.accountId}"${checked ? ' checked' : ''}><label for="${id}">${a.owner ? html`<span class="owner">${a.owner}</span> · ` : ''}${a.name}<br><span class="iban">${groupIban(a.iban)}</span></label></div>`;
  })}</fieldset>`;
}

function paymentIntro(lang: Lang, p: PaymentView, client: string, amount: string): Html {
  return html`<p>${
    p.action === 'cancel'
      ? t(lang, 'payment.asks_cancel', { client, amount, creditor: p.creditorName })
      : t(lang, 'payment.asks', { client })
  }</p>`;
}

const paymentTitle = (lang: Lang, p: PaymentView) =>
  t(lang, p.action === 'cancel' ? 'page.payment_cancel' : 'page.payment');

function paymentButtons(lang: Lang, confirm: boolean): Html {
  return html`<div class="actions equal">
${confirm ? html`<button type="submit" class="primary" name="decision" value="approve">${t(lang, 'payment.confirm')}</button>` : ''}
<button type="submit" class="primary" name="decision" value="refuse" formnovalidate>${t(lang, 'payment.refuse')}</button>
</div>`;
}

/**
 * The payment page. Production (`withCode`): no account of the PSU is listed yet, only the one the
 * bank fixed, so that the page is the same whether the password was right or wrong (RTS art.
 * 4(3)(a)); the choice comes after the code (debtorAccountPage). Sandbox: every test customer's
 * accounts in the payment's currency.
 */
export function paymentPage(
  lang: Lang,
  view: StepView & {
    action: string;
    payment: PaymentView;
    /** Production: the one-time code field. */
    withCode: boolean;
    /** Sandbox: the accounts in the payment's currency to choose from (all personas'). */
    accounts: (PsuAccount & { owner?: string })[];
    error?: MessageKey;
    chosen?: string;
  },
): PageContent {
  const p = view.payment;
  const { amount, rows, row } = paymentRows(lang, p);
  const debtor = p.debtorIban
    ? row('payment.debtor', groupIban(p.debtorIban), 'iban')
    : view.withCode
      ? row('payment.debtor', t(lang, 'payment.account_after_code'))
      : '';
  const choice = p.debtorIban || view.withCode ? '' : debtorChoice(lang, p, view.accounts, view.chosen);
  return layout(
    lang,
    paymentTitle(lang, p),
    html`${tppHeader(lang, view.tpp)}
${view.withCode ? '' : html`<p class="notice">${t(lang, 'sandbox.payment_notice')}</p>`}
${alert(view.error && t(lang, view.error))}
${paymentIntro(lang, p, view.tpp.name, amount)}
<form method="post" action="${view.action}">
<input type="hidden" name="csrf_token" value="${view.csrf}">
<input type="hidden" name="payment_hash" value="${p.paymentHash}">
<dl class="payment">
${rows}
${debtor}
</dl>
${choice}
${
  view.withCode
    ? html`<p>${t(lang, p.action === 'cancel' ? 'payment.code_help_cancel' : 'payment.code_help')}</p>
<label class="field" for="otp">${t(lang, 'otp.code')}</label>
<input type="text" id="otp" name="otp" inputmode="numeric" pattern="[0-9 ]{6,7}" autocomplete="one-time-code" autofocus>`
    : ''
}
${paymentButtons(lang, true)}
</form>
${wayOut(lang, view)}`,
  );
}

/** Production, after the code: the account to pay from, with the payment shown again. */
export function debtorAccountPage(
  lang: Lang,
  view: StepView & {
    action: string;
    payment: PaymentView;
    /** The PSU's accounts in the payment's currency (only the fixed one when the bank fixed it). */
    accounts: PsuAccount[];
    error?: MessageKey;
    chosen?: string;
  },
): PageContent {
  const p = view.payment;
  const { amount, rows, row } = paymentRows(lang, p);
  return layout(
    lang,
    paymentTitle(lang, p),
    html`${tppHeader(lang, view.tpp)}
${alert(view.error && t(lang, view.error))}
${paymentIntro(lang, p, view.tpp.name, amount)}
<form method="post" action="${view.action}">
<input type="hidden" name="csrf_token" value="${view.csrf}">
<input type="hidden" name="payment_hash" value="${p.paymentHash}">
<dl class="payment">
${rows}
${p.debtorIban ? row('payment.debtor', groupIban(p.debtorIban), 'iban') : ''}
</dl>
${debtorChoice(lang, p, view.accounts, view.chosen)}
<p>${t(lang, 'payment.account_help')}</p>
${paymentButtons(lang, view.accounts.length > 0)}
</form>
${wayOut(lang, view)}`,
  );
}

export interface Persona {
  psuId: string;
  displayName: string;
  accounts: PsuAccount[];
}

export function sandboxPage(
  lang: Lang,
  view: StepView & {
    scope: string;
    days: number;
    personas: Persona[];
    action: string;
    error?: MessageKey;
    chosen?: { psuId: string; accountIds: string[] };
  },
): PageContent {
  const chosenPsu = view.chosen?.psuId ?? view.personas[0]?.psuId;
  const personas = view.personas.map((persona) => {
    const selected = persona.psuId === chosenPsu;
    const id = `persona-${persona.psuId}`;
    const accounts = persona.accounts.map((a) =>
      accountChoice(
        lang,
        a,
        selected && (view.chosen ? view.chosen.accountIds.includes(a.accountId) : true),
        persona.psuId,
      ),
    );
    return html`<div class="choice">
<input type="radio" name="persona" id="${id}" value="${persona.psuId}"${selected ? ' checked' : ''}>
<label for="${id}">${persona.displayName}</label>
</div>
<div class="accounts" role="group" aria-label="${t(lang, 'consent.accounts', { client: view.tpp.name })} – ${persona.displayName}">${accounts}</div>`;
  });
  return layout(
    lang,
    t(lang, 'page.sandbox'),
    html`${tppHeader(lang, view.tpp)}
<p class="notice">${t(lang, 'sandbox.notice')}</p>
${alert(view.error && t(lang, view.error))}
${scopeList(lang, view.tpp, view.scope, view.days)}
<form method="post" action="${view.action}">
<input type="hidden" name="csrf_token" value="${view.csrf}">
<fieldset>
<legend>${t(lang, 'sandbox.persona')}</legend>
${personas}
</fieldset>
${decisionButtons(lang)}
</form>
${wayOut(lang, view)}`,
  );
}

export function loginPage(lang: Lang, view: StepView & { action: string; message?: string }): PageContent {
  return layout(
    lang,
    t(lang, 'page.login'),
    html`${tppHeader(lang, view.tpp)}
${alert(view.message)}
<form method="post" action="${view.action}">
<input type="hidden" name="csrf_token" value="${view.csrf}">
<label class="field" for="username">${t(lang, 'login.identifier')}</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
<label class="field" for="password">${t(lang, 'login.password')}</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<div class="actions"><button type="submit" class="primary">${t(lang, 'login.submit')}</button></div>
</form>
${wayOut(lang, view)}`,
  );
}

export function otpPage(lang: Lang, view: StepView & { action: string }): PageContent {
  return layout(
    lang,
    t(lang, 'page.otp'),
    html`${tppHeader(lang, view.tpp)}
<p>${t(lang, 'otp.help')}</p>
<form method="post" action="${view.action}">
<input type="hidden" name="csrf_token" value="${view.csrf}">
<label class="field" for="otp">${t(lang, 'otp.code')}</label>
<input type="text" id="otp" name="otp" inputmode="numeric" pattern="[0-9 ]{6,7}" autocomplete="one-time-code" required autofocus>
<div class="actions"><button type="submit" class="primary">${t(lang, 'otp.submit')}</button></div>
</form>
${wayOut(lang, view)}`,
  );
}

export function consentPage(
  lang: Lang,
  view: StepView & {
    scope: string;
    days: number;
    accounts: PsuAccount[];
    action: string;
    error?: MessageKey;
    chosen?: string[];
  },
): PageContent {
  const accounts = view.accounts.map((a) => accountChoice(lang, a, view.chosen?.includes(a.accountId) ?? false));
  return layout(
    lang,
    t(lang, 'page.consent'),
    html`${tppHeader(lang, view.tpp)}
${alert(view.error && t(lang, view.error))}
${scopeList(lang, view.tpp, view.scope, view.days)}
<form method="post" action="${view.action}">
<input type="hidden" name="csrf_token" value="${view.csrf}">
<fieldset>
<legend>${t(lang, 'consent.accounts', { client: view.tpp.name })}</legend>
${accounts}
</fieldset>
${decisionButtons(lang)}
</form>
${wayOut(lang, view)}`,
  );
}
