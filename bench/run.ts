// `npm run bench`: psd2-oauth beside node-oidc-provider, a bare Hono app and bare node:https, all
// on 127.0.0.1 with the same certificates, loaded in turn by a separate process over keep-alive
// mTLS connections. Rounds alternate the order of the servers; the report gives medians and the
// ratio measured pair by pair within a round, which holds on a noisy machine when absolute numbers
// drift. Writes the generated part of docs/PERFORMANCE.md (between its bench markers).
//
//   npm run bench -- [--duration 10] [--warmup 3] [--connections 50] [--rounds 3]
//                    [--scenarios client_credentials,introspection] [--smoke] [--profile] [--out FILE]
//                    [--servers psd2-oauth,Hono (a subset of the rows; writes nothing)]
//                    [--log-level info] [--keep (the temporary folder: server logs, database)]
//                    [--database sqlite,postgres (default; --smoke: sqlite): PostgreSQL rows for
//                     psd2-oauth's scenarios, on a throwaway cluster started here, skipped with a
//                     message where PostgreSQL is not installed]
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { sandboxPaths } from '../server/pki/sandbox-files.ts';
import { type Cluster, findPostgres, freshDatabase, startCluster } from '../test/support/postgres.ts';
import { benchFile, type Child, firstMessage, NODE, startChild } from './children.ts';
import type { LoadResult, LoadSpec, Measurement } from './load.ts';
import { createBenchPki } from './pki.ts';
import { profileMarkdown, summarise } from './profile.ts';
import {
  POSTGRES_VARIANTS,
  SCENARIO_NAMES,
  SCENARIO_TITLES,
  type ScenarioName,
  SETUPS,
  VARIANTS,
  type Variant,
} from './scenarios.ts';

const ROOT = benchFile('..');
const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    rounds: { type: 'string', default: '3' },
    scenarios: { type: 'string', default: SCENARIO_NAMES.join(',') },
    servers: { type: 'string' },
    smoke: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    keep: { type: 'boolean', default: false },
    database: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  process.stdout.write(
    `${readFileSync(benchFile('run.ts'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('//'))
      .join('\n')}\n`,
  );
  process.exit(0);
}

// --smoke proves the harness works in a few seconds (CI); --profile runs psd2-oauth alone under
// --cpu-prof and summarises where its time goes. Neither rewrites docs/PERFORMANCE.md.
const settings = flags.smoke
  ? { durationMs: 1000, warmupMs: 300, connections: 4, rounds: 1 }
  : {
      durationMs: Number(flags.duration) * 1000,
      warmupMs: Number(flags.warmup) * 1000,
      connections: Number(flags.connections),
      rounds: Number(flags.rounds),
    };
const scenarios = flags.scenarios.split(',').map((s) => s.trim()) as ScenarioName[];
for (const s of scenarios) if (!SCENARIO_NAMES.includes(s)) throw new Error(`unknown scenario ${s}`);
// --profile profiles psd2-oauth on SQLite, or the psd2-oauth rows named by --servers (e.g.
// 'psd2-oauth PostgreSQL'); every other server is left out.
const servers = flags.profile
  ? (flags.servers?.split(',').map((s) => s.trim()) ?? ['psd2-oauth'])
  : flags.servers?.split(',').map((s) => s.trim());
if (flags.profile && servers?.some((v) => !v.startsWith('psd2-oauth')))
  throw new Error('--profile: psd2-oauth rows only');
for (const v of servers ?? []) if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`unknown server ${v}`);
const databases = (flags.database ?? (flags.smoke ? 'sqlite' : 'sqlite,postgres')).split(',').map((d) => d.trim());
for (const d of databases) if (d !== 'sqlite' && d !== 'postgres') throw new Error(`unknown database ${d}`);
/** Set once the PostgreSQL cluster could not start (not installed...): its rows are left out. */
let postgresMissing: string | undefined;
const variantsOf = (scenario: ScenarioName): Variant[] =>
  VARIANTS.filter(
    (v) =>
      SETUPS[v][scenario] &&
      (!servers || servers.includes(v)) &&
      (!POSTGRES_VARIANTS.includes(v) || (databases.includes('postgres') && !postgresMissing)),
  );
// A partial run (smoke, profile, a subset of servers) never replaces the published table.
const partial = flags.smoke || flags.profile || servers !== undefined;
const out = flags.out ?? (partial ? undefined : join(ROOT, 'docs/PERFORMANCE.md'));

