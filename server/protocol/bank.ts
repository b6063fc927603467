// The bank's extension points: what a bank replaces with calls to its own systems (core banking,
// identity provider, the QTSP's OCSP/CRL). Not storage: the storage ports live beside the protocol
// code that uses them (token/ports.ts, psu/ports.ts, registration/ports.ts, keys/ports.ts,
// operations/ports.ts), and db/ implements those.
import type { x509 } from '../pki/x509.ts';

export type AccountType = 'current' | 'savings' | 'card';

/** A payment account as the consent page shows it. */
export interface PsuAccount {
  accountId: string;
  psuId: string;
  iban: string;
  name: string;
  type: AccountType;
  currency: string;
}

/**
 * Account lookup: which accounts a PSU holds. A bank replaces it with a call to its core banking
 * system (see the README, "Plugging in the bank's identity provider and accounts").
 */
export interface AccountDirectory {
  accountsOf(psuId: string): Promise<PsuAccount[]>;
}

/** The outcome of one authentication step; never tells the PSU which element was wrong. */
export type PsuAuthenticationResult =
  | { ok: true; psuId: string }
  | {
      ok: false;
      /** The PSU the identifier named, when it names one: the failure is logged against it. */
      psuId?: string;
      /** Set while the PSU is blocked (RTS art. 4(3)(b)); the page says the access is blocked. */
      lockedUntil?: number;
      /** True when this very failure caused the block. */
      lockedNow?: boolean;
    };

/**
 * PSU authentication in two independent factors (RTS art. 4): knowledge (identifier + password)
 * then possession (a one-time code). Each failure counts towards the block after 5 consecutive
 * failures, and the count survives restarts. A bank replaces it with its own identity provider.
 */
export interface PsuAuthenticator {
  verifyPassword(username: string, password: string, now: number): Promise<PsuAuthenticationResult>;
  /** Called only for the PSU whose password was accepted in the same session. */
  verifyOneTimeCode(psuId: string, code: string, now: number): Promise<PsuAuthenticationResult>;
  /**
   * Optional transaction confirmation for payments (RTS art. 5 dynamic linking): when present, the
   * payment page's second factor goes here instead of verifyOneTimeCode, with the payment's
   * `hash` (base64url SHA-256 of its canonical JSON) and the `display` text the PSU was shown, so
   * that a bank can plug a factor bound to them (WebAuthn with the hash as challenge, OCRA RFC 6287).
   */
  confirmTransaction?(
    psuId: string,
    transaction: { hash: string; display: string },
    response: string,
    now: number,
  ): Promise<PsuAuthenticationResult>;
}

/**
 * The OCSP/CRL extension point (RTS art. 34: check revocation). Called on every verify, cached leaf
 * or not, once every local check has passed, so an implementation must cache responses itself.
 * It rejects with CertificateRejectedError('certificate_revoked'); any other error fails the request.
 */
export interface RevocationChecker {
  check(leaf: x509.X509Certificate, issuer: x509.X509Certificate): Promise<void>;
}
