// Row-to-record mappings shared by both backends: db/schema.ts and db/pg/schema.ts name their
// columns alike, so one mapping keeps a field from being dropped on one backend only.
import type { Payment, PaymentAction } from '../server/protocol/payments/payment.ts';
import type { PaymentAuthorizationRecord, PaymentAuthorizationStatus } from '../server/protocol/payments/ports.ts';
import type { AuthenticationEvent, AuthenticationEventName } from '../server/protocol/psu/ports.ts';
import type { ClientRecord } from '../server/protocol/registration/ports.ts';
import type { ConsentState } from '../server/protocol/token/ports.ts';

/** The columns of a `consents` row, as both drizzle schemas select them. */
export interface ConsentRow {
  consentId: string;
  clientId: string;
  psuId: string;
  scope: string;
  accountIds: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  authorizationId: string | null;
}

export function consentState(row: ConsentRow | null | undefined): ConsentState | undefined {
  if (!row) return undefined;
  let accountIds: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.accountIds);
    if (Array.isArray(parsed)) accountIds = parsed.map(String);
  } catch {
    // A malformed list grants no account rather than failing every token of the consent.
  }
  return {
    consentId: row.consentId,
    clientId: row.clientId,
    psuId: row.psuId,
    scope: row.scope,
    accountIds,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    // The payment a pisp consent approves: without it a code would yield a token bound to no payment.
    ...(row.authorizationId ? { authorizationId: row.authorizationId } : {}),
  };
}

/** The columns of a `payment_authorizations` row, as both drizzle schemas select them. */
export interface PaymentRow {
  authorizationId: string;
  resourceServerId: string;
  clientId: string;
  action: string;
  paymentRequestResourceId: string;
  payment: string;
  paymentHash: string;
  status: string;
  debtorIban: string | null;
  psuId: string | null;
  scaAt: number | null;
  createdAt: number;
  expiresAt: number;
  updatedAt: number;
}

export function paymentRecord(row: PaymentRow): PaymentAuthorizationRecord {
  return {
    authorizationId: row.authorizationId,
    resourceServerId: row.resourceServerId,
    clientId: row.clientId,
    action: row.action as PaymentAction,
    paymentRequestResourceId: row.paymentRequestResourceId,
    payment: JSON.parse(row.payment) as Payment,
    paymentHash: row.paymentHash,
    status: row.status as PaymentAuthorizationStatus,
    debtorAccount: row.debtorIban ? { iban: row.debtorIban } : null,
    psuId: row.psuId,
    scaAt: row.scaAt,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    updatedAt: row.updatedAt,
  };
}

/** The row a new payment authorisation is inserted as. */
export function paymentRow(record: PaymentAuthorizationRecord): PaymentRow {
  return {
    authorizationId: record.authorizationId,
    resourceServerId: record.resourceServerId,
    clientId: record.clientId,
    action: record.action,
    paymentRequestResourceId: record.paymentRequestResourceId,
    payment: JSON.stringify(record.payment),
    paymentHash: record.paymentHash,
    status: record.status,
    debtorIban: record.debtorAccount?.iban ?? null,
    psuId: record.psuId,
    scaAt: record.scaAt,
    createdAt: record.createdAt,
    expiresAt: record.expiresAt,
    updatedAt: record.updatedAt,
  };
}

/**
 * The payment statuses the permission dashboard's history shows (authorised by the PSU), and the
 * purge keeps for two years: the others never carried the PSU's approval.
 */
export const HISTORY_PAYMENT_STATUSES: PaymentAuthorizationStatus[] = ['authorised', 'consumed'];

/** The columns of an `authentication_events` row, as both drizzle schemas select them. */
export interface AuthenticationEventRow {
  sessionId: string;
  occurredAt: number;
  event: string;
  psuId: string | null;
  clientId: string | null;
  detail: string | null;
}

export function authenticationEvent(row: AuthenticationEventRow): AuthenticationEvent {
  let detail: Record<string, unknown> | undefined;
  if (row.detail !== null) {
    try {
      detail = JSON.parse(row.detail) as Record<string, unknown>;
    } catch {
      // The log is read as it is: a detail that is not JSON is shown as text.
      detail = { text: row.detail };
    }
  }
  return {
    sessionId: row.sessionId,
    occurredAt: row.occurredAt,
    event: row.event as AuthenticationEventName,
    ...(row.psuId !== null ? { psuId: row.psuId } : {}),
    ...(row.clientId !== null ? { clientId: row.clientId } : {}),
    ...(detail ? { detail } : {}),
  };
}

/** The row a newly registered client is inserted as (its subject DN apart, for the lookup by DN). */
export function clientRow(record: ClientRecord) {
  return {
    clientId: record.clientId,
    organizationId: record.organizationId,
    subjectDn: record.metadata.tls_client_auth_subject_dn,
    organizationName: record.organizationName ?? null,
    metadata: JSON.stringify(record.metadata),
    registrationTokenDigest: record.registrationTokenDigest,
    issuedAt: record.issuedAt,
    updatedAt: record.updatedAt,
  };
}
