// Writes issued in one event-loop turn share one round trip and one commit: a PSU session and its
// `session.started` event, the consent of one request and the code redemption of another, the
// registrations of concurrent TPPs. Each write is one or more statements that do not need each
// other's results (a conditional write is one statement with data-modifying CTEs). They go out as
// one postgres.js `batch` (one Sync, so PostgreSQL runs them as one implicit transaction: all of
// them or none), and each caller resumes only once that commit is acknowledged, as with a
// transaction of its own: the same guarantee as db/group-commit.ts on SQLite.
//
// When PostgreSQL refuses the batch (a duplicate key, a deadlock), nothing of it was committed:
// every write runs again alone, as its own transaction, so that one caller's failure stays its
// own. When the connection fails, whether the commit happened is unknown, and every caller gets
// the error (as a lone write would).
//
// Within a batch the writes run one after the other in one transaction, so two racing writes of
// one row (two redemptions of one code) behave as in two transactions: the second sees the first's
// change and its guard no longer matches. A write that waits for a row lock holds up the others of
// its batch; only writes that lock rows of their own flow (its session, its code) belong here.
import { setImmediate } from 'node:timers';
import postgres from 'postgres';
import type { StorageObserver } from '../../server/protocol/operations/ports.ts';

type Statement = postgres.PendingQuery<postgres.Row[]>;
export type Write = () => Statement[];
export type BatchedWrites = (write: Write) => Promise<postgres.Row[][]>;

interface Waiting {
  write: Write;
  resolve: (results: postgres.Row[][]) => void;
  reject: (error: unknown) => void;
}

/** `observer` sees each commit as the SQLite group commit reports it: writes carried, and the
 * time from sending the batch to PostgreSQL's acknowledgement of its commit (WAL flush included). */
export function batchedWrites(pg: postgres.Sql, observer?: StorageObserver): BatchedWrites {
  let queue: Waiting[] = [];
  const committed = (writes: number, started: number) => {
    observer?.commit(writes, (performance.now() - started) / 1000);
  };
  const alone = (waiting: Waiting) => {
    const started = performance.now();
    const statements = waiting.write();
    const done = statements.length === 1 ? (statements[0] as Statement).then((rows) => [rows]) : pg.batch(statements);
    done.then((results) => {
      committed(1, started);
      waiting.resolve(results as postgres.Row[][]);
    }, waiting.reject);
  };
  const flush = () => {
    const batch = queue;
    queue = [];
    if (batch.length === 1) return alone(batch[0] as Waiting);
    const started = performance.now();
    const parts = batch.map((waiting) => waiting.write());
    pg.batch(parts.flat()).then(
      (results) => {
        committed(batch.length, started);
        let next = 0;
        for (const [i, waiting] of batch.entries()) {
          const count = (parts[i] as Statement[]).length;
          waiting.resolve(results.slice(next, next + count) as postgres.Row[][]);
          next += count;
        }
      },
      (error: unknown) => {
        if (error instanceof postgres.PostgresError) for (const waiting of batch) alone(waiting);
        else for (const waiting of batch) waiting.reject(error);
      },
    );
  };
  return (write) =>
    new Promise((resolve, reject) => {
      if (queue.push({ write, resolve, reject }) === 1) setImmediate(flush);
    });
}
