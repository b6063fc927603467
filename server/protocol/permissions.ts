// The permission dashboard (PSR art. 43): what a PSU granted to which TPP, what ended in the last
// two years, and the withdrawal. One overview serves the PSU's pages (/{lang}/permissions) and the
// bank's back-office API (/psus/{psu_id}/permissions): the same records, the same rules. The
// dashboard's own login (the same steps as the consent pages: RTS art. 4) is in
// permissions/dashboard.ts. Imports no HTTP and no storage: the ports are passed in.
import type { AccountDirectory } from './bank.ts';
import { localized } from './client-metadata.ts';
import { OAuthError } from './errors.ts';
import type { PaymentAuthorizationRecord } from './payments/ports.ts';
import type { PermissionStores } from './permissions/ports.ts';
import type { AuthenticationEventLog, ConsentRecord, ConsentStore, PsuStore } from './psu/ports.ts';
import { sameToken } from './psu-journey.ts';
import type { ClientStore } from './registration/ports.ts';
import { secretDigest } from './secrets.ts';
import { organizationNameFromDn } from './tpp-identity.ts';

const DAY_MS = 86_400_000;
/** How long ended permissions and authorised payments stay on the dashboard, and in the database. */
export const HISTORY_RETENTION_MS = 2 * 365 * DAY_MS;
/** RTS art. 10a: account information needs a new SCA at least every 180 days. */
export const SCA_RENEWAL_MS = 180 * DAY_MS;

/** The service a permission gives, in the words the PSU reads (PSD2 art. 65 and 67). */
export type PermissionService = 'account_information' | 'account_information_extended_history' | 'funds_confirmation';

/** The TPP as the bank knows it: its declared name, and what its certificate proved. */
export interface TppIdentity {
  clientId: string;
  /** The registered `client_name` (localised when a language is given), else the client id. */
  clientName: string;
  /** The QWAC's organizationIdentifier (e.g. `PSDFR-ACPR-12345`): verified by the bank. */
  organizationId: string | null;
  /** The QWAC's organisation name (O=): verified by the bank; null when unknown or the client is gone. */
  legalName: string | null;
}

export interface Permission {
  consentId: string;
  tpp: TppIdentity;
  service: PermissionService;
  /** The accounts it covers; `iban` is null for an account the bank no longer holds. */
  accounts: { accountId: string; iban: string | null }[];
  grantedAt: number;
  /**
   * When a new SCA is due (RTS art. 10a): 180 days after the PSU's last SCA with this TPP, or
   * after the grant when none was recorded (the sandbox has no real SCA).
   */
  scaRenewalAt: number;
  expiresAt: number;
  status: 'active' | 'withdrawn' | 'expired';
  /** Withdrawn: when, and by whom (`psu`, `tpp` or `bank`). */
  withdrawnAt: number | null;
  withdrawnBy: string | null;
}

/** An authorised payment, read-only (PSD2 art. 80: once authorised it cannot be revoked here). */
export interface PaymentHistoryItem {
  authorizationId: string;
  tpp: TppIdentity;
  action: 'initiate' | 'cancel';
  amount: string;
  currency: string;
  creditorName: string;
  creditorIban: string;
  debtorIban: string | null;
  authorisedAt: number;
  status: 'authorised' | 'consumed';
}

export interface PermissionOverview {
  psuId: string;
  /** Active permissions, newest first. */
  current: Permission[];
  /** Withdrawn and expired permissions that ended in the last two years, newest first. */
  ended: Permission[];
  /** Authorised payments of the last two years, newest first. */
  payments: PaymentHistoryItem[];
}

export interface PermissionDeps {
  consents: Pick<ConsentStore, 'list' | 'revoke'>;
  clients: Pick<ClientStore, 'find'>;
  accounts: AccountDirectory;
  psus: Pick<PsuStore, 'find'>;
  records: Pick<PermissionStores, 'lastScaTimes' | 'paymentsOf'>;
  events: AuthenticationEventLog;
}

/** Who withdrew, for the audit trail: the PSU on the dashboard, or the bank's back office for the PSU. */
export interface WithdrawalActor {
  /** The dashboard session's id, or `back-office:<client>` for the back-office API. */
  sessionId: string;
  channel: 'dashboard' | 'back_office';
}

export function serviceOf(scope: string): PermissionService | undefined {
  const parts = scope.split(' ');
  if (parts.includes('cbpii')) return 'funds_confirmation';
  if (!parts.includes('aisp')) return undefined;
  return parts.includes('extended_transaction_history')
    ? 'account_information_extended_history'
    : 'account_information';
}

/** The end of a permission, if it ended. */
function endOf(consent: ConsentRecord & { revokedAt: number | null }, now: number): number | undefined {
  if (consent.revokedAt !== null) return consent.revokedAt;
  return consent.expiresAt <= now ? consent.expiresAt : undefined;
}

/**
 * The PSU's dashboard. An unknown PSU (neither a PSU of this server nor anyone who ever granted a
 * permission here) is `not_found`, so the back office cannot mistake a typo for an empty list.
 * `lang` localises the TPPs' names.
 */
