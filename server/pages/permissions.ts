// The permission dashboard's pages (PSR art. 43): sign-in (login and one-time code, or the
// persona in the sandbox), the overview of what the PSU granted, the history, and the withdrawal's
// confirmation. Rendered in the PSU pages' frame with hono/html (every interpolation escaped). Its
// messages live here, typed English-first like pages/i18n.ts, so a missing French one does not compile.
import { html } from 'hono/html';
import type { PaymentHistoryItem, Permission, PermissionOverview, TppIdentity } from '../protocol/permissions.ts';
import { parsePsd2OrganizationIdentifier } from '../protocol/tpp-identity.ts';
import { formatAmount, groupIban } from './authorize.ts';
import { formatInstant, type Lang, t } from './i18n.ts';
import { layout, type PageContent } from './layout.ts';
import { displayText, type TppDisplay, tppPanel } from './tpp.ts';

type Html = ReturnType<typeof html>;

const en = {
  'page.permissions': 'Access you granted to other services',
  'page.sign_in': 'Sign in to see the access you granted',
  'page.otp': 'Confirm with your one-time code',
  'page.withdraw': 'Withdraw this access?',
  'sandbox.notice': 'Sandbox: no real customer signs in here. Choose a test customer to see their dashboard.',
  'sandbox.persona': 'Test customer',
  intro:
    'Applications of other payment service providers (TPPs) you allowed to see your accounts or to check your funds. You can withdraw each access at any time.',
  'current.title': 'Current access',
  'current.none': 'You have not granted any access.',
  'history.title': 'History (last two years)',
  'history.permissions': 'Ended access',
  'history.none': 'No access ended in the last two years.',
  'history.payments': 'Payments you authorised',
  'history.payments_none': 'You authorised no payment through another service in the last two years.',
  'history.payments_note': 'An authorised payment cannot be revoked here.',
  'service.account_information': 'See your accounts, balances and transactions of the last 90 days',
  'service.account_information_extended_history':
    'See your accounts, balances and transactions, including those older than 90 days',
  'service.funds_confirmation': 'Check that funds are available for a payment',
  'field.service': 'Service',
  'field.accounts': 'Accounts',
  'field.granted': 'Granted on',
  'field.sca_renewal': 'Confirm again with your code by',
  'field.expires': 'Expires on',
  'field.ended': 'Ended',
  'field.amount': 'Amount',
  'field.payee': 'Payee',
  'field.from': 'From your account',
  'field.authorised': 'Authorised on',
  'field.status': 'Status',
  'account.closed': 'account {id} (closed)',
  'status.withdrawn.psu': 'Withdrawn by you on {time}',
  'status.withdrawn.tpp': 'Withdrawn by the service on {time}',
  'status.withdrawn.bank': 'Withdrawn by your bank on {time}',
  'status.expired': 'Expired on {time}',
  'payment.authorised': 'Authorised, not executed yet',
  'payment.consumed': 'Authorised and sent for execution',
  'payment.cancel': 'Cancellation of a payment',
  'action.withdraw': 'Withdraw',
  'action.withdraw_named': 'Withdraw the access of {client}',
  'action.back': 'Back',
  'action.sign_out': 'Sign out',
  'withdraw.effect':
    '{client} will no longer be able to use this access, from now on. To give it again, you will have to go through {client}.',
  'notice.withdrawn': 'The access was withdrawn.',
  'notice.signed_out': 'You are signed out.',
  'times.zone': 'Times are in the {zone} time zone.',
  'error.not_found': 'This access does not exist or is not yours.',
  'error.conflict': 'This access was already withdrawn or has expired.',
  'error.session': 'Your session has expired. Sign in again.',
  'error.csrf': 'The form could not be verified. Sign in again.',
  'error.invalid_request': 'The request is malformed.',
  'error.again': 'Back to your access list',
} as const;

export type PermissionMessage = keyof typeof en;

