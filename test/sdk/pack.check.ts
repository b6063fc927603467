// `npm run test:sdk-package`: the SDK as a TPP gets it. `npm pack` of sdk/, the tarball installed
// in an empty folder outside the repository, then the quickstart (examples/tpp-quickstart.ts) run
// from there against a running sandbox: as TypeScript (type-checked against the package's .d.ts,
// run by Node 24 and by Deno) and as plain JavaScript (Node 24 and Node 22); and on the system's Node 20 the import
// stops with a message that names the Node version needed. Not part of `npm test` (named
// .check.ts): it installs packages.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { startTestServer, type TestServer } from '../support/server.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const NODE = process.execPath;
const DENO = join(root, 'node_modules/deno/deno');
const TSC = join(root, 'node_modules/typescript/bin/tsc');
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

let folder = '';
let server: TestServer;
let tppDir = '';

before(async () => {
  folder = mkdtempSync(join(tmpdir(), 'psd2-oauth-tpp-app-'));
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', folder], join(root, 'sdk')))[0];
  const files: string[] = packed.files.map((f: { path: string }) => f.path);
  assert.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts'), files.join(' '));
  assert.ok(!files.some((f) => f.startsWith('server/') || f.includes('node_modules')), 'no server in the SDK');
  writeFileSync(join(folder, 'package.json'), JSON.stringify({ name: 'tpp-app', private: true, type: 'module' }));
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', join(folder, packed.filename)], folder);

  server = await startTestServer();
  tppDir = join(folder, 'qwac');
  mkdirSync(tppDir);
  const args = ['sandbox-cert', '--org-id', 'PSDFR-ACPR-12345', '--roles', 'PSP_AI', '--name', 'Acme TPP'];
  execFileSync(NODE, [join(root, 'server/bin.ts'), ...args, '--out', tppDir], {
    env: { ...process.env, DATA_DIR: server.dataDir, LOG_LEVEL: 'silent' },
    stdio: 'ignore',
  });
  // The quickstart as a TPP would copy it: it imports '@psd2-oauth/sdk' from its own node_modules.
  const source = readFileSync(join(root, 'examples/tpp-quickstart.ts'), 'utf8');
  writeFileSync(join(folder, 'quickstart.ts'), source);
  writeFileSync(join(folder, 'quickstart.mjs'), transformSync(source, { loader: 'ts', format: 'esm' }).code);
});

after(async () => {
  await server?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

/** Runs a command in the TPP's folder without blocking this process, where the server runs. */
async function run(command: string, args: string[]): Promise<{ status: number | null; out: string }> {
  const child = spawn(command, args, {
    cwd: folder,
    timeout: 60_000,
    env: { ...process.env, BASE_URL: server.url, TPP_DIR: tppDir, NODE_OPTIONS: '' },
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { status, out };
}

const completed = (out: string) => {
  assert.match(out, /^registered \S+ scope aisp extended_transaction_history$/m);
  assert.match(out, /^revoked$/m);
};

test('the installed package holds JavaScript, declarations and only the dependencies it uses', () => {
  const pkg = JSON.parse(readFileSync(join(folder, 'node_modules/@psd2-oauth/sdk/package.json'), 'utf8'));
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['openapi-fetch', 'undici']);
  assert.equal(pkg.engines.node, '>=22.19.0');
  const installed = readFileSync(join(folder, 'package-lock.json'), 'utf8');
  for (const serverOnly of ['better-sqlite3', 'drizzle-orm', 'hono', 'pino']) {
    assert.ok(!installed.includes(`node_modules/${serverOnly}"`), `${serverOnly} is not installed with the SDK`);
  }
});

test('the quickstart in TypeScript type-checks against the package and runs on Node 24', async () => {
  writeFileSync(
    join(folder, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        module: 'nodenext',
        strict: true,
        noEmit: true,
        allowImportingTsExtensions: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      files: ['quickstart.ts'],
    }),
  );
  const typecheck = await run(NODE, [TSC, '-p', 'tsconfig.json']);
  assert.equal(typecheck.status, 0, typecheck.out);
  const res = await run(NODE, ['quickstart.ts']);
  assert.equal(res.status, 0, res.out);
  completed(res.out);
});

test('the quickstart in plain JavaScript runs on Node 24', async () => {
  const res = await run(NODE, ['quickstart.mjs']);
  assert.equal(res.status, 0, res.out);
  completed(res.out);
});

test('the quickstart runs on Deno 2 from the installed package', async () => {
  const res = await run(DENO, ['run', '-A', 'quickstart.ts']);
  assert.equal(res.status, 0, res.out);
  completed(res.out);
});

test('the quickstart in plain JavaScript runs on Node 22 (the oldest major the package allows)', async () => {
  // node@22 from the npm registry, as the repository pins node@24: no other download.
  const node22 = join(folder, 'node22');
  mkdirSync(node22);
  writeFileSync(join(node22, 'package.json'), JSON.stringify({ name: 'node22', private: true }));
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', 'node@22'], node22);
  const binary = join(node22, 'node_modules/node/bin/node');
  const version = await run(binary, ['--version']);
  assert.match(version.out, /^v22\./);
  const res = await run(binary, ['quickstart.mjs']);
  assert.equal(res.status, 0, res.out);
  completed(res.out);
});

test('on Node 20 the import stops at once and says which Node is needed', async () => {
  const res = await run('/usr/bin/node', ['quickstart.mjs']);
  assert.notEqual(res.status, 0);
  assert.match(res.out, /@psd2-oauth\/sdk needs Node\.js 22\.19 or later .*this is Node\.js 20\./);
});
