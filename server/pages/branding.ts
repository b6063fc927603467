// The bank's branding (BANK_NAME, BANK_LOGO, BANK_PRIMARY_COLOR, BANK_SUPPORT_URL): what the page
// frame shows, and the checks the settings pass at start-up. Pure functions: no file, no HTTP.

/** The branding as the pages use it; every field optional (the defaults are the neutral frame). */
export interface Branding {
  /** The bank's name in the header, the page title and the TOTP issuer label. */
  name?: string;
  /** Where the pages load the logo from: `/assets/bank-logo` (served by us) or an exact https URL. */
  logoSrc?: string;
  /** `#rrggbb`, readable under white text (WCAG AA). */
  primaryColor?: string;
  /** An https URL: the header's "Help" link. */
  supportUrl?: string;
}

/** The path the logo file is served at, when BANK_LOGO names a file. */
export const BANK_LOGO_PATH = '/assets/bank-logo';

/** WCAG 2.x AA for normal text: the banner's and the buttons' white text on the primary colour. */
export const MIN_CONTRAST = 4.5;

/** WCAG 2.x relative luminance of an sRGB `#rrggbb`. */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = Number.parseInt(hex.slice(1 + 2 * i, 3 + 2 * i), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2);
}

/** Contrast ratio of white text on `hex` (1 to 21). */
export function contrastWithWhite(hex: string): number {
  return 1.05 / (luminance(hex) + 0.05);
}

/** The image types a logo file may be, recognised by their first bytes (never by the file name). */
export function logoContentType(
  bytes: Uint8Array,
): 'image/png' | 'image/jpeg' | 'image/webp' | 'image/svg+xml' | undefined {
  const starts = (...b: number[]) => b.every((v, i) => bytes[i] === v);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (starts(0x52, 0x49, 0x46, 0x46) && String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP') return 'image/webp';
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 1024)).replace(/^\uFEFF/, '');
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(head))
    return 'image/svg+xml';
  return undefined;
}

/** Largest logo file served, in bytes: a header logo, not a photograph. */
export const MAX_LOGO_BYTES = 256 * 1024;
