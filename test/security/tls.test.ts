// Issue 12, item 2: below TLS 1.3 only the FAPI suites (ECDHE-ECDSA/RSA and DHE-RSA with AES-GCM).
// Every TLS 1.2 suite OpenSSL knows is offered alone with `openssl s_client`, against the server's
// own listener and against createHttpsListener (the one function every listener uses) with an RSA
// and an ECDSA certificate, so that the RSA and DHE suites can negotiate too.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { createHttpsListener, FAPI_TLS12_CIPHERS } from '../../server/https-listener.ts';
import { sandboxPaths } from '../../server/pki/sandbox-files.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const OPENSSL = '/usr/bin/openssl';
const deno = 'Deno' in globalThis;
const skip = existsSync(OPENSSL)
  ? undefined
  : process.env.CI === 'true'
    ? assert.fail(`${OPENSSL} is missing`)
    : `${OPENSSL} is missing (apt-get install openssl)`;

/** Every TLS 1.2 suite this OpenSSL can offer, but those without authentication or key exchange. */
function tls12Suites(): string[] {
  const list = execFileSync(OPENSSL, ['ciphers', '-s', '-tls1_2', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'], {
    encoding: 'utf8',
  });
  return list
    .trim()
    .split(':')
    .filter((s) => !s.startsWith('TLS_') && !/PSK|SRP|ADH|AECDH|NULL/.test(s));
}

/** The suite negotiated when a client offers `suite` alone at `version`, or undefined. */
function negotiate(
  port: number,
  version: '-tls1_1' | '-tls1_2' | '-tls1_3',
  suite?: string,
): Promise<string | undefined> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', version];
  if (suite) args.push('-cipher', `${suite}:@SECLEVEL=0`);
  return new Promise((resolve) => {
    const child = execFile(OPENSSL, args, { timeout: 10_000 }, (_error, stdout) => {
      const match = /Cipher is (\S+)/.exec(stdout);
      resolve(match?.[1] && match[1] !== '(NONE)' ? match[1] : undefined);
    });
    child.stdin?.end();
  });
}

/** Offers each suite (default: every one), six handshakes at a time; returns the accepted ones. */
async function acceptedSuites(port: number, suites = tls12Suites()): Promise<string[]> {
  const accepted: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < suites.length) {
        const suite = suites[next++] as string;
        const got = await negotiate(port, '-tls1_2', suite);
        if (got) {
          assert.equal(got, suite);
          accepted.push(suite);
        }
      }
    }),
  );
  return accepted.sort();
}

const sorted = (list: readonly string[]) => [...list].sort();

describe('TLS policy of the server listener (ECDSA certificate)', { skip }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(() => s.close());

  test('TLS 1.2: exactly the FAPI suites an ECDSA certificate can serve', async () => {
    // Only ECDHE-ECDSA suites can be served with an ECDSA key; the others are offered to the
    // listener below, which has an RSA certificate as well.
    const accepted = await acceptedSuites(
      s.server.port,
      tls12Suites().filter((suite) => suite.startsWith('ECDHE-ECDSA-')),
    );
    if (deno) {
      // Deno's node:https runs on rustls and ignores `ciphers`: its fixed TLS 1.2 set adds
      // ChaCha20-Poly1305 (see README, Security). CBC, CCM, ARIA and CAMELLIA are refused all the same.
      assert.deepEqual(accepted, [
        'ECDHE-ECDSA-AES128-GCM-SHA256',
        'ECDHE-ECDSA-AES256-GCM-SHA384',
        'ECDHE-ECDSA-CHACHA20-POLY1305',
      ]);
      return;
    }
    assert.deepEqual(accepted, ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384']);
  });

  test('TLS 1.3 is served; TLS 1.1 is not', async () => {
    assert.match((await negotiate(s.server.port, '-tls1_3')) ?? '', /^TLS_AES_(128|256)_GCM_SHA(256|384)$/);
    assert.equal(await negotiate(s.server.port, '-tls1_1'), undefined);
  });
});

describe('createHttpsListener, the one TLS listener function (RSA and ECDSA certificates)', {
  skip:
    skip ?? (deno ? "Deno's node:https takes one certificate and ignores ciphers (see README, Security)" : undefined),
}, () => {
  let dir: string;
  let rsa: { cert: string; key: string };
  let ecdsa: { cert: string; key: string };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-tls-'));
    execFileSync(
      OPENSSL,
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-days',
        '1',
        '-keyout',
        join(dir, 'rsa-key.pem'),
        '-out',
        join(dir, 'rsa-cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    rsa = {
      cert: readFileSync(join(dir, 'rsa-cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'rsa-key.pem'), 'utf8'),
    };
    // The sandbox's ECDSA certificate, made by the server's own start-up.
    const s = await startTestServer({}, dir);
    await s.close();
    const paths = sandboxPaths(dir);
    ecdsa = { cert: readFileSync(paths.tlsCert, 'utf8'), key: readFileSync(paths.tlsKey, 'utf8') };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function listen(tls12Ciphers?: string): Promise<{ server: Server; port: number }> {
    const server = createHttpsListener(
      {
        cert: [rsa.cert, ecdsa.cert],
        key: [rsa.key, ecdsa.key],
        requestCert: false,
        tls12Ciphers,
        hsts: { maxAge: 31_536_000, includeSubDomains: true },
      },
      (_req, res) => res.end('ok'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as AddressInfo).port };
  }

  test('by default, TLS 1.2 accepts the six FAPI suites and nothing else', async () => {
    const { server, port } = await listen();
    try {
      assert.deepEqual(await acceptedSuites(port), sorted(FAPI_TLS12_CIPHERS));
      assert.ok(await negotiate(port, '-tls1_3'), 'TLS 1.3 still served');
    } finally {
      server.close();
    }
  });

  test('TLS_CIPHERS replaces the TLS 1.2 list and leaves TLS 1.3 alone', async () => {
    const config = loadConfig({ TLS_CIPHERS: 'ECDHE-RSA-AES256-GCM-SHA384' });
    const { server, port } = await listen(config.tlsCiphers);
    try {
      const offered = [...FAPI_TLS12_CIPHERS, 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-RSA-AES256-SHA384'];
      assert.deepEqual(await acceptedSuites(port, offered), ['ECDHE-RSA-AES256-GCM-SHA384']);
      assert.ok(await negotiate(port, '-tls1_3'));
    } finally {
      server.close();
    }
    assert.throws(
      () => loadConfig({ TLS_CIPHERS: 'ECDHE-RSA-AES256-GCM-SHA384:NOT-A-SUITE' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /TLS_CIPHERS: unknown cipher suites NOT-A-SUITE/);
        return true;
      },
    );
  });
});
