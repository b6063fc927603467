// The domain tables. Portable on purpose (a PostgreSQL store is planned): ids are text, instants are
// integer milliseconds since the epoch, structured values are JSON text; nothing SQLite-only.
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** JOSE signing keys; several may be published at /jwks, exactly one is active for signing. */
export const signingKeys = sqliteTable(
  'signing_keys',
  {
    kid: text('kid').primaryKey(),
    alg: text('alg').notNull(),
    publicJwk: text('public_jwk').notNull(),
    /** Sealed under the key-encryption key (`kek1:…`, server/key-encryption.ts). */
    privateJwk: text('private_jwk').notNull(),
    /** 'active' signs and is published; 'published' only verifies (rotation); 'retired' is gone from /jwks. */
    status: text('status').notNull(),
    createdAt: integer('created_at').notNull(),
    /** When it stopped being the active key; retiring waits one access-token lifetime after it. */
    deactivatedAt: integer('deactivated_at'),
  },
  (t) => [
    index('signing_keys_status').on(t.status),
    // At most one active key, whatever the number of instances writing.
    uniqueIndex('signing_keys_one_active').on(t.status).where(sql`status = 'active'`),
  ],
);

/** OAuth clients registered by TPPs (RFC 7591). Deleted clients keep their row for the audit trail. */
export const clients = sqliteTable(
  'clients',
  {
    clientId: text('client_id').primaryKey(),
    organizationId: text('organization_id').notNull(),
    subjectDn: text('subject_dn').notNull(),
    /**
     * The organisation's legal name (O=) in the registering certificate, as the bank verified it;
     * set at registration and on every RFC 7592 update. Null for clients registered before it was
     * stored: their panel reads it from subject_dn.
     */
    organizationName: text('organization_name'),
    /** The registered metadata (RFC 7591 names), JSON. */
    metadata: text('metadata').notNull(),
    /** SHA-256 of the registration access token; null once deleted. */
    registrationTokenDigest: text('registration_token_digest'),
    issuedAt: integer('issued_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    deletedAt: integer('deleted_at'),
    /** Set while the bank suspends the client: no token, its tokens inactive at introspection. */
    suspendedAt: integer('suspended_at'),
  },
  (t) => [
    index('clients_organization').on(t.organizationId),
    // Registration asks, every time, whether the organisation has a suspended live client: an index
    // of those few rows, not a walk through every client the organisation ever registered.
    index('clients_suspended').on(t.organizationId).where(sql`suspended_at is not null and deleted_at is null`),
  ],
);

/** Every change to a client, with the certificate that made it (RTS art. 29 traceability). */
export const auditEvents = sqliteTable(
  'audit_events',
  {
    id: text('id').primaryKey(),
    occurredAt: integer('occurred_at').notNull(),
    action: text('action').notNull(),
    clientId: text('client_id'),
    actorSubjectDn: text('actor_subject_dn').notNull(),
    actorThumbprint: text('actor_thumbprint').notNull(),
    detail: text('detail'),
  },
  (t) => [index('audit_events_client').on(t.clientId, t.occurredAt)],
);

// ---- The PSU side (authorization endpoint, issue "authorization") ----

/** Bank customers known to this server. A bank may instead plug its own identity provider. */
export const psus = sqliteTable('psus', {
  psuId: text('psu_id').primaryKey(),
  username: text('username').notNull().unique(),
  displayName: text('display_name').notNull(),
  /** scrypt hash (`scrypt$N$r$p$salt$hash`); null for sandbox personas, who never log in. */
  passwordHash: text('password_hash'),
  /** Base32 TOTP secret (RFC 6238); null until enrolled. */
  totpSecret: text('totp_secret'),
  /** 'active' | 'disabled' */
  status: text('status').notNull(),
  /** Sandbox personas are offered on the sandbox page; real PSUs log in. */
  sandbox: integer('sandbox').notNull().default(0),
  /** Consecutive failed authentications (RTS art. 4(3)(b)); survives restarts. */
  failedAttempts: integer('failed_attempts').notNull().default(0),
  lockedUntil: integer('locked_until'),
  /** Time step of the last accepted TOTP code: a code is accepted once (RTS art. 4(1)). */
  lastTotpStep: integer('last_totp_step'),
  createdAt: integer('created_at').notNull(),
});

/** Payment accounts a PSU may share with an AISP or CBPII. */
export const accounts = sqliteTable(
  'accounts',
  {
    accountId: text('account_id').primaryKey(),
    psuId: text('psu_id').notNull(),
    iban: text('iban').notNull(),
    name: text('name').notNull(),
    /** 'current' | 'savings' | 'card' */
    type: text('type').notNull(),
    currency: text('currency').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('accounts_psu').on(t.psuId)],
);

/** Pushed authorization requests (RFC 9126): single use, short-lived, bound to their client. */
export const pushedRequests = sqliteTable('pushed_requests', {
  /** SHA-256 of the random part of the request_uri. */
  requestUriDigest: text('request_uri_digest').primaryKey(),
  clientId: text('client_id').notNull(),
  /** The validated authorization request parameters, JSON. */
  parameters: text('parameters').notNull(),
  expiresAt: integer('expires_at').notNull(),
  consumedAt: integer('consumed_at'),
  createdAt: integer('created_at').notNull(),
});

/** A PSU's browser session on the authorization pages (login, SCA, consent). */
export const psuSessions = sqliteTable('psu_sessions', {
  /** SHA-256 of the session cookie value. */
  sessionDigest: text('session_digest').primaryKey(),
  /** Public, loggable identifier of the session (RTS art. 29: logs keyed by session). */
  sessionId: text('session_id').notNull().unique(),
  /** The validated authorization request being served, JSON. */
  authorizationRequest: text('authorization_request').notNull(),
  psuId: text('psu_id'),
  /** PsuSessionStage: 'login' | 'sca' | 'consent' | 'payment' | 'debtor_account' | 'done' */
  stage: text('stage').notNull(),
  csrfToken: text('csrf_token').notNull(),
  authenticatedAt: integer('authenticated_at'),
  lastSeenAt: integer('last_seen_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
  createdAt: integer('created_at').notNull(),
});

/**
 * A PSU's session on the permission dashboard (`/{lang}/permissions`): the same login and SCA as
 * the consent pages, but no authorization request behind it. The cookie carries a separate secret.
 */
export const permissionSessions = sqliteTable('permission_sessions', {
  /** SHA-256 of the session cookie value. */
  sessionDigest: text('session_digest').primaryKey(),
  /** Public, loggable identifier of the session (RTS art. 29). */
  sessionId: text('session_id').notNull().unique(),
  psuId: text('psu_id'),
  /** 'login' | 'sca' | 'dashboard' | 'done' */
  stage: text('stage').notNull(),
  csrfToken: text('csrf_token').notNull(),
  authenticatedAt: integer('authenticated_at'),
  lastSeenAt: integer('last_seen_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
  createdAt: integer('created_at').notNull(),
});

/** Durable log of authentication and consent events (RTS art. 29), keyed by session. */
export const authenticationEvents = sqliteTable(
  'authentication_events',
  {
    id: text('id').primaryKey(),
    sessionId: text('session_id').notNull(),
    occurredAt: integer('occurred_at').notNull(),
    /** e.g. 'login.failed', 'login.succeeded', 'sca.failed', 'sca.succeeded', 'psu.locked', 'consent.granted', 'consent.refused' */
    event: text('event').notNull(),
    psuId: text('psu_id'),
    clientId: text('client_id'),
    detail: text('detail'),
  },
  // A dispute asks for one PSU's or one TPP's trail (`psu events`, RTS art. 29) out of years of
  // events: without these it is a scan of the whole log. Partial, as many events have neither.
  (t) => [
    index('authentication_events_session').on(t.sessionId, t.occurredAt),
    index('authentication_events_psu').on(t.psuId).where(sql`psu_id is not null`),
    index('authentication_events_client').on(t.clientId, t.occurredAt).where(sql`client_id is not null`),
  ],
);

/** The PSU's consent: what a TPP may access, until when. */
export const consents = sqliteTable(
  'consents',
  {
    consentId: text('consent_id').primaryKey(),
    clientId: text('client_id').notNull(),
    psuId: text('psu_id').notNull(),
    scope: text('scope').notNull(),
    /** Account ids the PSU chose, JSON array. */
    accountIds: text('account_ids').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    /** Set when the PSU, the TPP or the bank withdraws it. */
    revokedAt: integer('revoked_at'),
    revokedBy: text('revoked_by'),
    /** The payment authorisation this consent approves (scope pisp), else null. */
    authorizationId: text('authorization_id'),
  },
  (t) => [index('consents_client').on(t.clientId), index('consents_psu').on(t.psuId)],
);

/**
 * Payments (and cancellations) the bank's resource server registered over the back channel, as
 * the PSU authorises them (RTS art. 5 dynamic linking: `payment_hash` covers what the PSU saw).
 * One per client, bank resource id and action: a retry finds the existing row.
 */
export const paymentAuthorizations = sqliteTable(
  'payment_authorizations',
  {
    authorizationId: text('authorization_id').primaryKey(),
    resourceServerId: text('resource_server_id').notNull(),
    clientId: text('client_id').notNull(),
    action: text('action').notNull(),
    paymentRequestResourceId: text('payment_request_resource_id').notNull(),
    /** The normalised payment, JSON. */
    payment: text('payment').notNull(),
    paymentHash: text('payment_hash').notNull(),
    status: text('status').notNull(),
    /** The debtor IBAN the PSU paid from, once authorised. */
    debtorIban: text('debtor_iban'),
    psuId: text('psu_id'),
    scaAt: integer('sca_at'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    uniqueIndex('payment_authorizations_resource').on(t.clientId, t.paymentRequestResourceId, t.action),
    // The permission dashboard lists a PSU's payments.
    index('payment_authorizations_psu').on(t.psuId),
  ],
);

/** Time of the PSU's last strong authentication per TPP (RTS art. 10a: 180 days without SCA). */
export const scaRecords = sqliteTable(
  'sca_records',
  {
    psuId: text('psu_id').notNull(),
    clientId: text('client_id').notNull(),
    lastScaAt: integer('last_sca_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.psuId, t.clientId] })],
);

/** Authorization codes: single use, ≤ 60 s, bound to client, redirect URI, PKCE challenge and consent. */
export const authorizationCodes = sqliteTable('authorization_codes', {
  /** SHA-256 of the code. */
  codeDigest: text('code_digest').primaryKey(),
  clientId: text('client_id').notNull(),
  redirectUri: text('redirect_uri').notNull(),
  codeChallenge: text('code_challenge').notNull(),
  consentId: text('consent_id').notNull(),
  psuId: text('psu_id').notNull(),
  scope: text('scope').notNull(),
  createdAt: integer('created_at').notNull(),
  expiresAt: integer('expires_at').notNull(),
  /** Set by the one redemption that wins (a conditional UPDATE). */
  consumedAt: integer('consumed_at'),
  /** The grant the redemption created: revoked if the code is presented again. */
  grantId: text('grant_id'),
});

// ---- The token side (token, revocation, introspection) ----

/**
 * A grant: the token family born from one authorization code. Access tokens are JWTs that carry
 * the grant id; revoking the grant revokes them all. Refresh tokens are stored as digests.
 */
export const grants = sqliteTable(
  'grants',
  {
    grantId: text('grant_id').primaryKey(),
    clientId: text('client_id').notNull(),
    consentId: text('consent_id').notNull(),
    psuId: text('psu_id').notNull(),
    scope: text('scope').notNull(),
    refreshTokenDigest: text('refresh_token_digest').unique(),
    /** With rotation on: the previous refresh token, accepted once more for a retry. */
    previousRefreshTokenDigest: text('previous_refresh_token_digest'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
    revokedReason: text('revoked_reason'),
  },
  (t) => [index('grants_client').on(t.clientId), index('grants_consent').on(t.consentId)],
);

/** Access tokens revoked one by one, kept until they would have expired anyway. */
export const revokedAccessTokens = sqliteTable('revoked_access_tokens', {
  jti: text('jti').primaryKey(),
  clientId: text('client_id').notNull(),
  expiresAt: integer('expires_at').notNull(),
  revokedAt: integer('revoked_at').notNull(),
});

/** The bank's resource servers, which introspect tokens with HTTP Basic credentials. */
export const resourceServers = sqliteTable('resource_servers', {
  clientId: text('client_id').primaryKey(),
  name: text('name').notNull(),
  /** SHA-256 of the random client secret. */
  secretDigest: text('secret_digest').notNull(),
  createdAt: integer('created_at').notNull(),
  disabledAt: integer('disabled_at'),
});

/** One row the readiness probe (/health/ready) rewrites: proof that a write commits. */
export const healthProbe = sqliteTable('health_probe', {
  id: integer('id').primaryKey(),
  checkedAt: integer('checked_at').notNull(),
});
