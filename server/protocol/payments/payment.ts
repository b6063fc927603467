// A payment as the bank's resource server registers it, checked field by field, and its
// dynamic-linking hash (RTS 2018/389 art. 5): base64url(SHA-256(RFC 8785 canonical JSON of the
// snapshot)). The snapshot holds everything the PSU is shown and approves, so any change of
// amount, payee or account is a new hash and invalidates what was bound to the old one.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { parseIban } from '../iban.ts';

export type PaymentAction = 'initiate' | 'cancel';

/** The payment, normalised: IBANs without spaces, the amount with exactly the currency's minor digits. */
export interface Payment {
  instructedAmount: { amount: string; currency: string };
  creditorName: string;
  creditorAccount: { iban: string };
  debtorAccount?: { iban: string };
  remittanceInformation?: string;
  requestedExecutionDate?: string;
}

/** What the hash covers: the payment, what is done with it, for which client and bank resource. */
export interface PaymentSnapshot {
  action: PaymentAction;
  payment_request_resource_id: string;
  client_id: string;
  payment: Payment;
}

/**
 * ISO 4217 active codes (list one, 2025 amendments: XCG, ZWG, SLE, VED) and their minor units;
 * every code not named in MINOR_DIGITS has 2.
 */
const ISO_4217 = new Set(
  `AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
  CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
  GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
  KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN
  NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
  SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW
  UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG`.split(/\s+/),
);
const MINOR_DIGITS: Record<string, number> = {
  ...Object.fromEntries(
    'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF'.split(' ').map((c) => [c, 0]),
  ),
  ...Object.fromEntries('BHD IQD JOD KWD LYD OMR TND'.split(' ').map((c) => [c, 3])),
  CLF: 4,
  UYW: 4,
};

export function minorDigits(currency: string): number {
  return MINOR_DIGITS[currency] ?? 2;
}

/**
 * Characters that would let a bank-supplied text disguise itself on the payment page (art. 5(2)):
 * control characters and the bidirectional marks, embeddings, overrides and isolates
 * (U+061C, U+200E-200F, U+202A-202E, U+2066-2069).
 */
const SPOOFING = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

export type FieldErrors = string[];

function text(errors: FieldErrors, field: string, value: unknown, max: number, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') {
    errors.push(`${field}: a string is required`);
    return undefined;
  }
  const length = [...value].length;
  if (value.trim() === '' || length > max) {
    errors.push(`${field}: 1 to ${max} characters`);
    return undefined;
  }
  if (SPOOFING.test(value)) {
    errors.push(`${field}: control or bidirectional formatting characters are not allowed`);
    return undefined;
  }
  return value;
}

function iban(errors: FieldErrors, field: string, value: unknown): { iban: string } | undefined {
  if (!isObject(value) || Object.keys(value).some((k) => k !== 'iban')) {
    errors.push(`${field}: an object with only "iban" is required`);
    return undefined;
  }
  if (typeof value.iban !== 'string') {
    errors.push(`${field}.iban: a string is required`);
    return undefined;
  }
  const parsed = parseIban(value.iban);
  if (!parsed.ok) {
    errors.push(`${field}.iban: ${parsed.reason}`);
    return undefined;
  }
  return { iban: parsed.iban };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const PAYMENT_FIELDS = new Set([
  'instructedAmount',
  'creditorName',
  'creditorAccount',
  'debtorAccount',
  'remittanceInformation',
  'requestedExecutionDate',
]);

/** Checks a payment as registered; every error names its field. */
export function parsePayment(input: unknown): { ok: true; payment: Payment } | { ok: false; errors: FieldErrors } {
  const errors: FieldErrors = [];
  if (!isObject(input)) return { ok: false, errors: ['payment: an object is required'] };
  for (const key of Object.keys(input)) if (!PAYMENT_FIELDS.has(key)) errors.push(`payment.${key}: unknown field`);

  let instructedAmount: Payment['instructedAmount'] | undefined;
  const amount = input.instructedAmount;
  if (!isObject(amount) || Object.keys(amount).some((k) => k !== 'amount' && k !== 'currency')) {
    errors.push('payment.instructedAmount: an object with "amount" and "currency" is required');
  } else if (typeof amount.currency !== 'string' || !ISO_4217.has(amount.currency)) {
    errors.push('payment.instructedAmount.currency: an ISO 4217 currency code is required, such as EUR');
  } else if (typeof amount.amount !== 'string' || !/^\d{1,15}(\.\d{1,4})?$/.test(amount.amount)) {
    errors.push('payment.instructedAmount.amount: a decimal string is required, such as "123.50"');
  } else {
    const digits = minorDigits(amount.currency);
    const [units = '', fraction = ''] = amount.amount.split('.');
    if (fraction.length > digits) {
      errors.push(`payment.instructedAmount.amount: ${amount.currency} has ${digits} minor digits at most`);
    } else if (!/[1-9]/.test(units + fraction)) {
      errors.push('payment.instructedAmount.amount: must be positive');
    } else {
      const whole = units.replace(/^0+(?=\d)/, '');
      instructedAmount = {
        amount: digits === 0 ? whole : `${whole}.${fraction.padEnd(digits, '0')}`,
        currency: amount.currency,
      };
    }
  }
  const creditorName = text(errors, 'payment.creditorName', input.creditorName, 70, true);
  const creditorAccount = iban(errors, 'payment.creditorAccount', input.creditorAccount);
  const debtorAccount =
    input.debtorAccount === undefined ? undefined : iban(errors, 'payment.debtorAccount', input.debtorAccount);
  const remittanceInformation = text(errors, 'payment.remittanceInformation', input.remittanceInformation, 140, false);
  let requestedExecutionDate: string | undefined;
  if (input.requestedExecutionDate !== undefined) {
    const date = input.requestedExecutionDate;
    if (typeof date !== 'string' || !isCalendarDate(date)) {
      errors.push('payment.requestedExecutionDate: a date YYYY-MM-DD is required');
    } else {
      requestedExecutionDate = date;
    }
  }
  if (errors.length > 0 || !instructedAmount || !creditorName || !creditorAccount) return { ok: false, errors };
  return {
    ok: true,
    payment: {
      instructedAmount,
      creditorName,
      creditorAccount,
      ...(debtorAccount ? { debtorAccount } : {}),
      ...(remittanceInformation === undefined ? {} : { remittanceInformation }),
      ...(requestedExecutionDate === undefined ? {} : { requestedExecutionDate }),
    },
  };
}

function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === value;
}

/**
 * RFC 9396 `payment_initiation` as granted (§7): what the PSU authorised, enriched with the
 * account they paid from (§7.1) and the dynamic-linking hash, in the token response, the access
 * token (§9.1) and introspection (§9.2).
 */
export interface PaymentInitiationDetail {
  type: 'payment_initiation';
  actions: [PaymentAction];
  identifier: string;
  instructedAmount: { amount: string; currency: string };
  creditorName: string;
  creditorAccount: { iban: string };
  debtorAccount?: { iban: string };
  remittanceInformation?: string;
  requestedExecutionDate?: string;
  payment_hash: string;
}

/** base64url(SHA-256(JCS(snapshot))) (RFC 8785): the same payment always gives the same hash. */
export function paymentHash(snapshot: PaymentSnapshot): string {
  const canonical = canonicalize(snapshot);
  if (canonical === undefined) throw new Error('the payment snapshot is not serialisable');
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}
