// The storage port of payment authorisations: what the bank's resource server registers over the
// back channel, what the PSU authorises on the payment page, what the resource server consumes.
import type { Payment, PaymentAction } from './payment.ts';

/**
 * awaiting_authorisation -> authorised (PSU approved) -> consumed (one consume), or rejected (PSU
 * refused), expired (not approved in time), withdrawn (the resource server's DELETE).
 */
export type PaymentAuthorizationStatus =
  | 'awaiting_authorisation'
  | 'authorised'
  | 'rejected'
  | 'expired'
  | 'consumed'
  | 'withdrawn';

export interface PaymentAuthorizationRecord {
  authorizationId: string;
  /** The resource server that registered it: the only one that may read, consume or withdraw it. */
  resourceServerId: string;
  clientId: string;
  action: PaymentAction;
  paymentRequestResourceId: string;
  payment: Payment;
  paymentHash: string;
  /** As stored; `expired` is derived from `expiresAt` while awaiting. */
  status: PaymentAuthorizationStatus;
  /** The account the PSU paid from (chosen, or fixed by the bank). */
  debtorAccount: { iban: string } | null;
  psuId: string | null;
  scaAt: number | null;
  createdAt: number;
  /** Until then the PSU may approve it (PAYMENT_AUTHORIZATION_TTL). */
  expiresAt: number;
  updatedAt: number;
}

/** What the PSU's approval binds, in the same transaction as the consent and the code. */
export interface PaymentApproval {
  authorizationId: string;
  /** The hash the PSU saw: the approval fails if the stored payment has another one. */
  paymentHash: string;
  psuId: string;
  debtorAccount: { iban: string };
  scaAt: number;
}

export interface PaymentAuthorizationStore {
  /**
   * Inserts the authorisation unless the same client, resource id and action are registered: then
   * returns the existing one and `created: false` (the caller compares the hashes).
   */
  register(record: PaymentAuthorizationRecord): Promise<{ created: boolean; record: PaymentAuthorizationRecord }>;
  find(authorizationId: string): Promise<PaymentAuthorizationRecord | undefined>;
  /** authorised -> consumed, one conditional UPDATE: exactly one concurrent caller gets true. */
  consume(authorizationId: string, at: number): Promise<boolean>;
  /** awaiting_authorisation or authorised -> withdrawn; false if it was in another state. */
  withdraw(authorizationId: string, at: number): Promise<boolean>;
  /** awaiting_authorisation -> rejected (the PSU refused); false if it was in another state. */
  reject(authorizationId: string, at: number): Promise<boolean>;
}
