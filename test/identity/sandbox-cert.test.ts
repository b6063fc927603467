import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from '../support/https.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

declare const Deno: unknown;

const cli = new URL('../../server/bin.ts', import.meta.url).pathname;
const runCli = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [...(typeof Deno === 'undefined' ? [] : ['run', '-A']), cli, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'silent', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });

describe('psd2-oauth sandbox-cert', () => {
  let s: TestServer;
  let out: string;
  before(async () => {
    s = await startTestServer();
    out = mkdtempSync(join(tmpdir(), 'psd2-oauth-cert-'));
  });
  after(async () => {
    await s.close();
    rmSync(out, { recursive: true, force: true });
  });

  test('issues a QWAC that openssl reads and the server accepts', async () => {
    const res = runCli(
      [
        'sandbox-cert',
        '--org-id',
        'PSDFR-ACPR-12345',
        '--roles',
        'PSP_AI,PSP_PI',
        '--name',
        'Acme TPP',
        '--out',
        out,
        '--json',
      ],
      { DATA_DIR: s.dataDir },
    );
    assert.equal(res.status, 0, res.stderr);
    const printed = JSON.parse(res.stdout);
    assert.deepEqual(printed.roles, ['PSP_AI', 'PSP_PI']);
    assert.equal(printed.files.certificate, join(out, 'tpp-cert.pem'));

    const text = execFileSync('openssl', ['x509', '-in', join(out, 'tpp-cert.pem'), '-noout', '-text'], {
      encoding: 'utf8',
    });
    assert.match(text, /organizationIdentifier\s*=\s*PSDFR-ACPR-12345/);
    assert.match(text, /qcStatements/);
    assert.match(text, /TLS Web Client Authentication/);
    const der = execFileSync('openssl', ['x509', '-in', join(out, 'tpp-cert.pem'), '-outform', 'DER']);
    const parsed = execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-i'], { input: der, encoding: 'utf8' });
    assert.match(parsed, /1\.3\.6\.1\.5\.5\.7\.1\.3|qcStatements/);

    const cert = readFileSync(join(out, 'tpp-chain.pem'), 'utf8');
    const key = readFileSync(join(out, 'tpp-key.pem'), 'utf8');
    const registered = await request(`${s.url}/register`, {
      method: 'POST',
      ca: readFileSync(join(out, 'sandbox-ca.pem'), 'utf8'),
      cert,
      key,
      body: { redirect_uris: ['https://tpp.example/cb'] },
    });
    assert.equal(registered.status, 201, registered.text);
    assert.equal(registered.json().scope, 'aisp extended_transaction_history pisp');
    assert.equal(registered.json().tls_client_auth_subject_dn, printed.subject_dn);
  });

  test('refuses bad arguments: exit code 65 (data) naming the option', () => {
    const res = runCli(['sandbox-cert', '--org-id', 'ACME', '--roles', 'PSP_AI', '--name', 'x', '--out', out], {
      DATA_DIR: s.dataDir,
    });
    assert.equal(res.status, 65);
    assert.match(res.stderr, /--org-id must look like PSDFR-ACPR-12345/);
    const roles = runCli(
      ['sandbox-cert', '--org-id', 'PSDFR-ACPR-1', '--roles', 'PSP_XX', '--name', 'x', '--out', out],
      {
        DATA_DIR: s.dataDir,
      },
    );
    assert.equal(roles.status, 65);
    assert.match(roles.stderr, /--roles/);
  });

  test('is refused in production mode', () => {
    const res = runCli(['sandbox-cert', '--org-id', 'PSDFR-ACPR-1', '--roles', 'PSP_AI', '--name', 'x', '--out', out], {
      MODE: 'production',
      ISSUER: 'https://bank.example',
      TLS_CERT: '/dev/null',
      TLS_KEY: '/dev/null',
      TRUST_ANCHORS: '/dev/null',
      PSU_PORT: '0',
      PSU_BASE_URL: 'https://bank.example',
      KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      DATA_DIR: s.dataDir,
    });
    assert.equal(res.status, 64);
    assert.match(res.stderr, /refused in production mode/);
  });
});
