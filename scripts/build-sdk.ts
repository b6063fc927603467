// `npm run build:sdk` (also run by `npm install` through `prepare`): compiles the SDK to plain
// JavaScript in sdk/dist. Node refuses to strip types from files under node_modules, so a TPP that
// installs this package needs JavaScript; Deno takes the TypeScript sources (the `deno` export
// condition).
import { execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const sdk = fileURLToPath(new URL('../sdk/', import.meta.url));
const dist = `${sdk}dist/`;
rmSync(dist, { recursive: true, force: true });
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
execFileSync(process.execPath, [tsc, '-p', `${sdk}tsconfig.build.json`], { stdio: 'inherit' });
// tsc rewrites `.ts` specifiers in the JavaScript it emits, not in declarations.
for (const file of readdirSync(dist).filter((f) => f.endsWith('.d.ts'))) {
  const path = `${dist}${file}`;
  writeFileSync(path, readFileSync(path, 'utf8').replace(/(from '\.\/[\w-]+)\.ts'/g, "$1.js'"));
}
copyFileSync(`${sdk}schema.d.ts`, `${dist}schema.d.ts`);
