// `npm run test:readme`: the README's shell blocks, run as written on a fresh copy of the repository
// with the system's Node (no node_modules/.bin in PATH). The markers are described in the README
// ("Commands in this README are tested"). Not part of `npm test` (named .check.ts): it installs.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from '../support/https.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface ShellBlock {
  line: number;
  code: string;
  marker: { kind: 'run' } | { kind: 'server' } | { kind: 'skip'; reason: string };
}

/** The ```sh blocks of a Markdown text, with the readme-test marker of the line before each. */
export function shellBlocks(markdown: string): ShellBlock[] {
  const lines = markdown.split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    const code = lines.slice(i + 1, end).join('\n');
    const comment = /^<!-- readme-test: (server|skip)(?: \((.+)\))? -->$/.exec(lines[i - 1] ?? '');
    let marker: ShellBlock['marker'] = { kind: 'run' };
    if (comment?.[1] === 'server') marker = { kind: 'server' };
    if (comment?.[1] === 'skip') {
      assert.ok(comment[2], `README line ${i}: a skip marker needs its reason`);
      marker = { kind: 'skip', reason: comment[2] };
    }
    if (!comment && /^<!-- readme-test/.test(lines[i - 1] ?? '')) {
      assert.fail(`README line ${i}: unknown marker ${lines[i - 1]}`);
    }
    blocks.push({ line: i + 1, code, marker });
    i = end;
  }
  return blocks;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let workspace = '';
let server: ChildProcess | undefined;

after(async () => {
  if (server?.pid && server.exitCode === null) {
    process.kill(-server.pid, 'SIGTERM');
    await new Promise((resolve) => server?.once('exit', resolve));
  }
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

test('no README command runs a TypeScript file with a bare node', () => {
  for (const block of shellBlocks(readFileSync(join(root, 'README.md'), 'utf8'))) {
    assert.doesNotMatch(block.code, /(^|[\s;&|(])node\s+[^\s-]\S*\.ts\b/m, `README line ${block.line}`);
  }
});

test('every README shell block not marked skip runs as written on the system Node', async (t) => {
  workspace = mkdtempSync(join(tmpdir(), 'psd2-oauth-readme-'));
  const copy = join(workspace, 'psd2-oauth');
  // What a clone holds: the committed and the new, unignored files (no node_modules, no data).
  const files = execFileSync('git', ['-C', root, 'ls-files', '-co', '--exclude-standard', '-z'], { encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    try {
      cpSync(join(root, file), join(copy, file));
    } catch {}
  }
  const port = await freePort();
  // A fresh machine: the system's Node first, nothing this test run was started with.
  const env: Record<string, string> = { PORT: String(port) };
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || name.startsWith('npm_') || name.startsWith('NODE_')) continue;
    env[name] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(':')
    .filter((dir) => !dir.includes('node_modules'))
    .join(':');
  const systemNode = execFileSync('node', ['--version'], { env, encoding: 'utf8' }).trim();
  t.diagnostic(`system node: ${systemNode}`);

  const blocks = shellBlocks(readFileSync(join(copy, 'README.md'), 'utf8'));
  for (const block of blocks) {
    const code = block.code.replaceAll('localhost:8443', `localhost:${port}`);
    if (block.marker.kind === 'skip') {
      t.diagnostic(`line ${block.line}: skipped (${block.marker.reason})`);
      continue;
    }
    const started = performance.now();
    if (block.marker.kind === 'server') {
      assert.equal(server, undefined, `line ${block.line}: one server block at a time`);
      server = spawn('bash', ['-euo', 'pipefail', '-c', code], { cwd: copy, env, stdio: 'ignore', detached: true });
      const deadline = Date.now() + 120_000;
      for (;;) {
        const ok = await request(`https://localhost:${port}/health`, {
          ca: (() => {
            try {
              return readFileSync(join(copy, 'data/sandbox-ca.pem'), 'utf8');
            } catch {
              return undefined;
            }
          })(),
        }).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) break;
        assert.equal(server.exitCode, null, `line ${block.line}: the server exited`);
        assert.ok(Date.now() < deadline, `line ${block.line}: no answer on /health within 120 s`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      t.diagnostic(`line ${block.line}: server up after ${(performance.now() - started).toFixed(0)} ms`);
      continue;
    }
    const child = spawn('bash', ['-euo', 'pipefail', '-c', code], { cwd: copy, env, timeout: 240_000 });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
    t.diagnostic(`line ${block.line}: exit ${status} in ${(performance.now() - started).toFixed(0)} ms`);
    assert.equal(status, 0, `README line ${block.line}:\n${code}\n---\n${output.slice(-3000)}`);
  }
  assert.ok(blocks.filter((b) => b.marker.kind !== 'skip').length >= 6, 'most of the README runs');
});
