// The periodic purge: codes, revoked-jti records, pushed requests and PSU sessions go once they
// have expired; grants are kept a retention period after they end, for the audit trail; consents
// and authorised payments two years after they end, for the PSU's permission dashboard. Without it
// the tables would grow for ever.
import type { PurgeCounts, PurgeStore } from './operations/ports.ts';
import type { HistoryPurgeCounts, PermissionStores } from './permissions/ports.ts';
import { HISTORY_RETENTION_MS } from './permissions.ts';

export interface PurgeSchedule {
  /** Runs one purge now (also what the timer does). */
  runOnce(): Promise<PurgeCounts & Partial<HistoryPurgeCounts>>;
  stop(): void;
}

export interface PurgeOptions {
  store: PurgeStore;
  /** Milliseconds between runs. */
  intervalMs: number;
  /** Milliseconds an ended grant is kept. */
  retentionMs: number;
  /**
   * The permission dashboard's sessions and history: consents and payment authorisations are kept
   * for the dashboard's two years of history (HISTORY_RETENTION_MS), or `retentionMs` if longer.
   */
  history?: Pick<PermissionStores, 'purge'>;
  now?: () => number;
  onResult?: (counts: PurgeCounts & Partial<HistoryPurgeCounts>) => void;
  onError?: (error: unknown) => void;
}

export function schedulePurge(options: PurgeOptions): PurgeSchedule {
  const runOnce = async () => {
    const now = options.now?.() ?? Date.now();
    const counts = await options.store.purge(now, options.retentionMs);
    if (!options.history) return counts;
    return { ...counts, ...(await options.history.purge(now, Math.max(HISTORY_RETENTION_MS, options.retentionMs))) };
  };
  const timer = setInterval(() => {
    runOnce().then(options.onResult, options.onError);
  }, options.intervalMs);
  // The purge never keeps a process alive on its own (a CLI command, a test).
  (timer as { unref?: () => void }).unref?.();
  return { runOnce, stop: () => clearInterval(timer) };
}
