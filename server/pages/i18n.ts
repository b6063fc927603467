// The one translation catalogue of the PSU pages. English is the reference: the French table is
// typed against its keys, so a missing translation does not compile (and a test checks both ways).

export const LANGUAGES = ['fr', 'en'] as const;
export type Lang = (typeof LANGUAGES)[number];

const en = {
  bank: 'Your bank',
  'page.error': 'The request cannot be completed',
  'page.sandbox': 'Sandbox: grant access to your accounts',
  'page.login': 'Sign in to your bank',
  'page.otp': 'Confirm with your one-time code',
  'page.consent': 'Grant access to your accounts',
  'sandbox.notice': 'Sandbox: no real customer signs in here. Choose a test customer, then approve or refuse.',
  'sandbox.persona': 'Test customer',
  'request.asks': '{client} asks to:',
  'scope.aisp': 'see your accounts, their balances and your transactions of the last 90 days',
  'scope.extended_transaction_history': 'see your transactions older than 90 days',
  'scope.cbpii': 'check whether the funds needed for a payment are available on your account',
  'consent.duration': 'This access lasts {days} days. You can withdraw it at any time.',
  'consent.accounts': 'Accounts {client} may see',
  'consent.no_account': 'Choose at least one account.',
  'consent.approve': 'Allow access',
  'consent.refuse': 'Refuse',
  'account.current': 'Current account',
  'account.savings': 'Savings account',
  'account.card': 'Card',
  'login.identifier': 'Customer identifier',
  'login.password': 'Password',
  'login.submit': 'Continue',
  'login.failed': 'Authentication failed. Check your details and try again.',
  'login.locked': 'Too many failed attempts: access is blocked until {time} ({zone}).',
  'otp.code': 'One-time code from your authenticator app (6 digits)',
  'otp.submit': 'Confirm',
  'otp.help': 'Open your authenticator app and type the code shown for this bank.',
  'error.unknown_client': 'This application is not known to your bank.',
  'error.invalid_redirect_uri': 'The address this application wants to send you back to is not registered.',
  'error.invalid_request_uri': 'This authorization link is invalid, expired or was already used.',
  'error.invalid_request': 'The authorization request is malformed.',
  'error.session': 'Your session has expired or is unknown. Return to the application and start again.',
  'error.csrf': 'The form could not be verified. Return to the application and start again.',
  'error.done': 'This request is already completed.',
  'error.server': 'Something went wrong on our side. Please try again later.',
  'error.back': 'You can close this page and return to the application.',
  'logo.alt': 'Logo of {client}',
  'cancel.return': 'Cancel and return to {client}',
  'page.payment': 'Confirm a payment',
  'page.payment_cancel': 'Confirm the cancellation of a payment',
  'payment.asks': '{client} asks you to confirm this payment:',
  'payment.asks_cancel': '{client} asks you to cancel the payment of {amount} to {creditor}:',
  'payment.amount': 'Amount',
  'payment.creditor': 'Payee',
  'payment.creditor_iban': 'Payee’s IBAN',
  'payment.remittance': 'Reference',
  'payment.date': 'Execution date',
  'payment.debtor': 'From your account',
  'payment.no_account': 'You hold no account in {currency} that can make this payment.',
  'payment.choose_account': 'Choose the account to pay from.',
  'payment.choose_account_cancel': 'Choose the account the payment was to be made from.',
  'payment.account_after_code': 'You choose it after entering your code.',
  'payment.account_help': 'Your code is accepted. Choose the account, then confirm.',
  'sandbox.payment_notice':
    'Sandbox: no real customer signs in here and no money moves. Choose a test customer’s account, then confirm or refuse.',
  'payment.code_help': 'Enter the code of your authenticator app to confirm exactly this payment.',
  'payment.code_help_cancel': 'Enter the code of your authenticator app to confirm exactly this cancellation.',
  'payment.confirm': 'Confirm',
  'payment.refuse': 'Refuse',
  'error.payment_changed': 'This payment was withdrawn, has expired or was changed: nothing was authorised.',
  'error.return': 'Return to {client}',
  'nav.label': 'Language and help',
  'nav.help': 'Help',
  'tpp.panel': 'The application asking',
  'tpp.verified': 'Verified by your bank from its qualified certificate',
  'tpp.legal_name': 'Legal name',
  'tpp.authorisation': 'Licence',
  'tpp.authorised': 'Authorised by {nca}, no. {number}',
  'tpp.authorised_abroad': 'Authorised by {nca} ({country}), no. {number}',
  'tpp.website': 'Website',
  'tpp.policy': 'Privacy policy',
  'tpp.tos': 'Terms of service',
} as const;

export type MessageKey = keyof typeof en;

