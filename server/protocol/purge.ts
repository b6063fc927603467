// The periodic purge: codes, revoked-jti records, pushed requests and PSU sessions go once they
// have expired; grants are kept a retention period after they end, for the audit trail. Without it
// the tables would grow for ever.
import type { PurgeCounts, PurgeStore } from './operations/ports.ts';

export interface PurgeSchedule {
  /** Runs one purge now (also what the timer does). */
  runOnce(): Promise<PurgeCounts>;
  stop(): void;
}

export interface PurgeOptions {
  store: PurgeStore;
  /** Milliseconds between runs. */
  intervalMs: number;
  /** Milliseconds an ended grant is kept. */
  retentionMs: number;
  now?: () => number;
  onResult?: (counts: PurgeCounts) => void;
  onError?: (error: unknown) => void;
}

export function schedulePurge(options: PurgeOptions): PurgeSchedule {
  const runOnce = () => options.store.purge(options.now?.() ?? Date.now(), options.retentionMs);
  const timer = setInterval(() => {
    runOnce().then(options.onResult, options.onError);
  }, options.intervalMs);
  // The purge never keeps a process alive on its own (a CLI command, a test).
  (timer as { unref?: () => void }).unref?.();
  return { runOnce, stop: () => clearInterval(timer) };
}
