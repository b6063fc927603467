// `npm run test:binary`: the single binary (dist/psd2-oauth-linux-x64, built just before) runs where
// there is no Node: a chroot holding only the binary and the libraries `ldd` names, entered with
// `unshare -m` so that its /dev and /proc mounts stay private. It serves HTTPS with mTLS, a CLI
// command shares its database while it runs, SIGTERM stops it cleanly, and DATABASE_URL=postgres://
// is refused (exit 78): the binary is SQLite-only. The budgets of issue 15
// are measured here. Not part of `npm test` (named .check.ts): it needs root and a fresh build.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from '../support/https.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BINARY = join(root, 'dist/psd2-oauth-linux-x64');
const ADDON = join(root, 'node_modules/better-sqlite3/prebuilds/linux-x64.node');
const BUDGET = { startMs: 1000, sizeBytes: 130e6, rssBytes: 150e6 };

const isRoot = process.getuid?.() === 0;
const skip = isRoot ? false : 'needs root (chroot, unshare -m)';
if (skip && process.env.CI === 'true') throw new Error(`test:binary ${skip}`);

let jail = '';

/** The shared libraries a file needs, as `ldd` lists them (absolute paths). */
function libraries(file: string): string[] {
  return execFileSync('ldd', [file], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1])
    .filter((path): path is string => path !== undefined);
}

const which = (name: string) => execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
const TOOLS = isRoot
  ? { unshare: which('unshare'), sh: which('sh'), mount: which('mount'), chroot: which('chroot') }
  : undefined;

