#!/usr/bin/env node
// The `psd2-oauth` executable: only this file runs the command line. It has no top-level await, so
// the single binary can bundle it as CommonJS (a SEA main cannot be an ES module in Node 24).
import process from 'node:process';
import { main } from './cli.ts';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A refusal exits at once: a half-started server must not linger on a timer or a worker.
    if (code !== 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`psd2-oauth: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70; // EX_SOFTWARE
  },
);
