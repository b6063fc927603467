// Where the server's CPU time goes: a V8 .cpuprofile (node --cpu-prof) summed by what the code is
// for. Each sample is charged to the first frame, walking up from the leaf, that belongs to a
// known package or to psd2-oauth; native and crypto frames are charged to their caller, so
// signing counts the ECDSA/RSA work that jose asks node:crypto for.
//   node bench/profile.ts FILE.cpuprofile
import { readFileSync } from 'node:fs';
import process from 'node:process';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const RULES: [RegExp, string][] = [
  [/node_modules\/jose\//, 'signing (jose, node:crypto)'],
  [/node_modules\/(@peculiar|pkijs|asn1js|pvtsutils|reflect-metadata|tslib)\//, 'certificates (X.509, ASN.1)'],
  [/node_modules\/(better-sqlite3|drizzle-orm|postgres)\//, 'SQL (drizzle, better-sqlite3, postgres.js)'],
  [/node_modules\/zod\//, 'validation (zod)'],
  [/node_modules\/(hono|@hono)\//, 'framework (Hono, zod-openapi, node-server)'],
  [/node_modules\/(pino|sonic-boom|thread-stream|fast-redact|quick-format-unescaped)/, 'logging (pino)'],
  [/node_modules\//, 'other packages'],
  [/\/(db|server)\//, 'psd2-oauth'],
  [/^node:internal\/(modules|deps\/amaro|deps\/cjs-module-lexer)/, 'start-up (module loading, type stripping)'],
  [/^node:internal\/(crypto|deps\/undici)|^node:crypto/, ''],
  [/^node:/, 'Node HTTP, TLS, streams'],
];

function category(frame: ProfileNode['callFrame']): string | undefined {
  if (frame.functionName === '(garbage collector)') return 'garbage collection';
  if (frame.functionName === '(idle)') return 'idle';
  if (frame.functionName === '(program)') return 'native, unattributed (TLS records, libuv)';
  if (!frame.url) return undefined;
  for (const [pattern, name] of RULES) {
    if (!pattern.test(frame.url)) continue;
    // Our own code is broken down by file: that is where a change would go.
    if (name === 'psd2-oauth') return `psd2-oauth ${frame.url.replace(/^.*\/((db|server)\/.*)$/, '$1')}`;
    return name || undefined;
  }
  return 'other';
}

export interface ProfileSummary {
  busyMs: number;
  categories: { name: string; ms: number; share: number }[];
  topFunctions: { name: string; ms: number; share: number }[];
}

export function summarise(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const charged = new Map<number, string>();
  const chargeOf = (id: number): string => {
    const known = charged.get(id);
    if (known) return known;
    let cursor: number | undefined = id;
    let name: string | undefined;
    while (cursor !== undefined && !name) {
      name = category(byId.get(cursor)!.callFrame);
      cursor = parent.get(cursor);
    }
    const result = name ?? 'other';
    charged.set(id, result);
    return result;
  };
  const byCategory = new Map<string, number>();
  const bySelf = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const name = chargeOf(id);
    byCategory.set(name, (byCategory.get(name) ?? 0) + ms);
    const frame = byId.get(id)!.callFrame;
    if (name !== 'idle') {
      const where = frame.url ? `${frame.url.replace(/^.*\/(node_modules|main)\//, '')}:${frame.lineNumber + 1}` : '';
      const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
      bySelf.set(key, (bySelf.get(key) ?? 0) + ms);
    }
  });
  const busyMs = [...byCategory].filter(([n]) => n !== 'idle').reduce((sum, [, ms]) => sum + ms, 0);
  const rank = (m: Map<string, number>) =>
    [...m]
      .filter(([n]) => n !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => ({ name, ms, share: ms / busyMs }));
  return { busyMs, categories: rank(byCategory), topFunctions: rank(bySelf).slice(0, 15) };
}

export function profileMarkdown(summary: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  return [
    '| where | CPU ms | share of busy time |',
    '|---|---:|---:|',
    ...summary.categories.map((c) => `| ${c.name} | ${c.ms.toFixed(0)} | ${pct(c.share)} |`),
    '',
    'Top functions by self time:',
    '',
    '| function | CPU ms | share |',
    '|---|---:|---:|',
    ...summary.topFunctions.map(
      (f) => `| \`${f.name.replaceAll('|', '\\|')}\` | ${f.ms.toFixed(0)} | ${pct(f.share)} |`,
    ),
  ].join('\n');
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/profile.ts FILE.cpuprofile\n');
    process.exit(64);
  }
  process.stdout.write(`${profileMarkdown(summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile))}\n`);
}