const work = mkdtempSync(join(tmpdir(), 'psd2-oauth-bench-'));
const dataDir = join(work, 'psd2-oauth');
const profileDir = join(work, 'profile');
const log = (line: string) => process.stderr.write(`${line}\n`);

// ---- servers ------------------------------------------------------------------------------------

type ServerName =
  | 'psd2-oauth'
  | 'psd2-oauth-metrics'
  | 'psd2-oauth-pg'
  | 'psd2-oauth-pg2'
  | 'oidc-provider'
  | 'hono'
  | 'node';
const SERVER_OF: Record<Variant, ServerName> = {
  'psd2-oauth': 'psd2-oauth',
  'psd2-oauth, metrics on': 'psd2-oauth-metrics',
  'psd2-oauth PostgreSQL': 'psd2-oauth-pg',
  'psd2-oauth PostgreSQL ×2': 'psd2-oauth-pg2',
  'oidc-provider JWT': 'oidc-provider',
  'oidc-provider opaque': 'oidc-provider',
  Hono: 'hono',
  'node:https': 'node',
};

interface RunningServer {
  /** One process, or one per instance. */
  children: Child[];
  origins: string[];
  /** The server's own processes, whose CPU time a measurement charges to it. */
  pids(): number[];
  /** PostgreSQL: the cluster's processes, charged to the server too but reported apart. */
  databasePids?(): number[];
  /** What the load process needs for this server (the resource server's credentials...). */
  options: Record<string, string>;
}

let cluster: Cluster | undefined;
/** The SQLite psd2-oauth's options (its resource server, created before it starts). */
let sqliteOptions: Record<string, string> = {};

/** The PostgreSQL cluster's processes: the postmaster and its children (one backend per connection). */
function postgresPids(): number[] {
  if (!cluster) return [];
  try {
    const postmaster = Number(readFileSync(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          return (
            Number(
              readFileSync(`/proc/${pid}/stat`, 'utf8')
                .replace(/^.*\) /s, '')
                .split(' ')[1],
            ) === postmaster
          );
        } catch {
          return false;
        }
      })
      .map(Number);
    return [postmaster, ...children];
  } catch {
    return [];
  }
}

/**
 * psd2-oauth on PostgreSQL: a fresh database of the bench's cluster, and a DATA_DIR of its own
 * holding the bench's sandbox CA and TLS files (the instances share it, and so their
 * key-encryption key, as instances of one deployment must).
 */
async function postgresEnv(name: string): Promise<Record<string, string>> {
  if (!cluster) throw new Error('no PostgreSQL cluster');
  const url = await freshDatabase(cluster.url);
  if (process.env.BENCH_PG_LOG_STATEMENTS) {
    // Diagnosis (with --keep): every statement of this database in the cluster's log.
    const sql = (await import('postgres')).default(cluster.url, { max: 1, onnotice: () => {} });
    await sql.unsafe(`alter database ${new URL(url).pathname.slice(1)} set log_statement = 'all'`);
    await sql.end();
  }
  return { DATA_DIR: ownDataDir(name), DATABASE_URL: url };
}

/**
 * The cluster's write counters: the next transaction id (every transaction that writes takes one,
 * so the difference counts durable commits and rollbacks) and the WAL position (bytes written).
 * Read without taking a transaction id; cluster-wide, which is exact while one server is loaded.
 */
async function postgresCounters(): Promise<{ xid: number; walBytes: number } | undefined> {
  if (!cluster) return undefined;
  counterConnection ??= (await import('postgres')).default(cluster.url, { max: 1, onnotice: () => {} });
  const [row] = await counterConnection<{ xid: string; wal: string }[]>`
    select pg_snapshot_xmax(pg_current_snapshot())::text as xid,
           (pg_current_wal_lsn() - '0/0'::pg_lsn)::text as wal`;
  return row ? { xid: Number(row.xid), walBytes: Number(row.wal) } : undefined;
}
let counterConnection: import('postgres').Sql | undefined;

/** A DATA_DIR of its own for another psd2-oauth server, with the bench's sandbox CA and TLS files. */
function ownDataDir(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const from = sandboxPaths(dataDir);
  const to = sandboxPaths(dir);
  for (const file of ['caCert', 'caKey', 'tlsCert', 'tlsKey'] as const) copyFileSync(from[file], to[file]);
  return dir;
}

