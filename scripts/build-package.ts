// `npm pack` runs this first (prepack): the server compiled to JavaScript in lib/, so that the
// package's `psd2-oauth` command and its `exports` (config, main, app) run from node_modules,
// where Node never strips types. Dependencies stay imports of the installed packages; runtime files
// are found by server/resources.ts next to lib/ (db/migrations, lib/signing-worker.js).
// `postpack` removes lib/ again, so that a clone always runs its sources.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const lib = join(root, 'lib');
rmSync(lib, { recursive: true, force: true });
let commit = 'unknown';
try {
  commit = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {}
await build({
  entryPoints: {
    bin: join(root, 'server/bin.ts'),
    config: join(root, 'server/config.ts'),
    main: join(root, 'server/main.ts'),
    app: join(root, 'server/app.ts'),
    'signing-worker': join(root, 'server/signing-worker.ts'),
  },
  outdir: lib,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  packages: 'external',
  define: { PSD2_OAUTH_COMMIT: JSON.stringify(commit) },
  legalComments: 'none',
  logLevel: 'warning',
});
process.stdout.write(`lib/: the server compiled for the npm package (commit ${commit})\n`);
