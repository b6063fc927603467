// A bank's branding for tests: an SVG logo and the settings that name it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const BANK_LOGO_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="32" viewBox="0 0 96 32"><rect width="96" height="32" rx="4" fill="#fff"/><circle cx="16" cy="16" r="10" fill="#7a1f3d"/><text x="58" y="22" font-family="sans-serif" font-weight="700" font-size="16" fill="#7a1f3d" text-anchor="middle">BEX</text></svg>';

/** BANK_* settings of "Banque Exemple", its logo written into `dir`. */
export function brandingEnv(dir: string): Record<string, string> {
  writeFileSync(join(dir, 'bank-logo.svg'), BANK_LOGO_SVG);
  return {
    BANK_NAME: 'Banque Exemple',
    BANK_LOGO: join(dir, 'bank-logo.svg'),
    BANK_PRIMARY_COLOR: '#7a1f3d',
    BANK_SUPPORT_URL: 'https://www.banque-exemple.fr/aide',
  };
}
