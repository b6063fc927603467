import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CATALOGUE, negotiateLang } from '../../server/pages/i18n.ts';

test('every message exists in French and English, with the same placeholders', () => {
  const fr = CATALOGUE.fr;
  const en = CATALOGUE.en;
  assert.deepEqual(Object.keys(fr).sort(), Object.keys(en).sort());
  for (const key of Object.keys(en) as (keyof typeof en)[]) {
    assert.ok(fr[key].trim() && en[key].trim(), key);
    const holes = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    assert.deepEqual(holes(fr[key]), holes(en[key]), key);
  }
});

test('every message key the pages and routes use is in the catalogue', () => {
  const sources = [
    '../../server/pages/authorize.ts',
    '../../server/http/routes/authorization.ts',
    '../../server/http/psu-pages.ts',
  ].map((p) => readFileSync(new URL(p, import.meta.url), 'utf8'));
  const used = new Set<string>();
  for (const source of sources) {
    for (const m of source.matchAll(
      /(?:t\(lang, |showError\(c, lang, |errorPage\(lang, |error: )'([a-z_]+\.[a-z_]+)'/g,
    )) {
      used.add(m[1]!);
    }
  }
  assert.ok(used.size > 10);
  for (const key of used) assert.ok(key in CATALOGUE.en, key);
});

test('language negotiation: ui_locales, then Accept-Language by quality, then French', () => {
  assert.equal(negotiateLang('en-US fr', 'fr'), 'en');
  assert.equal(negotiateLang(undefined, 'de-DE, en;q=0.7, fr;q=0.9'), 'fr');
  assert.equal(negotiateLang('de', 'en-GB'), 'en');
  assert.equal(negotiateLang(undefined, undefined), 'fr');
  assert.equal(negotiateLang(undefined, 'en;q=0'), 'fr');
});