const fr: Record<MessageKey, string> = {
  bank: 'Votre banque',
  'page.error': 'La demande ne peut pas aboutir',
  'page.sandbox': 'Bac à sable : autoriser l’accès à vos comptes',
  'page.login': 'Connexion à votre banque',
  'page.otp': 'Confirmez avec votre code à usage unique',
  'page.consent': 'Autoriser l’accès à vos comptes',
  'sandbox.notice':
    'Bac à sable : aucun vrai client ne se connecte ici. Choisissez un client de test, puis autorisez ou refusez.',
  'sandbox.persona': 'Client de test',
  'request.asks': '{client} demande à :',
  'scope.aisp': 'consulter vos comptes, leurs soldes et vos opérations des 90 derniers jours',
  'scope.extended_transaction_history': 'consulter vos opérations de plus de 90 jours',
  'scope.cbpii': 'vérifier que les fonds nécessaires à un paiement sont disponibles sur votre compte',
  'consent.duration': 'Cet accès dure {days} jours. Vous pouvez le retirer à tout moment.',
  'consent.accounts': 'Comptes que {client} pourra consulter',
  'consent.no_account': 'Choisissez au moins un compte.',
  'consent.approve': 'Autoriser l’accès',
  'consent.refuse': 'Refuser',
  'account.current': 'Compte courant',
  'account.savings': 'Compte d’épargne',
  'account.card': 'Carte',
  'login.identifier': 'Identifiant client',
  'login.password': 'Mot de passe',
  'login.submit': 'Continuer',
  'login.failed': 'L’authentification a échoué. Vérifiez vos informations et réessayez.',
  'login.locked': 'Trop de tentatives échouées : l’accès est bloqué jusqu’à {time} ({zone}).',
  'otp.code': 'Code à usage unique de votre application d’authentification (6 chiffres)',
  'otp.submit': 'Confirmer',
  'otp.help': 'Ouvrez votre application d’authentification et saisissez le code affiché pour cette banque.',
  'error.unknown_client': 'Cette application n’est pas connue de votre banque.',
  'error.invalid_redirect_uri': 'L’adresse de retour demandée par cette application n’est pas enregistrée.',
  'error.invalid_request_uri': 'Ce lien d’autorisation est invalide, expiré ou déjà utilisé.',
  'error.invalid_request': 'La demande d’autorisation est mal formée.',
  'error.session': 'Votre session a expiré ou est inconnue. Revenez à l’application et recommencez.',
  'error.csrf': 'Le formulaire n’a pas pu être vérifié. Revenez à l’application et recommencez.',
  'error.done': 'Cette demande est déjà terminée.',
  'error.server': 'Une erreur s’est produite de notre côté. Veuillez réessayer plus tard.',
  'error.back': 'Vous pouvez fermer cette page et revenir à l’application.',
  'logo.alt': 'Logo de {client}',
  'cancel.return': 'Annuler et revenir à {client}',
  'page.payment': 'Confirmer un paiement',
  'page.payment_cancel': 'Confirmer l’annulation d’un paiement',
  'payment.asks': '{client} vous demande de confirmer ce paiement :',
  'payment.asks_cancel': '{client} vous demande d’annuler le paiement de {amount} à {creditor} :',
  'payment.amount': 'Montant',
  'payment.creditor': 'Bénéficiaire',
  'payment.creditor_iban': 'IBAN du bénéficiaire',
  'payment.remittance': 'Référence',
  'payment.date': 'Date d’exécution',
  'payment.debtor': 'Depuis votre compte',
  'payment.no_account': 'Vous n’avez aucun compte en {currency} qui puisse effectuer ce paiement.',
  'payment.choose_account': 'Choisissez le compte à débiter.',
  'payment.choose_account_cancel': 'Choisissez le compte qui devait être débité.',
  'payment.account_after_code': 'Vous le choisirez après avoir saisi votre code.',
  'payment.account_help': 'Votre code est accepté. Choisissez le compte, puis confirmez.',
  'sandbox.payment_notice':
    'Bac à sable : aucun vrai client ne se connecte ici et aucun fonds ne bouge. Choisissez le compte d’un client de test, puis confirmez ou refusez.',
  'payment.code_help':
    'Saisissez le code de votre application d’authentification pour confirmer exactement ce paiement.',
  'payment.code_help_cancel':
    'Saisissez le code de votre application d’authentification pour confirmer exactement cette annulation.',
  'payment.confirm': 'Confirmer',
  'payment.refuse': 'Refuser',
  'error.payment_changed': 'Ce paiement a été retiré, a expiré ou a été modifié : rien n’a été autorisé.',
  'error.return': 'Revenir à {client}',
  'nav.label': 'Langue et aide',
  'nav.help': 'Aide',
  'tpp.panel': 'L’application qui demande',
  'tpp.verified': 'Vérifié par votre banque sur son certificat qualifié',
  'tpp.legal_name': 'Raison sociale',
  'tpp.authorisation': 'Agrément',
  'tpp.authorised': 'Agréé par {nca} sous le n° {number}',
  'tpp.authorised_abroad': 'Agréé par {nca} ({country}) sous le n° {number}',
  'tpp.website': 'Site web',
  'tpp.policy': 'Politique de confidentialité',
  'tpp.tos': 'Conditions d’utilisation',
};

export const CATALOGUE: Record<Lang, Record<MessageKey, string>> = { en, fr };

export function isLang(value: string | undefined): value is Lang {
  return (LANGUAGES as readonly string[]).includes(value ?? '');
}

/** A message with `{name}` placeholders filled; the result is text, escaped by the template. */
export function t(lang: Lang, key: MessageKey, values: Record<string, string | number> = {}): string {
  return CATALOGUE[lang][key].replace(/\{(\w+)\}/g, (_m, name: string) => String(values[name] ?? `{${name}}`));
}

/** `ui_locales` (space-separated, in order of preference), then Accept-Language, then French. */
export function negotiateLang(uiLocales: string | undefined, acceptLanguage: string | undefined): Lang {
  for (const tag of (uiLocales ?? '').split(' ')) {
    const base = tag.split('-')[0]?.toLowerCase();
    if (isLang(base)) return base;
  }
  const ranked = (acceptLanguage ?? '')
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
      return { base: tag.split('-')[0]?.toLowerCase(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const entry of ranked) if (isLang(entry.base)) return entry.base;
  return 'fr';
}

/** An instant as the PSU reads it: date and time in the bank's zone, in the page's language. */
export function formatInstant(ms: number, lang: Lang, timeZone: string): string {
  return new Intl.DateTimeFormat(lang === 'fr' ? 'fr-FR' : 'en-GB', {
    timeZone,
    dateStyle: 'short',
    timeStyle: 'short',
  }).format(new Date(ms));
}
