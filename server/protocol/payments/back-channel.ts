// The back channel of the bank's resource server (STET REDIRECT approach, OAuth target flow): it
// registers each payment (or cancellation) the PISP posted to the bank's API and gets the
// consentApproval URL back; it reads the outcome, consumes the authorisation once when the PISP
// confirms, and withdraws it when the bank drops the payment. Without HTTP: plain values in,
// results or OAuthError out.
import { OAuthError } from '../errors.ts';
import type { ClientStore } from '../registration/ports.ts';
import { randomSecret } from '../secrets.ts';
import {
  type PaymentAction,
  type PaymentInitiationDetail,
  type PaymentSnapshot,
  parsePayment,
  paymentHash,
} from './payment.ts';
import type { PaymentAuthorizationRecord, PaymentAuthorizationStatus, PaymentAuthorizationStore } from './ports.ts';

export const PAYMENT_INITIATION = 'payment_initiation' as const;

export interface BackChannelDeps {
  /** The authorization endpoint as the metadata names it (on the PSU listener when there is one). */
  authorizationEndpoint: string;
  clients: Pick<ClientStore, 'find'>;
  payments: PaymentAuthorizationStore;
  /** PAYMENT_AUTHORIZATION_TTL in seconds. */
  ttlSeconds: number;
}

export interface PaymentAuthorizationView {
  authorization_id: string;
  client_id: string;
  action: PaymentAction;
  payment_request_resource_id: string;
  status: PaymentAuthorizationStatus;
  payment_hash: string;
  payment: PaymentAuthorizationRecord['payment'];
  consent_approval_href: string;
  expires_at: string;
  debtorAccount?: { iban: string };
  sca_at?: string;
}

const REGISTRATION_FIELDS = new Set(['client_id', 'action', 'payment_request_resource_id', 'payment']);
/** STET resource ids are opaque strings; printable ASCII keeps them safe in logs and URLs. */
const RESOURCE_ID = /^[\x21-\x7e]{1,100}$/;

/** The status as of `now`: an authorisation nobody approved in time is expired. */
export function effectiveStatus(record: PaymentAuthorizationRecord, now: number): PaymentAuthorizationStatus {
  return record.status === 'awaiting_authorisation' && record.expiresAt <= now ? 'expired' : record.status;
}

/** The authorization endpoint with everything but the four parameters the PISP adds. */
export function consentApprovalHref(
  authorizationEndpoint: string,
  record: Pick<PaymentAuthorizationRecord, 'clientId' | 'authorizationId'>,
) {
  const url = new URL(authorizationEndpoint);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', record.clientId);
  url.searchParams.set('scope', 'pisp');
  url.searchParams.set(
    'authorization_details',
    JSON.stringify([{ type: PAYMENT_INITIATION, identifier: record.authorizationId }]),
  );
  return url.toString();
}

export function view(
  authorizationEndpoint: string,
  record: PaymentAuthorizationRecord,
  now: number,
): PaymentAuthorizationView {
  return {
    authorization_id: record.authorizationId,
    client_id: record.clientId,
    action: record.action,
    payment_request_resource_id: record.paymentRequestResourceId,
    status: effectiveStatus(record, now),
    payment_hash: record.paymentHash,
    payment: record.payment,
    consent_approval_href: consentApprovalHref(authorizationEndpoint, record),
    expires_at: new Date(record.expiresAt).toISOString(),
    ...(record.debtorAccount ? { debtorAccount: record.debtorAccount } : {}),
    ...(record.scaAt === null ? {} : { sca_at: new Date(record.scaAt).toISOString() }),
  };
}

