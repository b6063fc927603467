// IBAN check (ISO 13616): the country's length where we know it, then the mod-97 check digits
// (ISO 7064 MOD 97-10), which catch every single-character typo and most transpositions.

/** IBAN lengths of the SEPA countries (SWIFT IBAN registry). Other countries: 15 to 34 characters. */
const LENGTHS: Record<string, number> = {
  AD: 24,
  AT: 20,
  BE: 16,
  BG: 22,
  CH: 21,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  EE: 20,
  ES: 24,
  FI: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  HR: 21,
  HU: 28,
  IE: 22,
  IS: 26,
  IT: 27,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MT: 31,
  NL: 18,
  NO: 15,
  PL: 28,
  PT: 25,
  RO: 24,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  VA: 22,
};

/** The IBAN without spaces, in capitals, or the reason it is not one. */
export function parseIban(input: string): { ok: true; iban: string } | { ok: false; reason: string } {
  const iban = input.replace(/\s+/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) {
    return { ok: false, reason: 'an IBAN is a country code, 2 check digits and up to 30 letters or digits' };
  }
  const expected = LENGTHS[iban.slice(0, 2)];
  if (expected !== undefined && iban.length !== expected) {
    return { ok: false, reason: `an IBAN of ${iban.slice(0, 2)} has ${expected} characters, not ${iban.length}` };
  }
  // Country and check digits moved to the end, letters as 10..35, the number modulo 97 must be 1;
  // computed piecewise so that no number exceeds 2^53.
  let remainder = 0;
  for (const ch of iban.slice(4) + iban.slice(0, 4)) {
    const value = ch >= 'A' ? ch.charCodeAt(0) - 55 : ch.charCodeAt(0) - 48;
    remainder = (remainder * (value >= 10 ? 100 : 10) + value) % 97;
  }
  if (remainder !== 1) return { ok: false, reason: 'the check digits do not match (mod-97): a typo?' };
  return { ok: true, iban };
}
