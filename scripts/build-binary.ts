// `npm run build:binary`: the single executable dist/psd2-oauth-linux-x64 (+ .sha256, + .tar.xz).
// A Node 24 single executable application, from npm packages only: the `node` binary of the pinned
// node@24 package, the app bundled by esbuild into one CommonJS file (the only main format a SEA
// takes in Node 24), the blob made by `node --experimental-sea-config`, injected by postject.
// Runtime files are SEA assets, read through server/resources.ts; add a new one to ASSETS below.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type PluginBuild } from 'esbuild';
import pkg from '../package.json' with { type: 'json' };

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const dist = join(root, 'dist');
const work = join(dist, 'binary');
const NAME = 'psd2-oauth-linux-x64';
const output = join(dist, NAME);

if (process.platform !== 'linux' || process.arch !== 'x64') {
  throw new Error(`the binary is built for linux-x64 on linux-x64, not ${process.platform}-${process.arch}`);
}
const started = Date.now();
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

function commit(): string {
  try {
    const head = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head}-dirty` : head;
  } catch {
    return 'unknown';
  }
}

// import.meta.url has no value in a CommonJS bundle. server/resources.ts reads it only outside the
// binary; the placeholder makes any other use fail loudly instead of resolving next to the binary.
const common = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  define: { 'import.meta.url': '"file:///psd2-oauth-binary/no-source-tree/"' },
  legalComments: 'none',
  logLevel: 'warning',
  logOverride: { 'empty-import-meta': 'silent' },
} as const;
// The binary is for one process on one SQLite file (README, "The single binary"): the PostgreSQL
// backend (db/pg/, the postgres driver, db/pg/migrations) stays out. Its one entry, db/pg/open.ts
// (imported lazily by db/open.ts), becomes a module that refuses; server/startup.ts refuses
// DATABASE_URL=postgres://… with exit 78 before that could ever be reached.
const sqliteOnly = {
  name: 'sqlite-only',
  setup(b: PluginBuild) {
    b.onResolve({ filter: /[/\\]pg[/\\]open\.ts$/ }, () => ({ path: 'db/pg/open.ts', namespace: 'sqlite-only' }));
    b.onLoad({ filter: /.*/, namespace: 'sqlite-only' }, () => ({
      loader: 'js',
      contents:
        'export async function openPostgres() { throw new Error("the single binary has no PostgreSQL backend"); }',
    }));
  },
};
const app = await build({
  ...common,
  entryPoints: [join(root, 'server/bin.ts')],
  outfile: join(work, 'app.cjs'),
  plugins: [sqliteOnly],
  metafile: true,
});
const postgresInputs = Object.keys(app.metafile.inputs).filter((input) =>
  /(^|\/)(db\/pg\/|node_modules\/postgres\/|node_modules\/drizzle-orm\/postgres-js\/)/.test(input),
);
if (postgresInputs.length > 0) {
  throw new Error(`the binary must not carry the PostgreSQL backend, yet bundles ${postgresInputs.join(', ')}`);
}
await build({
  ...common,
  entryPoints: [join(root, 'server/signing-worker.ts')],
  outfile: join(work, 'signing-worker.cjs'),
});

// Asset key → file. Keys are what server/resources.ts asks node:sea for.
const migrationsDir = join(root, 'db/migrations');
const migrations = (function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [relative(migrationsDir, path)];
  });
})(migrationsDir).sort();
const swaggerDir = join(require.resolve('swagger-ui-dist/package.json'), '..');
const ASSETS: Record<string, string> = {
  'better_sqlite3.node': join(require.resolve('better-sqlite3/package.json'), '../prebuilds/linux-x64.node'),
  'signing-worker.cjs': join(work, 'signing-worker.cjs'),
  'swagger-ui-dist/swagger-ui.css': join(swaggerDir, 'swagger-ui.css'),
  'swagger-ui-dist/swagger-ui-bundle.js': join(swaggerDir, 'swagger-ui-bundle.js'),
  ...Object.fromEntries(migrations.map((file) => [`migrations/${file}`, join(migrationsDir, file)])),
};

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const hashes = Object.fromEntries(Object.entries(ASSETS).map(([key, file]) => [key, sha256(readFileSync(file))]));
const manifest = { version: pkg.version, commit: commit(), assets: hashes, migrations };
const manifestJson = JSON.stringify(manifest);
writeFileSync(join(work, 'manifest.json'), manifestJson);
// The manifest's own hash names the directory the binary unpacks into (one per build).
manifest.assets['manifest.json'] = sha256(new TextEncoder().encode(manifestJson));
writeFileSync(join(work, 'manifest.json'), JSON.stringify(manifest));

const seaConfig = {
  main: join(work, 'app.cjs'),
  output: join(work, 'sea-prep.blob'),
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  // NODE_OPTIONS and the like cannot add flags (--require, --import) to a bank's binary.
  execArgvExtension: 'none',
  assets: { ...ASSETS, 'manifest.json': join(work, 'manifest.json') },
};
writeFileSync(join(work, 'sea-config.json'), JSON.stringify(seaConfig, null, 2));

const node = join(require.resolve('node/package.json'), '../bin/node');
execFileSync(node, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'inherit' });
rmSync(output, { force: true });
copyFileSync(node, output);
chmodSync(output, 0o755);
// Symbols are not needed to run; stripping them saves about 18 MB.
execFileSync('strip', [output]);
const postject = join(require.resolve('postject/package.json'), '../dist/cli.js');
execFileSync(
  node,
  [
    postject,
    output,
    'NODE_SEA_BLOB',
    join(work, 'sea-prep.blob'),
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ],
  // postject warns "Can't find string offset for section name '.note.100'": harmless.
  { stdio: 'ignore' },
);

const binary = readFileSync(output);
writeFileSync(`${output}.sha256`, `${sha256(binary)}  ${NAME}\n`);
rmSync(`${output}.tar.xz`, { force: true });
if (!process.argv.includes('--no-archive')) {
  execFileSync('tar', ['-C', dist, '-cJf', `${output}.tar.xz`, NAME, `${NAME}.sha256`], {
    env: { ...process.env, XZ_OPT: '-6 -T0' },
  });
}
const mb = (path: string) => `${(statSync(path).size / 1e6).toFixed(1)} MB`;
process.stdout.write(
  `${relative(root, output)}: ${mb(output)}${process.argv.includes('--no-archive') ? '' : `, .tar.xz ${mb(`${output}.tar.xz`)}`}, commit ${manifest.commit}, built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
);
