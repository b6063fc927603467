// What a TPP installs: `@psd2-oauth/sdk` must load as plain JavaScript on Node (which never strips
// types under node_modules) and as the TypeScript sources on Deno.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

declare const Deno: unknown;

test('@psd2-oauth/sdk resolves to JavaScript on Node and to the sources on Deno', () => {
  const script = `
    const sdk = await import('@psd2-oauth/sdk');
    const url = import.meta.resolve('@psd2-oauth/sdk');
    console.log(JSON.stringify({ url, exports: Object.keys(sdk).sort() }));
  `;
  const args =
    typeof Deno === 'undefined'
      ? ['--no-experimental-strip-types', '--input-type=module', '-e', script]
      : ['eval', '--ext=ts', script];
  const res = spawnSync(process.execPath, args, { cwd: new URL('../..', import.meta.url).pathname, encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const { url, exports } = JSON.parse(res.stdout.trim().split('\n').at(-1) ?? '{}');
  assert.match(url, /\/sdk\/dist\/index\.js$/);
  for (const name of ['OAuthError', 'createPkce', 'createTppClient', 'pkceChallenge'])
    assert.ok(exports.includes(name), name);
});
