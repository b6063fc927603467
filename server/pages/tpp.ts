// The TPP as the PSU sees it on every page (consent journey, payment, permission dashboard): what
// the TPP declared about itself (name, logo, links), and, set apart, what the bank verified in its
// QWAC (legal name, authorisation number and its NCA). Everything is text escaped by the template;
// URLs are re-parsed by the registration rules; control and bidirectional formatting characters are
// made visible, so a certificate's O= cannot reorder the words around it.
import { html } from 'hono/html';
import { localized, UNSAFE_TEXT } from '../protocol/client-metadata.ts';
import { displayableUri } from '../protocol/client-uri.ts';
import type { ClientRecord } from '../protocol/registration/ports.ts';
import { organizationNameFromDn, parsePsd2OrganizationIdentifier } from '../protocol/tpp-identity.ts';
import { type Lang, t } from './i18n.ts';

type Html = ReturnType<typeof html>;

export interface TppDisplay {
  /** The localised client_name, or the client_id when none was registered. */
  name: string;
  logoUri?: string;
  /** Verified by the bank, from the QWAC: the legal name (O=), when known. */
  legalName?: string;
  /** Verified by the bank, from the QWAC's organizationIdentifier (ETSI TS 119 495 §5.2.1). */
  authorisation?: { nca: string; country: string; number: string };
  /** The organizationIdentifier as registered, when it is not in the PSD2 form. */
  organizationIdentifier?: string;
  links: { client?: string; policy?: string; tos?: string };
}

/**
 * Control and bidirectional formatting characters (those registration refuses in a client_name; a
 * certificate's O= never went through that check), shown as U+FFFD instead of obeyed.
 */
const UNSAFE_DISPLAY = new RegExp(UNSAFE_TEXT.source, 'g');

export function displayText(value: string): string {
  return value.replace(UNSAFE_DISPLAY, '\ufffd');
}

/**
 * The TPP of `clientId` for a page in `lang`. `client` is the stored record (undefined: unknown or
 * deleted client, shown by its id only).
 */
export function tppDisplay(client: ClientRecord | undefined, clientId: string, lang: Lang): TppDisplay {
  const name = displayText((client && localized(client.metadata, 'client_name', lang)) ?? clientId);
  if (!client) return { name, links: {} };
  const uri = (field: 'logo_uri' | 'client_uri' | 'policy_uri' | 'tos_uri') =>
    // Shown (and, for the logo, allowed by the CSP) only as the URL it parses to under the registration rules.
    displayableUri(localized(client.metadata, field, lang), { policySafe: field === 'logo_uri' });
  const logoUri = uri('logo_uri');
  const legalName =
    client.organizationName ?? organizationNameFromDn(client.metadata.tls_client_auth_subject_dn) ?? undefined;
  const psd2 = parsePsd2OrganizationIdentifier(client.organizationId);
  const links = { client: uri('client_uri'), policy: uri('policy_uri'), tos: uri('tos_uri') };
  return {
    name,
    ...(logoUri ? { logoUri } : {}),
    ...(legalName ? { legalName: displayText(legalName) } : {}),
    ...(psd2
      ? { authorisation: { nca: psd2.nca, country: psd2.country, number: displayText(psd2.pspId) } }
      : { organizationIdentifier: displayText(client.organizationId) }),
    links: Object.fromEntries(Object.entries(links).filter(([, v]) => v !== undefined)),
  };
}

/**
 * "Agréé par ACPR sous le n° 12345" / "Authorised by ACPR, no. 12345". The NCA's country is named
 * unless it is France: the deployment is a French bank's, under the ACPR itself.
 */
export function authorisationText(lang: Lang, a: NonNullable<TppDisplay['authorisation']>): string {
  if (a.country === 'FR') return t(lang, 'tpp.authorised', { nca: a.nca, number: a.number });
  const country = new Intl.DisplayNames([lang], { type: 'region', fallback: 'code' }).of(a.country) ?? a.country;
  return t(lang, 'tpp.authorised_abroad', { nca: a.nca, country, number: a.number });
}

function link(href: string | undefined, label: string): Html | string {
  if (!href) return '';
  const host = new URL(href).host;
  return html`<li><a href="${href}" target="_blank" rel="noopener noreferrer">${label}</a> <span class="host">(${host})</span></li>`;
}

/**
 * The TPP panel of a page: name and logo as the TPP declared them, then the bank-verified identity
 * in a box of its own, then the TPP's links (opening in a new tab, so the journey stays open).
 * `headingLevel` 2 on a page of one TPP; the dashboard lists several and may nest it deeper.
 */
export function tppPanel(lang: Lang, tpp: TppDisplay, options: { headingLevel?: 2 | 3 } = {}): Html {
  const heading =
    options.headingLevel === 3
      ? html`<h3 class="tpp-name"><bdi>${tpp.name}</bdi></h3>`
      : html`<h2 class="tpp-name"><bdi>${tpp.name}</bdi></h2>`;
  const verified = tpp.legalName || tpp.authorisation || tpp.organizationIdentifier;
  const links = [
    link(tpp.links.client, t(lang, 'tpp.website')),
    link(tpp.links.policy, t(lang, 'tpp.policy')),
    link(tpp.links.tos, t(lang, 'tpp.tos')),
  ].filter((l) => l !== '');
  return html`<section class="tpp" aria-label="${t(lang, 'tpp.panel')}">
<div class="tpp-head">
${tpp.logoUri ? html`<img src="${tpp.logoUri}" alt="${t(lang, 'logo.alt', { client: tpp.name })}" referrerpolicy="no-referrer" width="48" height="48">` : ''}
${heading}
</div>
${
  verified
    ? html`<div class="verified">
<p class="verified-title">${t(lang, 'tpp.verified')}</p>
<dl>
${tpp.legalName ? html`<dt>${t(lang, 'tpp.legal_name')}</dt><dd class="legal-name"><bdi>${tpp.legalName}</bdi></dd>` : ''}
${
  tpp.authorisation
    ? html`<dt>${t(lang, 'tpp.authorisation')}</dt><dd class="authorisation">${authorisationText(lang, tpp.authorisation)}</dd>`
    : tpp.organizationIdentifier
      ? html`<dt>${t(lang, 'tpp.authorisation')}</dt><dd class="authorisation"><bdi>${tpp.organizationIdentifier}</bdi></dd>`
      : ''
}
</dl>
</div>`
    : ''
}
${links.length > 0 ? html`<ul class="tpp-links">${links}</ul>` : ''}
</section>`;
}