function inJail(args: string[], env: Record<string, string> = {}): ChildProcess {
  const tools = TOOLS as NonNullable<typeof TOOLS>;
  // The shell runs before the chroot (there is none inside); exec keeps one pid down to the binary.
  // The environment is only what is given here: PATH=/ inside the root, no NODE_* from outside.
  const script = `${tools.mount} --bind /dev "$0/dev" && ${tools.mount} -t proc proc "$0/proc" && exec ${tools.chroot} "$0" /psd2-oauth "$@"`;
  return spawn(tools.unshare, ['-m', '--propagation', 'private', tools.sh, '-c', script, jail, ...args], {
    env: { PATH: '/', DATA_DIR: '/data', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function runInJail(args: string[], env: Record<string, string> = {}) {
  const child = inJail(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

before(() => {
  if (skip) return;
  jail = mkdtempSync(join(tmpdir(), 'psd2-oauth-jail-'));
  copyFileSync(BINARY, join(jail, 'psd2-oauth'));
  execFileSync('chmod', ['0755', join(jail, 'psd2-oauth')]);
  for (const lib of new Set([...libraries(BINARY), ...libraries(ADDON)])) {
    mkdirSync(join(jail, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(jail, lib));
  }
  for (const dir of ['dev', 'proc']) mkdirSync(join(jail, dir));
  mkdirSync(join(jail, 'data'), { mode: 0o700 });
});

after(() => {
  if (jail) rmSync(jail, { recursive: true, force: true });
});

test('the single binary in a root without Node: sandbox QWAC, mTLS, CLI beside the server, SIGTERM', {
  skip,
}, async (t) => {
  const size = statSync(BINARY).size;
  t.diagnostic(`binary ${(size / 1e6).toFixed(1)} MB (budget ${BUDGET.sizeBytes / 1e6} MB)`);
  assert.ok(size < BUDGET.sizeBytes, `binary ${size} bytes`);
  assert.equal(
    execFileSync('sh', ['-c', `ls ${jail}/usr/bin ${jail}/bin 2>/dev/null || true`], { encoding: 'utf8' }).includes(
      'node',
    ),
    false,
  );

  const version = await runInJail(['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^psd2-oauth \d+\.\d+\.\d+ \(commit [0-9a-f]{40}(-dirty)?, single binary\)\n$/);
  const injected = await runInJail(['--version'], { NODE_OPTIONS: '--require /nowhere.js' });
  assert.equal(injected.code, 0, `NODE_OPTIONS is not honoured (execArgvExtension none): ${injected.stderr}`);

  // One process on one SQLite file: the binary carries no PostgreSQL backend, and says so at once,
  // naming the setting, for the server and for every command that opens the database.
  for (const args of [['serve'], ['keys', 'list']]) {
    const refused = await runInJail(args, { DATABASE_URL: 'postgres://psd2@127.0.0.1:1/psd2_oauth' });
    assert.equal(refused.code, 78, `${args.join(' ')}: ${refused.stderr}`);
    assert.match(refused.stderr, /^psd2-oauth [a-z]+: DATABASE_URL: the single binary runs on a SQLite file only/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'one line, no stack');
  }

  const cert = await runInJail([
    'sandbox-cert',
    '--org-id',
    'PSDFR-ACPR-99999',
    '--roles',
    'PSP_PI',
    '--name',
    'Chroot TPP',
    '--out',
    '/data/tpp',
  ]);
  assert.equal(cert.code, 0, cert.stderr);
  const ca = readFileSync(join(jail, 'data/sandbox-ca.pem'), 'utf8');
  const tpp = {
    ca,
    cert: readFileSync(join(jail, 'data/tpp/tpp-chain.pem'), 'utf8'),
    key: readFileSync(join(jail, 'data/tpp/tpp-key.pem'), 'utf8'),
  };

  const port = await freePort();
  const base = `https://localhost:${port}`;
  const serve = async () => {
    const started = performance.now();
    const child = inJail(['serve'], { PORT: String(port) });
    let log = '';
    child.stdout?.on('data', (d) => {
      log += d;
    });
    child.stderr?.on('data', (d) => {
      log += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    for (;;) {
      const ok = await request(`${base}/health`, { ca }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      assert.ok(performance.now() - started < 30_000, `no answer within 30 s: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { child, exited, ms: performance.now() - started, log: () => log };
  };
  const stop = async (server: Awaited<ReturnType<typeof serve>>) => {
    server.child.kill('SIGTERM');
    const code = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
    assert.equal(code, 0, `exit code after SIGTERM: ${server.log()}`);
    assert.match(server.log(), /"msg":"stopped"/);
  };

  // The first start creates the server's TLS certificate and signing keys; the budget is for a start
  // with its data in place, as every restart of a bank's server is.
  const first = await serve();
  t.diagnostic(`first start (keys and TLS certificate generated): ${first.ms.toFixed(0)} ms`);
  await stop(first);
  const server = await serve();
  t.diagnostic(`start to first HTTPS answer: ${server.ms.toFixed(0)} ms (budget ${BUDGET.startMs} ms)`);
  try {
    assert.ok(server.ms < BUDGET.startMs, `first HTTPS answer after ${server.ms.toFixed(0)} ms`);
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))?.[1]) * 1024;
    t.diagnostic(`RSS after start: ${(rss / 1e6).toFixed(1)} MB (budget ${BUDGET.rssBytes / 1e6} MB)`);
    assert.ok(rss > 0 && rss < BUDGET.rssBytes, `RSS ${rss} bytes`);
    const runtime = statSync(join(jail, 'data/runtime'));
    assert.equal(runtime.mode & 0o777, 0o700, 'the unpacked addon lives in a private directory');

    const registered = await request(`${base}/register`, { ...tpp, method: 'POST', body: {} });
    assert.equal(registered.status, 201, registered.text);
    const clientId: string = registered.json().client_id;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId });
    const token = await request(`${base}/token`, { ...tpp, method: 'POST', body: form });
    assert.equal(token.status, 200, token.text);
    assert.equal(token.json().token_type, 'Bearer');

    const anonymous = await request(`${base}/token`, { ca, method: 'POST', body: form });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.json().error, 'invalid_client');

    // A CLI command on the same database while the server runs; the server sees its write.
    const added = await runInJail(['resource-server', 'add', 'chroot-api', '--json'], { LOG_LEVEL: 'silent' });
    assert.equal(added.code, 0, added.stderr);
    const rs = JSON.parse(added.stdout) as { client_id: string; client_secret: string };
    const introspected = await request(`${base}/introspect`, {
      ca,
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${rs.client_id}:${rs.client_secret}`)}` },
      body: new URLSearchParams({ token: token.json().access_token }),
    });
    assert.equal(introspected.status, 200, introspected.text);
    assert.equal(introspected.json().active, true);
    assert.equal(introspected.json().client_id, clientId);

    const css = await request(`${base}/docs/assets/swagger-ui-dist/swagger-ui.css`, { ca });
    assert.equal(css.status, 200);
    assert.ok(css.text.length > 100_000, 'Swagger UI assets come from the binary');
  } finally {
    await stop(server);
  }
});