export async function permissionsOf(
  deps: PermissionDeps,
  psuId: string,
  now: number,
  lang?: string,
): Promise<PermissionOverview> {
  const since = now - HISTORY_RETENTION_MS;
  const [consents, psu, accounts, lastSca, payments] = await Promise.all([
    deps.consents.list({ psuId }),
    deps.psus.find(psuId),
    deps.accounts.accountsOf(psuId),
    deps.records.lastScaTimes(psuId),
    deps.records.paymentsOf(psuId, since),
  ]);
  if (!psu && consents.length === 0 && payments.length === 0) {
    throw new OAuthError('not_found', 'no PSU with this id');
  }
  const ibans = new Map(accounts.map((a) => [a.accountId, a.iban]));
  const identities = new Map<string, Promise<TppIdentity>>();
  const identity = (clientId: string) => {
    let found = identities.get(clientId);
    if (!found) {
      found = tppIdentity(deps, clientId, lang);
      identities.set(clientId, found);
    }
    return found;
  };
  const current: Permission[] = [];
  const ended: { permission: Permission; end: number }[] = [];
  for (const consent of consents) {
    const service = serviceOf(consent.scope);
    // A pisp consent is the approval of one payment: it appears as that payment.
    if (!service) continue;
    const end = endOf(consent, now);
    if (end !== undefined && end < since) continue;
    const permission: Permission = {
      consentId: consent.consentId,
      tpp: await identity(consent.clientId),
      service,
      accounts: consent.accountIds.map((accountId) => ({ accountId, iban: ibans.get(accountId) ?? null })),
      grantedAt: consent.createdAt,
      scaRenewalAt: (lastSca.get(consent.clientId) ?? consent.createdAt) + SCA_RENEWAL_MS,
      expiresAt: consent.expiresAt,
      status: consent.revokedAt !== null ? 'withdrawn' : end !== undefined ? 'expired' : 'active',
      withdrawnAt: consent.revokedAt,
      withdrawnBy: consent.revokedBy,
    };
    if (end === undefined) current.push(permission);
    else ended.push({ permission, end });
  }
  return {
    psuId,
    current,
    ended: ended.sort((x, y) => y.end - x.end).map((e) => e.permission),
    payments: await Promise.all(payments.map(async (p) => paymentItem(p, await identity(p.clientId)))),
  };
}

function paymentItem(record: PaymentAuthorizationRecord, tpp: TppIdentity): PaymentHistoryItem {
  return {
    authorizationId: record.authorizationId,
    tpp,
    action: record.action,
    amount: record.payment.instructedAmount.amount,
    currency: record.payment.instructedAmount.currency,
    creditorName: record.payment.creditorName,
    creditorIban: record.payment.creditorAccount.iban,
    debtorIban: record.debtorAccount?.iban ?? null,
    authorisedAt: record.scaAt ?? record.updatedAt,
    status: record.status === 'consumed' ? 'consumed' : 'authorised',
  };
}

async function tppIdentity(deps: Pick<PermissionDeps, 'clients'>, clientId: string, lang?: string) {
  const client = await deps.clients.find(clientId);
  const name = client && (lang ? localized(client.metadata, 'client_name', lang) : client.metadata.client_name);
  const legalName = client
    ? (client.organizationName ?? organizationNameFromDn(client.metadata.tls_client_auth_subject_dn))
    : undefined;
  return {
    clientId,
    clientName: name ?? clientId,
    organizationId: client?.organizationId ?? null,
    legalName: legalName ?? null,
  };
}

/**
 * The PSU withdraws a permission: the consent and its grants are revoked in one transaction (the
 * TPP's refresh token is then `invalid_grant`, its access tokens inactive at introspection), and
 * the withdrawal is written to the authentication log with the session. Another PSU's consent, a
 * payment's consent or an unknown id is `not_found`; one already ended is `conflict`.
 */
export async function withdrawPermission(
  deps: Pick<PermissionDeps, 'consents' | 'events'>,
  input: { psuId: string; consentId: string; now: number; actor: WithdrawalActor },
): Promise<void> {
  const consent = (await deps.consents.list({ psuId: input.psuId })).find(
    (c) => c.consentId === input.consentId && serviceOf(c.scope) !== undefined,
  );
  if (!consent) throw new OAuthError('not_found', 'no permission with this id for this PSU');
  if (endOf(consent, input.now) !== undefined || !(await deps.consents.revoke(consent.consentId, input.now, 'psu'))) {
    throw new OAuthError('conflict', 'this permission was already withdrawn or has expired');
  }
  await deps.events.record({
    sessionId: input.actor.sessionId,
    event: 'consent.withdrawn',
    occurredAt: input.now,
    psuId: input.psuId,
    clientId: consent.clientId,
    detail: { consentId: consent.consentId, channel: input.actor.channel },
  });
}

/** The back office's configured credentials: its user name and the SHA-256 of its secret. */
export interface BackOfficeCredentials {
  clientId: string;
  secretDigest: string;
}

/**
 * HTTP Basic of the bank's back office, against its own credentials (never a resource server's:
 * introspecting tokens does not entitle anyone to a PSU's permissions). Returns its user name.
 */
export async function authenticateBackOffice(
  configured: BackOfficeCredentials | undefined,
  presented: { clientId: string; secret: string } | undefined,
): Promise<string> {
  const refused = () => new OAuthError('invalid_client', 'back-office authentication failed', { challenge: 'Basic' });
  if (!configured || !presented) throw refused();
  const digest = await secretDigest(presented.secret);
  // Both compared in constant time, and both always compared.
  const sameId = sameToken(presented.clientId, configured.clientId);
  const sameSecret = sameToken(digest, configured.secretDigest);
  if (!sameId || !sameSecret) throw refused();
  return configured.clientId;
}
