// Storage ports of operations: the readiness probe and the purge of what can no longer be used.

export interface HealthProbe {
  ping(): Promise<void>;
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