const fr: Record<PermissionMessage, string> = {
  'page.permissions': 'Accès accordés à d’autres services',
  'page.sign_in': 'Connectez-vous pour voir les accès accordés',
  'page.otp': 'Confirmez avec votre code à usage unique',
  'page.withdraw': 'Retirer cet accès ?',
  'sandbox.notice':
    'Bac à sable : aucun vrai client ne se connecte ici. Choisissez un client de test pour voir son tableau de bord.',
  'sandbox.persona': 'Client de test',
  intro:
    'Les applications d’autres prestataires de services de paiement que vous avez autorisées à consulter vos comptes ou à vérifier vos fonds. Vous pouvez retirer chaque accès à tout moment.',
  'current.title': 'Accès en cours',
  'current.none': 'Vous n’avez accordé aucun accès.',
  'history.title': 'Historique (deux dernières années)',
  'history.permissions': 'Accès terminés',
  'history.none': 'Aucun accès ne s’est terminé ces deux dernières années.',
  'history.payments': 'Paiements que vous avez autorisés',
  'history.payments_none': 'Vous n’avez autorisé aucun paiement par un autre service ces deux dernières années.',
  'history.payments_note': 'Un paiement autorisé ne peut pas être révoqué ici.',
  'service.account_information': 'Consulter vos comptes, leurs soldes et vos opérations des 90 derniers jours',
  'service.account_information_extended_history':
    'Consulter vos comptes, leurs soldes et vos opérations, y compris celles de plus de 90 jours',
  'service.funds_confirmation': 'Vérifier que les fonds d’un paiement sont disponibles',
  'field.service': 'Service',
  'field.accounts': 'Comptes',
  'field.granted': 'Accordé le',
  'field.sca_renewal': 'À reconfirmer avec votre code avant le',
  'field.expires': 'Expire le',
  'field.ended': 'Fin',
  'field.amount': 'Montant',
  'field.payee': 'Bénéficiaire',
  'field.from': 'Depuis votre compte',
  'field.authorised': 'Autorisé le',
  'field.status': 'État',
  'account.closed': 'compte {id} (clôturé)',
  'status.withdrawn.psu': 'Retiré par vous le {time}',
  'status.withdrawn.tpp': 'Retiré par le service le {time}',
  'status.withdrawn.bank': 'Retiré par votre banque le {time}',
  'status.expired': 'Expiré le {time}',
  'payment.authorised': 'Autorisé, pas encore exécuté',
  'payment.consumed': 'Autorisé et transmis pour exécution',
  'payment.cancel': 'Annulation d’un paiement',
  'action.withdraw': 'Retirer',
  'action.withdraw_named': 'Retirer l’accès de {client}',
  'action.back': 'Retour',
  'action.sign_out': 'Se déconnecter',
  'withdraw.effect':
    '{client} ne pourra plus utiliser cet accès, dès maintenant. Pour le lui redonner, il faudra repasser par {client}.',
  'notice.withdrawn': 'L’accès a été retiré.',
  'notice.signed_out': 'Vous êtes déconnecté.',
  'times.zone': 'Heures du fuseau {zone}.',
  'error.not_found': 'Cet accès n’existe pas ou ne vous appartient pas.',
  'error.conflict': 'Cet accès a déjà été retiré ou a expiré.',
  'error.session': 'Votre session a expiré. Reconnectez-vous.',
  'error.csrf': 'Le formulaire n’a pas pu être vérifié. Reconnectez-vous.',
  'error.invalid_request': 'La demande est mal formée.',
  'error.again': 'Revenir à la liste de vos accès',
};

const CATALOGUE: Record<Lang, Record<PermissionMessage, string>> = { en, fr };

export function pt(lang: Lang, key: PermissionMessage, values: Record<string, string> = {}): string {
  return CATALOGUE[lang][key].replace(/\{(\w+)\}/g, (_m, name: string) => values[name] ?? `{${name}}`);
}

/** Where the dashboard's forms post, for one language. */
export function dashboardPaths(lang: Lang) {
  const base = `/${lang}/permissions`;
  return {
    base,
    login: `${base}/login`,
    otp: `${base}/otp`,
    persona: `${base}/persona`,
    signOut: `${base}/sign-out`,
    withdraw: (consentId: string) => `${base}/${encodeURIComponent(consentId)}/withdraw`,
  };
}

const csrfField = (csrf: string) => html`<input type="hidden" name="csrf_token" value="${csrf}">`;
const alert = (message: string | undefined) => (message ? html`<p class="alert" role="alert">${message}</p>` : '');
const notice = (message: string | undefined) => (message ? html`<p class="notice" role="status">${message}</p>` : '');

export function signInPage(lang: Lang, view: { csrf: string; message?: string; notice?: string }): PageContent {
  const paths = dashboardPaths(lang);
  return layout(
    lang,
    pt(lang, 'page.sign_in'),
    html`${notice(view.notice)}${alert(view.message)}
<form method="post" action="${paths.login}">
${csrfField(view.csrf)}
<label class="field" for="username">${t(lang, 'login.identifier')}</label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
<label class="field" for="password">${t(lang, 'login.password')}</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<div class="actions"><button type="submit" class="primary">${t(lang, 'login.submit')}</button></div>
</form>`,
  );
}

