// Storage ports of the PSU side: authorization endpoint, PAR, PSU pages (authorization.ts,
// psu-authentication.ts, sandbox-personas.ts). Implemented in db/ for each backend.
import type { AccountDirectory, PsuAccount } from '../bank.ts';
import type { PaymentApproval } from '../payments/ports.ts';

export interface PsuRecord {
  psuId: string;
  username: string;
  displayName: string;
  /** scrypt hash; null for sandbox personas, who never log in. */
  passwordHash: string | null;
  /** Base32 TOTP secret (RFC 6238). */
  totpSecret: string | null;
  status: 'active' | 'disabled';
  sandbox: boolean;
  failedAttempts: number;
  lockedUntil: number | null;
  lastTotpStep: number | null;
  createdAt: number;
}

/** The database-backed PSUs of the default authenticator, the sandbox personas and the CLI. */
export interface PsuStore {
  insert(psu: PsuRecord, accounts?: PsuAccount[]): Promise<void>;
  find(psuId: string): Promise<PsuRecord | undefined>;
  findByUsername(username: string): Promise<PsuRecord | undefined>;
  list(filter?: { sandbox?: boolean }): Promise<PsuRecord[]>;
  setStatus(psuId: string, status: PsuRecord['status']): Promise<boolean>;
  /** New TOTP secret; forgets the last accepted step and unblocks. */
  resetTotp(psuId: string, totpSecret: string): Promise<boolean>;
  /**
   * One more consecutive failure, in a single UPDATE (two concurrent failures both count). A block
   * that has run out starts a fresh count. Returns the new state.
   */
  recordFailure(
    psuId: string,
    now: number,
    policy: { maxAttempts: number; lockMs: number },
  ): Promise<{ failedAttempts: number; lockedUntil: number | null }>;
  recordSuccess(psuId: string): Promise<void>;
  /** Accepts a TOTP time step once (RTS art. 4(1)): false if this step or a later one was used. */
  acceptTotpStep(psuId: string, step: number): Promise<boolean>;
  addAccount(account: PsuAccount & { createdAt: number }): Promise<void>;
  listAccounts(psuId?: string): Promise<PsuAccount[]>;
  /**
   * The bank removes a PSU: the PSU and its accounts are deleted, and its consents withdrawn (by
   * 'bank') with their grants, in one transaction. The authentication log keeps its rows (RTS art.
   * 29). Undefined if there was no such PSU.
   */
  remove(psuId: string, at: number): Promise<{ consentsRevoked: number } | undefined>;
  /**
   * Deletes an account; the consents still active that name it are withdrawn with their grants (the
   * access they gave no longer exists). Undefined if there was no such account.
   */
  removeAccount(accountId: string, at: number): Promise<{ consentsRevoked: number } | undefined>;
}

/** The authorization request as validated, kept in the PSU session or the pushed request. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scope: string;
  state?: string;
  codeChallenge: string;
  codeChallengeMethod: 'S256';
  /**
   * Scope pisp: the payment authorisation named by `authorization_details` (RFC 9396), registered
   * by the bank's resource server. The payment's data comes from there, never from the request.
   */
  paymentAuthorizationId?: string;
}

/** A payment request goes login -> payment (TOTP on the page that shows amount and payee) -> done. */
/**
 * `payment`: the payment page (with the code in production); `debtor_account`: production only,
 * after the code, the choice of the account to pay from when the bank did not fix it.
 */
export type PsuSessionStage = 'login' | 'sca' | 'consent' | 'payment' | 'debtor_account' | 'done';

export interface PsuSession {
  /** Public, loggable id (RTS art. 29); the cookie carries a separate secret. */
  sessionId: string;
  request: AuthorizationRequest;
  psuId: string | null;
  stage: PsuSessionStage;
  csrfToken: string;
  authenticatedAt: number | null;
  lastSeenAt: number;
  expiresAt: number;
  createdAt: number;
}

/**
 * `events` given to a session write are recorded in its transaction, and only if it wins (RTS
 * art. 29: a request that lost a race did nothing): one commit for the step and its log.
 */
export interface PsuSessionStore {
  create(sessionDigest: string, session: PsuSession, events?: AuthenticationEvent[]): Promise<void>;
  find(sessionDigest: string): Promise<PsuSession | undefined>;
  /** Moves the session on only if it is still at `fromStage` (a replayed form changes nothing). */
  advance(
    sessionDigest: string,
    fromStage: PsuSessionStage,
    changes: Partial<Pick<PsuSession, 'psuId' | 'stage' | 'authenticatedAt' | 'lastSeenAt' | 'expiresAt'>>,
    events?: AuthenticationEvent[],
  ): Promise<boolean>;
}