/** The granted authorization_details of an authorised payment (RFC 9396 §7). */
export function grantedDetails(record: PaymentAuthorizationRecord): PaymentInitiationDetail[] {
  const { payment } = record;
  return [
    {
      type: PAYMENT_INITIATION,
      actions: [record.action],
      identifier: record.authorizationId,
      instructedAmount: payment.instructedAmount,
      creditorName: payment.creditorName,
      creditorAccount: payment.creditorAccount,
      ...(record.debtorAccount ? { debtorAccount: record.debtorAccount } : {}),
      ...(payment.remittanceInformation ? { remittanceInformation: payment.remittanceInformation } : {}),
      ...(payment.requestedExecutionDate ? { requestedExecutionDate: payment.requestedExecutionDate } : {}),
      payment_hash: record.paymentHash,
    },
  ];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Registers a payment. Same client, resource id and action with the same payment: the existing
 * authorisation (`created: false`, an idempotent retry); with another payment: 409. Nothing is
 * stored for a rejected request.
 */
export async function registerPayment(
  deps: BackChannelDeps,
  resourceServerId: string,
  body: unknown,
  now: number,
): Promise<{ created: boolean; view: PaymentAuthorizationView }> {
  if (!isObject(body)) throw new OAuthError('invalid_request', 'a JSON object is required');
  const errors: string[] = [];
  for (const key of Object.keys(body)) if (!REGISTRATION_FIELDS.has(key)) errors.push(`${key}: unknown field`);
  const { client_id: clientId, action, payment_request_resource_id: resourceId } = body;
  if (typeof clientId !== 'string' || clientId === '') errors.push('client_id: the PISP’s client_id is required');
  if (action !== 'initiate' && action !== 'cancel') errors.push('action: "initiate" or "cancel" is required');
  if (typeof resourceId !== 'string' || !RESOURCE_ID.test(resourceId)) {
    errors.push('payment_request_resource_id: 1 to 100 printable ASCII characters are required');
  }
  const parsed = parsePayment(body.payment);
  if (!parsed.ok) errors.push(...parsed.errors);
  if (errors.length > 0 || !parsed.ok) throw new OAuthError('invalid_request', errors.join('; '));

  const client = await deps.clients.find(clientId as string);
  if (!client || client.suspendedAt) {
    throw new OAuthError('unauthorized_client', 'client_id: unknown, deleted or suspended client');
  }
  if (!client.metadata.scope.split(' ').includes('pisp')) {
    throw new OAuthError(
      'unauthorized_client',
      'client_id: the client’s certificate has no PSP_PI role (no pisp scope)',
    );
  }

  const snapshot: PaymentSnapshot = {
    action: action as PaymentAction,
    payment_request_resource_id: resourceId as string,
    client_id: client.clientId,
    payment: parsed.payment,
  };
  const hash = paymentHash(snapshot);
  const { created, record } = await deps.payments.register({
    authorizationId: randomSecret(16),
    resourceServerId,
    clientId: client.clientId,
    action: snapshot.action,
    paymentRequestResourceId: snapshot.payment_request_resource_id,
    payment: parsed.payment,
    paymentHash: hash,
    status: 'awaiting_authorisation',
    debtorAccount: null,
    psuId: null,
    scaAt: null,
    createdAt: now,
    expiresAt: now + deps.ttlSeconds * 1000,
    updatedAt: now,
  });
  if (!created && (record.paymentHash !== hash || record.resourceServerId !== resourceServerId)) {
    throw new OAuthError(
      'conflict',
      'this payment_request_resource_id and action are registered with another payment: register a new resource id',
    );
  }
  return { created, view: view(deps.authorizationEndpoint, record, now) };
}

async function owned(deps: BackChannelDeps, resourceServerId: string, authorizationId: string) {
  const record = await deps.payments.find(authorizationId);
  // Another resource server's authorisation is as unknown as a missing one.
  if (!record || record.resourceServerId !== resourceServerId) {
    throw new OAuthError('not_found', 'no payment authorization with this id');
  }
  return record;
}

export async function readPayment(deps: BackChannelDeps, resourceServerId: string, id: string, now: number) {
  return view(deps.authorizationEndpoint, await owned(deps, resourceServerId, id), now);
}

/** The PISP confirmed: the authorisation is used once; its access token turns inactive. */
export async function consumePayment(deps: BackChannelDeps, resourceServerId: string, id: string, now: number) {
  const record = await owned(deps, resourceServerId, id);
  if (effectiveStatus(record, now) !== 'authorised' || !(await deps.payments.consume(id, now))) {
    const current = (await deps.payments.find(id)) ?? record;
    throw new OAuthError('conflict', `the payment authorization is ${effectiveStatus(current, now)}, not authorised`);
  }
  return view(deps.authorizationEndpoint, { ...record, status: 'consumed', updatedAt: now }, now);
}

/** The bank dropped the payment: a PSU still on the page ends in access_denied, tokens inactive. */
export async function withdrawPayment(deps: BackChannelDeps, resourceServerId: string, id: string, now: number) {
  const record = await owned(deps, resourceServerId, id);
  if (!(await deps.payments.withdraw(id, now))) {
    throw new OAuthError(
      'conflict',
      `the payment authorization is ${effectiveStatus(record, now)}: it cannot be withdrawn`,
    );
  }
}