export function otpPage(lang: Lang, view: { csrf: string }): PageContent {
  const paths = dashboardPaths(lang);
  return layout(
    lang,
    pt(lang, 'page.otp'),
    html`<p>${t(lang, 'otp.help')}</p>
<form method="post" action="${paths.otp}">
${csrfField(view.csrf)}
<label class="field" for="otp">${t(lang, 'otp.code')}</label>
<input type="text" id="otp" name="otp" inputmode="numeric" pattern="[0-9 ]{6,7}" autocomplete="one-time-code" required autofocus>
<div class="actions"><button type="submit" class="primary">${t(lang, 'otp.submit')}</button></div>
</form>
${signOutForm(lang, view.csrf)}`,
  );
}

export function personaPage(
  lang: Lang,
  view: { csrf: string; personas: { psuId: string; displayName: string }[]; notice?: string },
): PageContent {
  const paths = dashboardPaths(lang);
  return layout(
    lang,
    pt(lang, 'page.sign_in'),
    html`${notice(view.notice)}<p class="notice">${pt(lang, 'sandbox.notice')}</p>
<form method="post" action="${paths.persona}">
${csrfField(view.csrf)}
<fieldset>
<legend>${pt(lang, 'sandbox.persona')}</legend>
${view.personas.map(
  (p, i) => html`<div class="choice">
<input type="radio" name="persona" id="persona-${p.psuId}" value="${p.psuId}"${i === 0 ? ' checked' : ''}>
<label for="persona-${p.psuId}">${p.displayName}</label>
</div>`,
)}
</fieldset>
<div class="actions"><button type="submit" class="primary">${t(lang, 'login.submit')}</button></div>
</form>`,
  );
}

function signOutForm(lang: Lang, csrf: string): Html {
  return html`<form method="post" action="${dashboardPaths(lang).signOut}" class="way-out">
${csrfField(csrf)}
<button type="submit" class="link">${pt(lang, 'action.sign_out')}</button>
</form>`;
}

/**
 * The TPP's name, and apart from it what the bank verified in its certificate: the same panel as
 * on the consent and payment pages, without logo and links (the dashboard lists many TPPs).
 */
function tppBlock(lang: Lang, tpp: TppIdentity): Html {
  const psd2 = tpp.organizationId ? parsePsd2OrganizationIdentifier(tpp.organizationId) : undefined;
  const display: TppDisplay = {
    name: displayText(tpp.clientName),
    ...(tpp.legalName ? { legalName: displayText(tpp.legalName) } : {}),
    ...(psd2
      ? { authorisation: { nca: psd2.nca, country: psd2.country, number: displayText(psd2.pspId) } }
      : tpp.organizationId
        ? { organizationIdentifier: displayText(tpp.organizationId) }
        : {}),
    links: {},
  };
  return tppPanel(lang, display, { headingLevel: 3 });
}

function accountList(lang: Lang, accounts: Permission['accounts']): Html {
  return html`<ul class="plain">${accounts.map((a) =>
    a.iban
      ? html`<li class="iban">${groupIban(a.iban)}</li>`
      : html`<li>${pt(lang, 'account.closed', { id: a.accountId })}</li>`,
  )}</ul>`;
}

type Row = [label: string, value: Html | string, cls?: string];
const facts = (rows: Row[]) =>
  html`<dl class="facts">${rows.map(([label, value, cls]) => html`<dt>${label}</dt><dd class="${cls ?? ''}">${value}</dd>`)}</dl>`;

function permissionFacts(lang: Lang, p: Permission, timeZone: string, active: boolean): Html {
  const at = (ms: number) => formatInstant(ms, lang, timeZone);
  const rows: Row[] = [
    [pt(lang, 'field.service'), pt(lang, `service.${p.service}`)],
    [pt(lang, 'field.accounts'), accountList(lang, p.accounts)],
    [pt(lang, 'field.granted'), at(p.grantedAt)],
  ];
  if (active) {
    rows.push([pt(lang, 'field.sca_renewal'), at(p.scaRenewalAt)], [pt(lang, 'field.expires'), at(p.expiresAt)]);
  } else {
    const by = (p.withdrawnBy === 'tpp' || p.withdrawnBy === 'bank' ? p.withdrawnBy : 'psu') as 'psu' | 'tpp' | 'bank';
    rows.push([
      pt(lang, 'field.ended'),
      p.withdrawnAt !== null
        ? pt(lang, `status.withdrawn.${by}`, { time: at(p.withdrawnAt) })
        : pt(lang, 'status.expired', { time: at(p.expiresAt) }),
    ]);
  }
  return facts(rows);
}

