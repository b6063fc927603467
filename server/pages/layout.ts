// The frame of every PSU page: the bank's header (name, logo, language switch, help link), the
// <title>, the stylesheet. A page module builds its content with layout(); the HTTP layer
// (server/http/psu-pages.ts) frames it with the configured branding and the address of the same
// page in the other language, so no page needs to know either.
import { html } from 'hono/html';
import type { Branding } from './branding.ts';
import { LANGUAGES, type Lang, t } from './i18n.ts';

type Html = ReturnType<typeof html>;

/** A page before its frame: its language, its title (the <h1>), its body. */
export interface PageContent {
  lang: Lang;
  title: string;
  body: Html;
}

export function layout(lang: Lang, title: string, body: Html): PageContent {
  return { lang, title, body };
}

export interface Frame {
  branding: Branding;
  /**
   * Same-origin paths of this very page in each other language (the same request, session and
   * step): built by the server from its own routes, never from a URL the request supplied.
   */
  languageSwitch?: Partial<Record<Lang, string>>;
}

/** The language's own name, as the switch shows it to a reader of that language. */
const ENDONYM: Record<Lang, string> = { fr: 'Français', en: 'English' };

export function renderPage(page: PageContent, frame: Frame): Html {
  const { lang, title, body } = page;
  const bank = frame.branding.name ?? t(lang, 'bank');
  const others = LANGUAGES.filter((l) => l !== lang && frame.languageSwitch?.[l] !== undefined);
  const nav =
    others.length > 0 || frame.branding.supportUrl
      ? html`<nav class="bank-nav" aria-label="${t(lang, 'nav.label')}">${others.map(
          (l) => html`<a href="${frame.languageSwitch?.[l]}" hreflang="${l}" lang="${l}">${ENDONYM[l]}</a>`,
        )}${
          frame.branding.supportUrl
            ? html`<a href="${frame.branding.supportUrl}" target="_blank" rel="noopener noreferrer">${t(lang, 'nav.help')}</a>`
            : ''
        }</nav>`
      : '';
  return html`<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} – ${bank}</title>
<link rel="stylesheet" href="/assets/psu.css">
</head>
<body>
<header class="bank">
<div class="bank-id">${
    frame.branding.logoSrc ? html`<img class="bank-logo" src="${frame.branding.logoSrc}" alt="" height="32">` : ''
  }<span class="bank-name">${bank}</span></div>
${nav}
</header>
<main id="main">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`;
}