async function startProcess(name: string, script: string, args: string[], env: Record<string, string>) {
  const logFile = join(work, `${name}.log`);
  const child = startChild(benchFile(script), {
    args,
    execArgv:
      name.startsWith('psd2-oauth') && flags.profile
        ? ['--cpu-prof', '--cpu-prof-dir', join(profileDir, name), '--cpu-prof-name', 'server.cpuprofile']
        : [],
    env: {
      BENCH_PKI_DIR: dataDir,
      DATA_DIR: dataDir,
      MODE: 'sandbox',
      LOG_LEVEL: flags['log-level'],
      NODE_ENV: 'production',
      ...env,
    },
    logFile,
    ipc: true,
  });
  const { port } = await firstMessage<{ port: number }>(child, 60_000, logFile);
  return { child, origin: `https://127.0.0.1:${port}` };
}

async function startBenchServer(name: ServerName): Promise<RunningServer> {
  if (name === 'psd2-oauth-pg' || name === 'psd2-oauth-pg2') {
    // Instances behind one load balancer share one ISSUER (README), else each refuses the others'
    // access tokens at introspection (their `iss` names another issuer).
    const env = { ...(await postgresEnv(name)), ...(name === 'psd2-oauth-pg2' ? { ISSUER: 'https://127.0.0.1' } : {}) };
    // One after the other: the second finds the migrations applied and the sandbox seeded.
    const instances = [await startProcess(`${name}-a`, 'servers/psd2-oauth.ts', [], env)];
    if (name === 'psd2-oauth-pg2') instances.push(await startProcess(`${name}-b`, 'servers/psd2-oauth.ts', [], env));
    const children = instances.map((i) => i.child);
    return {
      children,
      origins: instances.map((i) => i.origin),
      pids: () => children.flatMap((c) => (c.process.pid ? [c.process.pid] : [])),
      databasePids: postgresPids,
      // The resource server is created in this server's own database, through the CLI on it.
      options: scenarios.includes('introspection') ? resourceServerCredentials(env) : {},
    };
  }
  if (name === 'psd2-oauth-metrics') {
    // The same server with its admin listener, hence prom-client's counters and histograms, on.
    const env = { DATA_DIR: ownDataDir(name), ADMIN_PORT: '0' };
    const { child, origin } = await startProcess(name, 'servers/psd2-oauth.ts', [], env);
    return {
      children: [child],
      origins: [origin],
      pids: () => (child.process.pid ? [child.process.pid] : []),
      options: {},
    };
  }
  const ceiling = name === 'hono' || name === 'node';
  const { child, origin } = await startProcess(
    name,
    ceiling ? 'servers/ceiling.ts' : `servers/${name}.ts`,
    ceiling ? [name] : [],
    {},
  );
  return {
    children: [child],
    origins: [origin],
    pids: () => (child.process.pid ? [child.process.pid] : []),
    options: name === 'psd2-oauth' ? sqliteOptions : {},
  };
}

/**
 * `psd2-oauth resource-server add`: the introspection caller, created in the database the server
 * uses (the SQLite file of `DATA_DIR`, or `DATABASE_URL`'s PostgreSQL database).
 */