function paymentCard(lang: Lang, p: PaymentHistoryItem, timeZone: string): Html {
  return html`<li class="card">
${tppBlock(lang, p.tpp)}
${facts([
  ...(p.action === 'cancel' ? ([[pt(lang, 'field.service'), pt(lang, 'payment.cancel')]] as Row[]) : []),
  [pt(lang, 'field.amount'), formatAmount(lang, p.amount, p.currency), 'amount'],
  [pt(lang, 'field.payee'), html`${p.creditorName}<br><span class="iban">${groupIban(p.creditorIban)}</span>`],
  ...(p.debtorIban ? ([[pt(lang, 'field.from'), groupIban(p.debtorIban), 'iban']] as Row[]) : []),
  [pt(lang, 'field.authorised'), formatInstant(p.authorisedAt, lang, timeZone)],
  [pt(lang, 'field.status'), pt(lang, `payment.${p.status}`)],
])}
</li>`;
}

export function dashboardPage(
  lang: Lang,
  view: { overview: PermissionOverview; csrf: string; timeZone: string; notice?: 'withdrawn' },
): PageContent {
  const { overview, timeZone } = view;
  const paths = dashboardPaths(lang);
  const current = overview.current.map(
    (p) => html`<li class="card" data-consent="${p.consentId}">
${tppBlock(lang, p.tpp)}
${permissionFacts(lang, p, timeZone, true)}
<a class="button" href="${paths.withdraw(p.consentId)}" aria-label="${pt(lang, 'action.withdraw_named', { client: p.tpp.clientName })}">${pt(lang, 'action.withdraw')}</a>
</li>`,
  );
  const ended = overview.ended.map(
    (p) => html`<li class="card ended" data-consent="${p.consentId}">
${tppBlock(lang, p.tpp)}
${permissionFacts(lang, p, timeZone, false)}
</li>`,
  );
  return layout(
    lang,
    pt(lang, 'page.permissions'),
    html`${notice(view.notice === 'withdrawn' ? pt(lang, 'notice.withdrawn') : undefined)}
<p>${pt(lang, 'intro')}</p>
<section aria-labelledby="current">
<h2 id="current">${pt(lang, 'current.title')}</h2>
${current.length > 0 ? html`<ul class="cards">${current}</ul>` : html`<p class="small">${pt(lang, 'current.none')}</p>`}
</section>
<section aria-labelledby="history">
<h2 id="history">${pt(lang, 'history.title')}</h2>
<h3>${pt(lang, 'history.permissions')}</h3>
${ended.length > 0 ? html`<ul class="cards">${ended}</ul>` : html`<p class="small">${pt(lang, 'history.none')}</p>`}
<h3>${pt(lang, 'history.payments')}</h3>
${
  overview.payments.length > 0
    ? html`<p class="small">${pt(lang, 'history.payments_note')}</p><ul class="cards">${overview.payments.map((p) => paymentCard(lang, p, timeZone))}</ul>`
    : html`<p class="small">${pt(lang, 'history.payments_none')}</p>`
}
</section>
<p class="small">${pt(lang, 'times.zone', { zone: timeZone })}</p>
${signOutForm(lang, view.csrf)}`,
  );
}

/** The confirmation step: "Withdraw" and "Back" are two buttons of the same kind. */
export function confirmPage(lang: Lang, view: { permission: Permission; csrf: string; timeZone: string }): PageContent {
  const { permission: p } = view;
  const paths = dashboardPaths(lang);
  return layout(
    lang,
    pt(lang, 'page.withdraw'),
    html`<div class="card">
${tppBlock(lang, p.tpp)}
${permissionFacts(lang, p, view.timeZone, true)}
</div>
<p>${pt(lang, 'withdraw.effect', { client: p.tpp.clientName })}</p>
<div class="actions equal">
<form method="post" action="${paths.withdraw(p.consentId)}">
${csrfField(view.csrf)}
<button type="submit" class="primary">${pt(lang, 'action.withdraw')}</button>
</form>
<form method="get" action="${paths.base}">
<button type="submit" class="primary">${pt(lang, 'action.back')}</button>
</form>
</div>`,
  );
}

export function dashboardErrorPage(lang: Lang, message: PermissionMessage): PageContent {
  return layout(
    lang,
    t(lang, 'page.error'),
    html`<p class="alert" role="alert">${pt(lang, message)}</p>
<p><a class="button" href="${dashboardPaths(lang).base}">${pt(lang, 'error.again')}</a></p>`,
  );
}
