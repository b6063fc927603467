import type { ClientMetadata } from './client-metadata.ts';

// Storage ports, each declared by the protocol code that needs it. Implementations live in db/;
// every method is async so a networked store (PostgreSQL) can implement the same contract.

export type SigningKeyStatus = 'active' | 'published' | 'retired';

export interface StoredSigningKey {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateJwk: Record<string, unknown>;
  status: SigningKeyStatus;
  createdAt: number;
}

export interface SigningKeyStore {
  /** Keys that are not retired, newest first. */
  listPublished(): Promise<StoredSigningKey[]>;
  insert(key: StoredSigningKey): Promise<void>;
  /** Makes `kid` the only active key; the previously active one stays published for verification. */
  activate(kid: string): Promise<void>;
}

export interface HealthProbe {
  ping(): Promise<void>;
}

/** Who did what, for the audit trail (RTS art. 29): always written in the same transaction as the change. */
export interface AuditEvent {
  action: 'client.registered' | 'client.updated' | 'client.deleted';
  clientId: string;
  actorSubjectDn: string;
  actorThumbprint: string;
  occurredAt: number;
  detail?: Record<string, unknown>;
}

export interface ClientRecord {
  clientId: string;
  /** The organizationIdentifier of the registering certificate; it never changes. */
  organizationId: string;
  metadata: ClientMetadata;
  registrationTokenDigest: string;
  issuedAt: number;
  updatedAt: number;
}

export interface ClientStore {
  insert(record: ClientRecord, audit: AuditEvent): Promise<void>;
  /** A registered, not deleted client. */
  find(clientId: string): Promise<ClientRecord | undefined>;
  /** Replaces metadata and token digest only if the client still has `expectedTokenDigest`. */
  replace(
    clientId: string,
    expectedTokenDigest: string,
    changes: Pick<ClientRecord, 'metadata' | 'registrationTokenDigest' | 'updatedAt'>,
    audit: AuditEvent,
  ): Promise<boolean>;
  /** Marks the client deleted and revokes everything issued to it; false if it was already gone. */
  delete(clientId: string, expectedTokenDigest: string, audit: AuditEvent): Promise<boolean>;
}

// ---- The PSU side: authorization endpoint, PAR, PSU pages (authorization.ts, psu-authentication.ts) ----

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
}

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
}

/** The authorization request as validated, kept in the PSU session or the pushed request. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scope: string;
  state?: string;
  codeChallenge: string;
  codeChallengeMethod: 'S256';
}

export type PsuSessionStage = 'login' | 'sca' | 'consent' | 'done';

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

export interface PsuSessionStore {
  create(sessionDigest: string, session: PsuSession): Promise<void>;
  find(sessionDigest: string): Promise<PsuSession | undefined>;
  /** Moves the session on only if it is still at `fromStage` (a replayed form changes nothing). */
  advance(
    sessionDigest: string,
    fromStage: PsuSessionStage,
    changes: Partial<Pick<PsuSession, 'psuId' | 'stage' | 'authenticatedAt' | 'lastSeenAt' | 'expiresAt'>>,
  ): Promise<boolean>;
}

export type AuthenticationEventName =
  | 'session.started'
  | 'session.expired'
  | 'login.succeeded'
  | 'login.failed'
  | 'sca.succeeded'
  | 'sca.failed'
  | 'psu.locked'
  | 'consent.granted'
  | 'consent.refused';

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

export interface PushedRequestStore {
  insert(requestUriDigest: string, request: AuthorizationRequest, createdAt: number, expiresAt: number): Promise<void>;
  /** Single use, bound to its client, unexpired: a conditional UPDATE, so only one caller wins. */
  consume(requestUriDigest: string, clientId: string, now: number): Promise<AuthorizationRequest | undefined>;
}

export interface ConsentRecord {
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

export interface ConsentStore {
  /**
   * The consent, its authorization code and (after a real SCA) the PSU's last SCA time for this
   * client, in one transaction.
   */
  grant(consent: ConsentRecord, code: AuthorizationCodeRecord, sca?: { at: number }): Promise<void>;
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

// ---- Tokens: the token, revocation and introspection endpoints ----

/** A PSU's consent as the token side reads it: with its withdrawal. */
export interface ConsentState extends ConsentRecord {
  revokedAt: number | null;
}

/** An authorization code as the token side reads it: with its redemption. */
export interface AuthorizationCodeState extends AuthorizationCodeRecord {
  consumedAt: number | null;
  /** The grant created by the redemption that consumed the code. */
  grantId: string | null;
}

/** The token family born from one authorization code. */
export interface GrantRecord {
  grantId: string;
  clientId: string;
  consentId: string;
  psuId: string;
  scope: string;
  refreshTokenDigest: string | null;
  previousRefreshTokenDigest: string | null;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokedReason: string | null;
}

export type GrantRevocationReason =
  | 'code_reuse'
  | 'refresh_token_revoked'
  | 'refresh_token_reuse'
  | 'client_deleted'
  | 'consent_revoked';

export interface AuthorizationCodeStore {
  /** The code and the consent it carries (absent if the consent row is missing). */
  find(codeDigest: string): Promise<{ code: AuthorizationCodeState; consent: ConsentState | undefined } | undefined>;
  /**
   * Consumes the code if nobody has (one conditional UPDATE) and inserts `grant`, in one
   * transaction. False when another redemption won or the code expired: nothing is written.
   */
  redeem(codeDigest: string, grant: GrantRecord, at: number): Promise<boolean>;
}

export interface GrantStore {
  /** The grant and its consent. */
  find(grantId: string): Promise<{ grant: GrantRecord; consent: ConsentState | undefined } | undefined>;
  /**
   * Rotation. If `presented` is the current refresh token: current := next, previous := presented.
   * If it is the previous one (a retry after a lost response): current := next, previous := null,
   * so it is accepted once. False if neither matched any more (a concurrent request won).
   */
  rotateRefreshToken(grantId: string, presented: string, next: string): Promise<boolean>;
  /** False if the grant was already revoked or does not exist. */
  revoke(grantId: string, reason: GrantRevocationReason, at: number): Promise<boolean>;
}

export interface RevokedAccessTokenStore {
  /** Remembers a revoked jti until `expiresAt`; revoking twice is not an error. */
  revoke(token: { jti: string; clientId: string; expiresAt: number }, at: number): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
}

export interface ResourceServerRecord {
  clientId: string;
  name: string;
  secretDigest: string;
  createdAt: number;
  disabledAt: number | null;
}

export interface ResourceServerStore {
  insert(record: ResourceServerRecord): Promise<void>;
  /** An enabled resource server. */
  find(clientId: string): Promise<ResourceServerRecord | undefined>;
  list(): Promise<ResourceServerRecord[]>;
  /** False if unknown or already disabled. */
  disable(clientId: string, at: number): Promise<boolean>;
}

export interface PurgeCounts {
  authorizationCodes: number;
  revokedAccessTokens: number;
  grants: number;
  pushedRequests: number;
  psuSessions: number;
}

export interface PurgeStore {
  /**
   * Deletes what can no longer be used: codes, revoked-jti records, pushed requests and PSU
   * sessions past their expiry; grants expired or revoked more than `retentionMs` ago.
   */
  purge(now: number, retentionMs: number): Promise<PurgeCounts>;
}

/** Every PSU-side store, as the SQLite (or any other) implementation provides them. */
export interface AuthorizationStores {
  psus: PsuStore;
  accounts: AccountDirectory;
  sessions: PsuSessionStore;
  events: AuthenticationEventLog;
  pushedRequests: PushedRequestStore;
  consents: ConsentStore;
}
