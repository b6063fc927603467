import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { startTestServer } from '../support/server.ts';

declare const Deno: unknown;

for (const [mode, env] of [
  ['one listener', {}],
  ['two listeners (PSU_PORT): BASE_URL names the TPP listener only', { PSU_PORT: '0' }],
] as const) {
  test(`examples/tpp-quickstart.ts runs against a sandbox from start to end, ${mode}`, async () => {
    const s = await startTestServer(env);
    try {
      const example = new URL('../../examples/tpp-quickstart.ts', import.meta.url).pathname;
      const args = typeof Deno === 'undefined' ? [example] : ['run', '-A', example];
      const child = spawn(process.execPath, args, {
        env: { ...process.env, BASE_URL: s.url, DATA_DIR: s.dataDir, LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
      });
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, stderr);
      assert.match(stdout, /^registered \S+ scope aisp extended_transaction_history$/m);
      assert.match(stdout, /^refreshed; scope aisp$/m);
      assert.match(stdout, /^revoked$/m);
    } finally {
      await s.close();
    }
  });
}
