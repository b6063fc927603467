// Group commit: the writes of every request handled in one event-loop turn share one transaction,
// hence one fsync (synchronous=FULL), and each request is answered only once that transaction has
// committed. A write is a synchronous function run inside its own SAVEPOINT, so one that throws
// is undone alone and its caller gets the error, while the others commit: a write that touches
// several rows is atomic without a transaction of its own. Writes run one after the
// other, in the order they were asked for: a conditional UPDATE (a code's single redemption) sees
// the writes before it, exactly as with one transaction each.
import { setImmediate } from 'node:timers';
import type Database from 'better-sqlite3';
import type { StorageObserver } from '../server/protocol/operations/ports.ts';

interface Job {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export type Commit = <T>(write: () => T) => Promise<T>;

export function createGroupCommit(client: Database.Database, observer?: StorageObserver): Commit {
  let pending: Job[] = [];
  // Compiled once: exec() parsed each of these again, five statements per write.
  const begin = client.prepare('BEGIN IMMEDIATE');
  const savepoint = client.prepare('SAVEPOINT job');
  const release = client.prepare('RELEASE job');
  const rollbackTo = client.prepare('ROLLBACK TO job');
  const commit = client.prepare('COMMIT');

  const flush = () => {
    const batch = pending;
    pending = [];
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    const started = observer ? performance.now() : 0;
    try {
      begin.run();
      for (const job of batch) {
        savepoint.run();
        try {
          outcomes.push({ ok: true, value: job.write() });
          release.run();
        } catch (error) {
          rollbackTo.run();
          release.run();
          outcomes.push({ ok: false, error });
        }
      }
      commit.run();
      observer?.commit(batch.length, (performance.now() - started) / 1000);
    } catch (error) {
      // BEGIN or COMMIT failed (disk full, I/O error, a lock held too long): nothing of the batch
      // is acknowledged.
      if (client.inTransaction) client.exec('ROLLBACK');
      for (const job of batch) job.reject(error);
      return;
    }
    batch.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  };

  return <T>(write: () => T) =>
    new Promise<T>((resolve, reject) => {
      pending.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (pending.length === 1) setImmediate(flush);
    });
}
