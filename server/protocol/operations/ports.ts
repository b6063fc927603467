// Storage ports of operations: the readiness probe and the purge of what can no longer be used.

/** One readiness check: 'ok', or why it failed (an error code, never data). */
export type CheckResult = 'ok' | `failed: ${string}`;

export interface DatabaseReadiness {
  /** A query on a real table answers. */
  read: CheckResult;
  /** A write commits (one row rewritten, through the same commit path as every write). */
  write: CheckResult;
  /** Every migration this build carries is applied. */
  migrations: CheckResult;
  /** The file (or cluster) reports no corruption; checked at most every `integrityIntervalMs`. */
  integrity: CheckResult;
}

export interface HealthProbe {
  ping(): Promise<void>;
  readiness(): Promise<DatabaseReadiness>;
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

/** What the storage reports for metrics (server/metrics.ts); every call must be cheap and synchronous. */
export interface StorageObserver {
  /** A group commit: how many writes it carried and how long BEGIN to COMMIT took, fsync included. */
  commit(batchSize: number, seconds: number): void;
  /** A read-cache lookup on the hot path (`client`, `revoked_jti`, `resource_server`). */
  cacheLookup(cache: string, hit: boolean): void;
}
