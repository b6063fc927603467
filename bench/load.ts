// The load generator: one process per measurement, separate from the servers. It opens N
// keep-alive mTLS connections, runs the scenario's setup, warms up, then keeps every connection
// busy for the duration and reports throughput and latency percentiles to its parent over IPC.
//   node bench/load.ts '{"origins":["https://127.0.0.1:PORT"],"pkiDir":"...","variant":"psd2-oauth",...}'
import process from 'node:process';
import { spreadPool } from './http.ts';
import { loadBenchPki } from './pki.ts';
import { FlowFailure, type Operation, type ScenarioName, SETUPS, Unavailable, type Variant } from './scenarios.ts';

export interface LoadSpec {
  /** One server, or several instances of it (their requests spread over them in turn). */
  origins: string[];
  pkiDir: string;
  variant: Variant;
  scenario: ScenarioName;
  connections: number;
  durationMs: number;
  warmupMs: number;
  options: Record<string, string>;
}

export interface Measurement {
  /** Completed operations per second. */
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  elapsedMs: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  /** Outcomes by status (or `error`). */
  statuses: Record<string, number>;
  /** The first failure, to say why a row is not all 2xx. */
  firstFailure?: string;
  /**
   * CPU time the server process(es) spent per operation while measured (all threads: event loop,
   * signing thread, SQLite, GC), read by the parent from /proc. Unlike req/s, it hardly moves when
   * other jobs share the machine. Absent where /proc is not there.
   */
  cpuMsPerOp?: number;
  /** PostgreSQL rows: the part of cpuMsPerOp spent by the cluster's processes. */
  databaseCpuMsPerOp?: number;
  /** PostgreSQL rows: transactions that wrote (took a transaction id), per operation. */
  commitsPerOp?: number;
  /** PostgreSQL rows: WAL bytes written per operation. */
  walBytesPerOp?: number;
}

export type LoadResult = { measurement: Measurement } | { unavailable: string } | { error: string };

/** Keeps `connections` operations in flight until `durationMs` has passed. */
export async function measure(op: Operation, connections: number, durationMs: number): Promise<Measurement> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let firstFailure: string | undefined;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      let status: string;
      try {
        const reply = await op();
        status = String(reply.status);
        if (reply.status >= 200 && reply.status < 300) ok++;
        else {
          non2xx++;
          firstFailure ??= `${reply.status} ${reply.text.slice(0, 300)}`;
        }
      } catch (err) {
        if (err instanceof FlowFailure) {
          status = String(err.reply.status);
          non2xx++;
        } else {
          status = 'error';
          errors++;
        }
        firstFailure ??= String(err instanceof Error ? err.message : err);
      }
      latencies.push(performance.now() - t0);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsedMs = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return {
    rps: (latencies.length * 1000) / elapsedMs,
    ok,
    non2xx,
    errors,
    elapsedMs,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    statuses,
    firstFailure,
  };
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const setup = SETUPS[spec.variant][spec.scenario];
  if (!setup) return { unavailable: `${spec.variant} has no ${spec.scenario} scenario` };
  const pki = loadBenchPki(spec.pkiDir);
  const tpp = spreadPool(spec.origins, pki, spec.connections, true);
  const anonymous = spreadPool(spec.origins, pki, spec.connections, false);
  try {
    const op = await setup({ pki, tpp, anonymous, options: spec.options });
    // One operation alone first: a scenario that fails is reported, not measured.
    const first = await op();
    if (first.status < 200 || first.status >= 300) {
      return { error: `first operation answered ${first.status}: ${first.text.slice(0, 500)}` };
    }
    if (spec.warmupMs > 0) await measure(op, spec.connections, spec.warmupMs);
    // The parent reads the servers' CPU time now and when the result arrives.
    process.send?.({ measuring: true });
    return { measurement: await measure(op, spec.connections, spec.durationMs) };
  } catch (err) {
    if (err instanceof Unavailable) return { unavailable: err.message };
    return { error: err instanceof Error ? err.message : String(err) };
  } finally {
    await Promise.all([tpp.destroy(), anonymous.destroy()]);
  }
}

if (import.meta.main) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
  const result = await run(spec);
  if (process.send) process.send(result, () => process.exit(0));
  else {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.exit(0);
  }
}
