#!/usr/bin/env node
// The `psd2-oauth` command of the npm package. Node refuses to strip types under node_modules, so
// the package runs lib/, compiled by `npm pack` (scripts/build-package.ts); in a clone of the
// repository, where lib/ is not built, it runs the TypeScript sources.
import { existsSync } from 'node:fs';

const compiled = new URL('../lib/bin.js', import.meta.url);
await import(existsSync(compiled) ? compiled.href : new URL('../server/bin.ts', import.meta.url).href);
