// Storage ports of the permission dashboard (PSR art. 43): the PSU's dashboard sessions, and the
// records it reads beside the consents (ConsentStore): the last SCA per TPP and the payments.
// Implemented in db/ for each backend.
import type { PaymentAuthorizationRecord } from '../payments/ports.ts';

/** login -> sca -> dashboard in production; dashboard at once after the persona choice in the sandbox. */
export type PermissionSessionStage = 'login' | 'sca' | 'dashboard' | 'done';

export interface PermissionSession {
  /** Public, loggable id (RTS art. 29); the cookie carries a separate secret. */
  sessionId: string;
  /** Null until the first factor succeeded (production) or the persona was chosen (sandbox). */
  psuId: string | null;
  stage: PermissionSessionStage;
  csrfToken: string;
  authenticatedAt: number | null;
  lastSeenAt: number;
  expiresAt: number;
  createdAt: number;
}

export type PermissionSessionChanges = Partial<
  Pick<PermissionSession, 'psuId' | 'stage' | 'authenticatedAt' | 'lastSeenAt' | 'expiresAt'>
>;

export interface PermissionSessionStore {
  create(sessionDigest: string, session: PermissionSession): Promise<void>;
  find(sessionDigest: string): Promise<PermissionSession | undefined>;
  /** Moves the session on only if it is still at `fromStage` (a replayed form changes nothing). */
  advance(
    sessionDigest: string,
    fromStage: PermissionSessionStage,
    changes: PermissionSessionChanges,
  ): Promise<boolean>;
}

export interface PermissionStores {
  sessions: PermissionSessionStore;
  /** The time of the PSU's last strong authentication with each TPP (client id -> epoch ms). */
  lastScaTimes(psuId: string): Promise<Map<string, number>>;
  /**
   * The PSU's authorised and consumed payment authorisations last changed at or after `since`,
   * newest first: the dashboard's read-only payment history (PSD2 art. 80: no withdrawal).
   */
  paymentsOf(psuId: string, since: number): Promise<PaymentAuthorizationRecord[]>;
  /**
   * The purge's part for the dashboard: expired dashboard sessions, and the history once it is
   * older than `historyMs` (consents withdrawn or expired, payment authorisations last changed
   * before then). Nothing younger is deleted: the dashboard shows two years of history.
   */
  purge(now: number, historyMs: number): Promise<HistoryPurgeCounts>;
}

export interface HistoryPurgeCounts {
  permissionSessions: number;
  consents: number;
  paymentAuthorizations: number;
}