export type AuthenticationEventName =
  | 'session.started'
  | 'session.expired'
  | 'session.cancelled'
  | 'login.succeeded'
  | 'login.failed'
  | 'sca.succeeded'
  | 'sca.failed'
  | 'psu.locked'
  | 'consent.granted'
  | 'consent.refused'
  /** The PSU withdrew a permission (the dashboard, or the bank's back office for the PSU). */
  | 'consent.withdrawn'
  /** The payment was withdrawn, expired or changed while the PSU was on its page. */
  | 'payment.unavailable';

export interface AuthenticationEvent {
  sessionId: string;
  event: AuthenticationEventName;
  occurredAt: number;
  psuId?: string;
  clientId?: string;
  detail?: Record<string, unknown>;
}

/** The durable log of authentication and consent (RTS art. 29), keyed by session. */
export interface AuthenticationEventLog {
  record(event: AuthenticationEvent): Promise<void>;
}

/** Which part of the authentication log to read; both given, an event must match both. */
export interface AuthenticationEventFilter {
  /**
   * Every event of every session in which this PSU was identified, the steps before that included
   * (`session.started`, a first failed login): the whole trail a dispute needs (PSD2 art. 72).
   */
  psuId?: string;
  /** The events naming this client. */
  clientId?: string;
}

/** The authentication log read back, as the bank's operators and auditors read it (`psu events`). */
export interface AuthenticationEventReader {
  /** Oldest first; events of the same millisecond come in no set order. */
  list(filter: AuthenticationEventFilter): Promise<AuthenticationEvent[]>;
}

export interface PushedRequestStore {
  insert(requestUriDigest: string, request: AuthorizationRequest, createdAt: number, expiresAt: number): Promise<void>;
  /** Single use, bound to its client, unexpired: a conditional UPDATE, so only one caller wins. */
  consume(requestUriDigest: string, clientId: string, now: number): Promise<AuthorizationRequest | undefined>;
}

export interface ConsentRecord {
  /** Scope pisp: the payment authorisation this consent approves. */
  authorizationId?: string;
  consentId: string;
  clientId: string;
  psuId: string;
  scope: string;
  accountIds: string[];
  createdAt: number;
  expiresAt: number;
}

export interface AuthorizationCodeRecord {
  codeDigest: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  consentId: string;
  psuId: string;
  scope: string;
  createdAt: number;
  expiresAt: number;
}

/** What a PSU's approval writes: the consent, its code and, after a real SCA, the SCA time. */
export interface GrantedConsent {
  consent: ConsentRecord;
  code: AuthorizationCodeRecord;
  /** The code itself, shown once in the redirect; only its digest is stored. */
  codeSecret: string;
  sca?: { at: number };
  /** Scope pisp: the payment authorisation moves to authorised, bound to what the PSU saw. */
  payment?: PaymentApproval;
}

/** `session`: the session was no longer at the step; `payment`: withdrawn, expired or changed. Nothing written. */
export type GrantOutcome = 'granted' | 'session' | 'payment';

export interface ConsentStore {
  /**
   * The last step of the PSU journey, in one transaction: the session moves from `fromStage` to
   * `done` (with the approving PSU), the consent and its code are inserted and the PSU's last SCA
   * time for this client is kept, with `events` in the authentication log. Nothing written if the
   * session was no longer at `fromStage` (a replayed or concurrent form) or the payment is gone.
   */
  grant(
    granted: GrantedConsent,
    session: { sessionDigest: string; fromStage: PsuSessionStage },
    events?: AuthenticationEvent[],
  ): Promise<GrantOutcome>;
  /** Consents, newest first, optionally of one PSU and/or one client. */
  list(filter: {
    psuId?: string;
    clientId?: string;
  }): Promise<(ConsentRecord & { revokedAt: number | null; revokedBy: string | null })[]>;
  /**
   * Withdraws a consent and revokes its grants in one transaction, so its refresh and access tokens
   * stop working at once. False if it was unknown or already withdrawn.
   */
  revoke(consentId: string, at: number, by: 'psu' | 'tpp' | 'bank'): Promise<boolean>;
}

/** Every PSU-side store, as the SQLite (or any other) implementation provides them. */
export interface AuthorizationStores {
  psus: PsuStore;
  accounts: AccountDirectory;
  sessions: PsuSessionStore;
  events: AuthenticationEventLog & AuthenticationEventReader;
  pushedRequests: PushedRequestStore;
  consents: ConsentStore;
}