function resourceServerCredentials(env: Record<string, string>): Record<string, string> {
  const result = spawnSync(NODE, [join(ROOT, 'server/bin.ts'), 'resource-server', 'add', 'bench-rs', '--json'], {
    env: { ...process.env, MODE: 'sandbox', LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  try {
    // The CLI's --json answer is one JSON document, indented over several lines.
    const { client_id, client_secret } = JSON.parse(result.stdout.slice(result.stdout.indexOf('{')));
    return client_id && client_secret ? { rsId: client_id, rsSecret: client_secret } : {};
  } catch {
    log(`no resource server (introspection will be n/a): ${(result.stderr || result.stdout).trim().slice(0, 200)}`);
    return {};
  }
}

// ---- measurements -------------------------------------------------------------------------------

interface Sample {
  round: number;
  scenario: ScenarioName;
  variant: Variant;
  result: LoadResult;
}

/** User + system CPU milliseconds of each of these processes so far, every thread included (Linux). */
function cpuMs(pids: number[]): Map<number, number> | undefined {
  const ms = new Map<number, number>();
  for (const pid of pids) {
    try {
      // Fields 14 and 15 (utime, stime) after the parenthesised command name, in clock ticks.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ');
      ms.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS);
    } catch {
      // Gone (a database backend that ended), or no /proc.
    }
  }
  return ms.size > 0 ? ms : undefined;
}

/** CPU milliseconds spent between two readings by the processes present at both. */
function cpuSpent(start: Map<number, number>, end: Map<number, number>): number {
  let spent = 0;
  for (const [pid, ms] of end) spent += ms - (start.get(pid) ?? ms);
  return spent;
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

async function load(spec: LoadSpec, server: RunningServer): Promise<LoadResult> {
  const logFile = join(work, 'load.log');
  const child = startChild(benchFile('load.ts'), { args: [JSON.stringify(spec)], logFile, ipc: true });
  const limit = spec.warmupMs + spec.durationMs + 60_000;
  const databasePids = () => server.databasePids?.() ?? [];
  let cpuAtStart: Map<number, number> | undefined;
  let databaseCpuAtStart: Map<number, number> | undefined;
  let countersAtStart: Promise<Awaited<ReturnType<typeof postgresCounters>>> | undefined;
  try {
    const result = await firstMessage<LoadResult>(child, limit, logFile, (message) => {
      if ((message as { measuring?: boolean }).measuring !== true) return true;
      cpuAtStart = cpuMs(server.pids());
      databaseCpuAtStart = cpuMs(databasePids());
      if (server.databasePids) countersAtStart = postgresCounters().catch(() => undefined);
      return false;
    });
    const cpuAtEnd = cpuMs(server.pids());
    const databaseCpuAtEnd = cpuMs(databasePids());
    const countersAtEnd = countersAtStart ? await postgresCounters().catch(() => undefined) : undefined;
    if ('measurement' in result && cpuAtStart !== undefined && cpuAtEnd !== undefined) {
      const m = result.measurement;
      const operations = (m.rps * m.elapsedMs) / 1000;
      if (operations > 0) {
        const database =
          databaseCpuAtStart && databaseCpuAtEnd ? cpuSpent(databaseCpuAtStart, databaseCpuAtEnd) / operations : 0;
        m.cpuMsPerOp = cpuSpent(cpuAtStart, cpuAtEnd) / operations + database;
        if (server.databasePids) {
          m.databaseCpuMsPerOp = database;
          const before = await countersAtStart;
          if (before && countersAtEnd) {
            m.commitsPerOp = (countersAtEnd.xid - before.xid) / operations;
            m.walBytesPerOp = (countersAtEnd.walBytes - before.walBytes) / operations;
          }
        }
      }
    }
    return result;
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  } finally {
    await child.kill();
  }
}

function describe(result: LoadResult): string {
  if ('measurement' in result) {
    const m = result.measurement;
    const failures = m.non2xx + m.errors;
    const database =
      m.databaseCpuMsPerOp === undefined
        ? ''
        : ` (PostgreSQL ${m.databaseCpuMsPerOp.toFixed(2)}, ${m.commitsPerOp?.toFixed(1) ?? '?'} commits, ${((m.walBytesPerOp ?? 0) / 1024).toFixed(1)} KiB WAL)`;
    const cpu = m.cpuMsPerOp === undefined ? '' : `  cpu ${m.cpuMsPerOp.toFixed(2)} ms/op${database}`;
    return `${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50.toFixed(1)} ms  p99 ${m.p99.toFixed(1)} ms${cpu}${failures ? `  (${failures} non-2xx/errors: ${m.firstFailure})` : ''}`;
  }
  return 'unavailable' in result ? `n/a: ${result.unavailable}` : `FAILED: ${result.error}`;
}

// ---- report -------------------------------------------------------------------------------------

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

function measurementsOf(samples: Sample[], scenario: ScenarioName, variant: Variant): Map<number, Measurement> {
  const byRound = new Map<number, Measurement>();
  for (const s of samples) {
    if (s.scenario === scenario && s.variant === variant && 'measurement' in s.result) {
      byRound.set(s.round, s.result.measurement);
    }
  }
  return byRound;
}

/** psd2-oauth's req/s divided by the other's, round by round: the median and the range. */
function pairRatios(a: Map<number, Measurement>, b: Map<number, Measurement>): number[] {
  return [...a].filter(([round]) => b.has(round)).map(([round, m]) => m.rps / b.get(round)!.rps);
}

/** The other server's CPU per operation divided by psd2-oauth's, round by round (above 1: psd2-oauth uses less). */
function cpuRatios(a: Map<number, Measurement>, b: Map<number, Measurement>): number[] {
  return [...a].flatMap(([round, m]) => {
    const other = b.get(round)?.cpuMsPerOp;
    return other !== undefined && m.cpuMsPerOp ? [other / m.cpuMsPerOp] : [];
  });
}

const ratioText = (ratios: number[]) =>
  ratios.length === 0
    ? ''
    : `${median(ratios).toFixed(2)}×${ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : ''}`;

function resultsTable(samples: Sample[]): string {
  const rows = [
    '| scenario | server | req/s (median) | p50 ms | p99 ms | non-2xx | psd2-oauth ÷ this, pair by pair | server CPU ms/op | CPU/op: this ÷ psd2-oauth |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const scenario of scenarios) {
    const ours = measurementsOf(samples, scenario, 'psd2-oauth');
    for (const variant of variantsOf(scenario)) {
      const ms = [...measurementsOf(samples, scenario, variant).values()];
      const failed = samples.find(
        (s) => s.scenario === scenario && s.variant === variant && !('measurement' in s.result),
      );
      if (ms.length === 0) {
        const why = failed
          ? describe(failed.result).replace(/\s+/g, ' ').replaceAll('|', '\\|').slice(0, 160)
          : 'not run';
        rows.push(`| ${SCENARIO_TITLES[scenario]} | ${variant} | ${why} | | | | | | |`);
        continue;
      }
      const theirs = measurementsOf(samples, scenario, variant);
      const ratio = variant === 'psd2-oauth' ? '' : ratioText(pairRatios(ours, theirs));
      const cpus = ms.flatMap((m) => (m.cpuMsPerOp === undefined ? [] : [m.cpuMsPerOp]));
      const cpu = cpus.length ? median(cpus).toFixed(2) : '';
      const cpuRatio = variant === 'psd2-oauth' ? '' : ratioText(cpuRatios(ours, theirs));
      rows.push(
        `| ${SCENARIO_TITLES[scenario]} | ${variant} | ${median(ms.map((m) => m.rps)).toFixed(0)} | ${median(ms.map((m) => m.p50)).toFixed(1)} | ${median(ms.map((m) => m.p99)).toFixed(1)} | ${ms.reduce((n, m) => n + m.non2xx + m.errors, 0)} | ${ratio} | ${cpu} | ${cpuRatio} |`,
      );
    }
  }
  return rows.join('\n');
}

/** psd2-oauth on PostgreSQL beside itself on SQLite and beside node-oidc-provider, pair by pair. */
function postgresTable(samples: Sample[]): string | undefined {
  const rows: string[] = [];
  for (const scenario of scenarios) {
    const sqlite = measurementsOf(samples, scenario, 'psd2-oauth');
    const peer = measurementsOf(samples, scenario, 'oidc-provider JWT');
    for (const variant of POSTGRES_VARIANTS) {
      const pg = measurementsOf(samples, scenario, variant);
      if (pg.size === 0) continue;
      const ms = [...pg.values()];
      const medianOf = (pick: (m: Measurement) => number | undefined, digits: number) => {
        const xs = ms.flatMap((m) => (pick(m) === undefined ? [] : [pick(m) as number]));
        return xs.length ? median(xs).toFixed(digits) : '';
      };
      rows.push(
        `| ${SCENARIO_TITLES[scenario]} | ${variant} | ${median(ms.map((m) => m.rps)).toFixed(0)} | ${medianOf((m) => m.cpuMsPerOp, 2)} | ${medianOf((m) => m.databaseCpuMsPerOp, 2)} | ${medianOf((m) => m.commitsPerOp, 1)} | ${ratioText(pairRatios(pg, sqlite))} | ${ratioText(cpuRatios(pg, sqlite))} | ${ratioText(pairRatios(pg, peer))} |`,
      );
    }
  }
  if (rows.length === 0) return undefined;
  return [
    '| scenario | server | req/s (median) | CPU ms/op (instances + PostgreSQL) | of which PostgreSQL | commits/op | req/s ÷ psd2-oauth on SQLite | CPU/op: SQLite ÷ this | req/s ÷ oidc-provider JWT |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function issue16Table(samples: Sample[]): string {
  const line = (label: string, a: Variant, b: Variant, scenario: ScenarioName, goal: number) => {
    const ratios = pairRatios(measurementsOf(samples, scenario, a), measurementsOf(samples, scenario, b));
    if (ratios.length === 0) return `| ${label} | ≥ ${goal} | not measured | |`;
    return `| ${label} | ≥ ${goal} | ${ratioText(ratios)} | ${median(ratios) >= goal ? 'met' : 'missed'} |`;
  };
  return [
    '| target | goal | measured (median of pairs, range) | |',
    '|---|---:|---:|---|',
    line('code flow, SQLite ÷ oidc-provider JWT', 'psd2-oauth', 'oidc-provider JWT', 'authorization_code', 1),
    line('registration, SQLite ÷ oidc-provider JWT', 'psd2-oauth', 'oidc-provider JWT', 'registration', 1),
    line('code flow, PostgreSQL ÷ SQLite', 'psd2-oauth PostgreSQL', 'psd2-oauth', 'authorization_code', 1),
    line('registration, PostgreSQL ÷ SQLite', 'psd2-oauth PostgreSQL', 'psd2-oauth', 'registration', 1),
    line(
      'client_credentials, PostgreSQL ÷ SQLite (within 10 %)',
      'psd2-oauth PostgreSQL',
      'psd2-oauth',
      'client_credentials',
      0.9,
    ),
    line(
      'introspection, PostgreSQL ÷ SQLite (within 10 %)',
      'psd2-oauth PostgreSQL',
      'psd2-oauth',
      'introspection',
      0.9,
    ),
  ].join('\n');
}

function targetsTable(samples: Sample[]): string {
  const cc = measurementsOf(samples, 'client_credentials', 'psd2-oauth');
  const check = (label: string, ratios: number[], goal: number) => {
    if (ratios.length === 0) return `| ${label} | ≥ ${goal} | not measured | |`;
    const m = median(ratios);
    return `| ${label} | ≥ ${goal} | ${ratioText(ratios)} | ${m >= goal ? 'met' : 'missed'} |`;
  };
  const reference = (label: string, ratios: number[]) =>
    `| ${label} | | ${ratios.length ? ratioText(ratios) : 'not measured'} | |`;
  return [
    '| target | goal | measured (median of pairs, range) | |',
    '|---|---:|---:|---|',
    check(
      'client_credentials ÷ oidc-provider JWT',
      pairRatios(cc, measurementsOf(samples, 'client_credentials', 'oidc-provider JWT')),
      2,
    ),
    check('client_credentials ÷ bare Hono ceiling', pairRatios(cc, measurementsOf(samples, 'ceiling', 'Hono')), 0.45),
    reference(
      'for reference: bare Hono signing the same token ÷ bare Hono ceiling',
      pairRatios(measurementsOf(samples, 'client_credentials', 'Hono'), measurementsOf(samples, 'ceiling', 'Hono')),
    ),
    check(
      'introspection ÷ oidc-provider (opaque)',
      pairRatios(
        measurementsOf(samples, 'introspection', 'psd2-oauth'),
        measurementsOf(samples, 'introspection', 'oidc-provider opaque'),
      ),
      1.5,
    ),
  ].join('\n');
}

function versions(): string {
  const version = (name: string) => {
    try {
      return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
        .version;
    } catch {
      return '?';
    }
  };
  const sqlite = new Database(':memory:');
  const sqliteVersion = (sqlite.prepare('select sqlite_version() as v').get() as { v: string }).v;
  sqlite.close();
  const names = [
    'oidc-provider',
    'hono',
    '@hono/node-server',
    '@hono/zod-openapi',
    'jose',
    'better-sqlite3',
    'drizzle-orm',
    'zod',
    'pino',
    'undici',
  ];
  return `Node ${process.version}, SQLite ${sqliteVersion}, ${names.map((n) => `${n} ${version(n)}`).join(', ')}`;
}

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${availableParallelism()} CPUs (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${process.platform} ${process.arch}`;
}

const BEGIN = '<!-- bench:begin (generated by npm run bench; edits between these markers are overwritten) -->';
const END = '<!-- bench:end -->';

function generated(samples: Sample[]): string {
  return [
    BEGIN,
    '',
    `Run of ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC: ${settings.rounds} round(s) of ${settings.durationMs / 1000} s per server and scenario after a ${settings.warmupMs / 1000} s warm-up, ${settings.connections} keep-alive mTLS connections, psd2-oauth LOG_LEVEL=${flags['log-level']}.`,
    '',
    `- Machine: ${machine()}`,
    `- Versions: ${versions()}`,
    '',
    '### Results',
    '',
    resultsTable(samples),
    '',
    ...(postgresTable(samples)
      ? ['### PostgreSQL (issue 16): pair by pair, the same rounds', '', postgresTable(samples)!, '']
      : postgresMissing
        ? [`PostgreSQL rows: skipped (${postgresMissing}).`, '']
        : []),
    '### Targets of issue 8',
    '',
    targetsTable(samples),
    '',
    '### Targets of issue 16',
    '',
    issue16Table(samples),
    '',
    END,
  ].join('\n');
}

function writeReport(file: string, samples: Sample[]): void {
  const block = generated(samples);
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const start = existing.indexOf(BEGIN);
  const end = existing.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${existing.slice(0, start)}${block}${existing.slice(end + END.length)}`
      : `${existing || '# Performance\n'}\n${block}\n`;
  writeFileSync(file, next);
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<number> {
  await createBenchPki(dataDir);
  sqliteOptions = scenarios.includes('introspection') ? resourceServerCredentials({ DATA_DIR: dataDir }) : {};
  const servers = new Map<ServerName, RunningServer>();
  try {
    if (scenarios.some((s) => variantsOf(s).some((v) => POSTGRES_VARIANTS.includes(v)))) {
      const found = findPostgres();
      if ('missing' in found) postgresMissing = found.missing;
      else {
        // fsync on, as a bank runs it: the rows compare durable commits with durable commits.
        cluster = await startCluster({ durable: true }).catch((err: Error) => {
          postgresMissing = err.message;
          return undefined;
        });
      }
      if (postgresMissing) log(`PostgreSQL rows skipped: ${postgresMissing}`);
    }
    const needed = new Set(scenarios.flatMap((s) => variantsOf(s).map((v) => SERVER_OF[v])));
    for (const name of needed) servers.set(name, await startBenchServer(name));
    const samples: Sample[] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      for (const scenario of scenarios) {
        // Alternate who goes first, so that a drift of the machine does not favour one server.
        const order = round % 2 ? variantsOf(scenario) : variantsOf(scenario).reverse();
        for (const variant of order) {
          const server = servers.get(SERVER_OF[variant])!;
          const result = await load(
            {
              origins: server.origins,
              pkiDir: dataDir,
              variant,
              scenario,
              connections: settings.connections,
              durationMs: settings.durationMs,
              warmupMs: settings.warmupMs,
              options: server.options,
            },
            server,
          );
          samples.push({ round, scenario, variant, result });
          log(`round ${round}  ${scenario.padEnd(18)} ${variant.padEnd(20)} ${describe(result)}`);
        }
      }
    }
    const failures = samples.filter((s) => 'error' in s.result);
    if (out) {
      writeReport(out, samples);
      log(`wrote ${out}`);
    } else {
      process.stdout.write(`${generated(samples)}\n`);
    }
    if (flags.profile) {
      await Promise.all([...servers.values()].flatMap((s) => s.children.map((c) => c.stop(20_000))));
      for (const name of existsSync(profileDir) ? readdirSync(profileDir) : []) {
        const file = join(profileDir, name, 'server.cpuprofile');
        if (!existsSync(file)) continue;
        const summary = summarise(JSON.parse(readFileSync(file, 'utf8')));
        process.stdout.write(`\n### Profile of ${name} (${scenarios.join(', ')})\n\n${profileMarkdown(summary)}\n`);
      }
    }
    return failures.length > 0 ? 1 : 0;
  } finally {
    await Promise.all([...servers.values()].flatMap((s) => s.children.map((c) => c.stop())));
    await counterConnection?.end({ timeout: 1 });
    if (cluster && flags.keep) copyFileSync(join(cluster.dir, 'log'), join(work, 'postgresql.log'));
    cluster?.stop();
    if (flags.keep) log(`kept ${work} (server logs, database)`);
    else rmSync(work, { recursive: true, force: true });
  }
}

mkdirSync(work, { recursive: true });
process.exitCode = await main();
