// QWAC revocation (issue 12, item 7) against a real OCSP responder (`openssl ocsp` on 127.0.0.1 over
// an index file) and a CRL served over HTTP by the test: good, revoked, unknown, responder down,
// expired response, response signed by the wrong key, CRL fallback, a replayed response (its nonce
// answers another request), responses signed with RSA-PSS by a delegated responder, a responder
// slower than REVOCATION_TIMEOUT_MS; and through the production server, hard-fail: a revoked QWAC is
// 401 invalid_client, also on a TLS connection already open, and a slow responder is 401 within the
// timeout (soft-fail: accepted).
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../server/config.ts';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  exportCertificateAuthority,
} from '../../server/pki/ca.ts';
import { issueQwac } from '../../server/pki/qwac.ts';
import { createRevocationChecker } from '../../server/pki/revocation.ts';
import { x509 } from '../../server/pki/x509.ts';
import { startProductionServer } from '../support/production.ts';
import { sandboxCa } from '../support/tpp.ts';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const indexDate = (d: Date) => `${d.toISOString().replace(/[-:T]/g, '').slice(2, 14)}Z`;

/**
 * An `openssl ocsp` responder over `index`, signed by `signer` (the CA itself or another key). OpenSSL
 * 3.0 takes only a port number (it cannot bind one address); the test reaches it on 127.0.0.1.
 */
async function startResponder(
  dir: string,
  name: string,
  ca: { certPem: string },
  signer: { certPem: string; keyPem: string },
  /** More `openssl ocsp` options: how the responses are signed (`-rsigopt`, `-rmd`). */
  signing: string[] = [],
) {
  const port = await freePort();
  writeFileSync(join(dir, `${name}-ca.pem`), ca.certPem);
  writeFileSync(join(dir, `${name}-signer.pem`), signer.certPem);
  writeFileSync(join(dir, `${name}-signer.key`), signer.keyPem);
  const index = join(dir, `${name}-index.txt`);
  writeFileSync(index, '');
  writeFileSync(`${index}.attr`, 'unique_subject = no\n');
  // OpenSSL 3.0's responder reads its index once: a change restarts it on the same port.
  let child: ChildProcess;
  let exited: Promise<unknown>;
  const launch = async () => {
    child = spawn(
      'openssl',
      [
        'ocsp',
        '-index',
        index,
        '-port',
        String(port),
        '-CA',
        join(dir, `${name}-ca.pem`),
        '-rsigner',
        join(dir, `${name}-signer.pem`),
        '-rkey',
        join(dir, `${name}-signer.key`),
        '-nmin',
        '10',
        ...signing,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('openssl ocsp did not start within 10 s')), 10_000);
      let seen = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('waiting for OCSP client connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  };
  await launch();
  const entries: string[] = [];
  return {
    url: `http://127.0.0.1:${port}/`,
    /** Adds (or replaces) a line of the index file: V (valid) or R (revoked). */
    async set(cert: x509.X509Certificate, status: 'V' | 'R') {
      const serial = cert.serialNumber.toUpperCase();
      const line = [
        status,
        indexDate(cert.notAfter),
        status === 'R' ? indexDate(new Date(Date.now() - 60_000)) : '',
        serial,
        'unknown',
        cert.subject
          .split(', ')
          .map((p) => `/${p}`)
          .join(''),
      ].join('\t');
      const i = entries.findIndex((e) => e.split('\t')[3] === serial);
      if (i >= 0) entries[i] = line;
      else entries.push(line);
      writeFileSync(index, `${entries.join('\n')}\n`);
      child.kill('SIGTERM');
      await exited;
      await launch();
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * An HTTP hop in front of a responder, as a network path can be: `delayMs` before forwarding, or
 * `replay`: every request after the first gets the first request's answer (a replayed response).
 */
async function startHop(target: string, options: { delayMs?: number; replay?: boolean }) {
  let first: Uint8Array | undefined;
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    if (res.destroyed) return;
    let body = options.replay ? first : undefined;
    if (!body) {
      const answer = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request' },
        body: Buffer.concat(chunks),
      });
      body = new Uint8Array(await answer.arrayBuffer());
      first ??= body;
    }
    res.writeHead(200, { 'content-type': 'application/ocsp-response' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A delegated OCSP responder with an RSA key (RFC 6960 §4.2.2.2): issued by the CA with
 * id-kp-OCSPSigning, made with the openssl CLI as a QTSP would.
 */
function rsaResponderCertificate(dir: string, caFiles: { certPem: string; keyPem: string }) {
  const path = (name: string) => join(dir, `rsa-responder-${name}`);
  writeFileSync(path('ca.pem'), caFiles.certPem);
  writeFileSync(path('ca.key'), caFiles.keyPem);
  writeFileSync(path('ext.cnf'), 'extendedKeyUsage = OCSPSigning\nkeyUsage = critical, digitalSignature\n');
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', path('key.pem'));
  openssl('req', '-new', '-key', path('key.pem'), '-subj', '/CN=Test QTSP OCSP responder (RSA)', '-out', path('csr'));
  openssl(
    'x509',
    '-req',
    '-in',
    path('csr'),
    '-CA',
    path('ca.pem'),
    '-CAkey',
    path('ca.key'),
    '-set_serial',
    '4242',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    path('ext.cnf'),
    '-out',
    path('cert.pem'),
  );
  return { certPem: readFileSync(path('cert.pem'), 'utf8'), keyPem: readFileSync(path('key.pem'), 'utf8') };
}

describe('QWAC revocation: OCSP (openssl ocsp) and CRL', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let caFiles: { certPem: string; keyPem: string };
  let responder: Awaited<ReturnType<typeof startResponder>>;
  let rogue: Awaited<ReturnType<typeof startResponder>>;
  let crlServer: Server;
  let crlUrl: string;
  let crlBody: Uint8Array = new Uint8Array();
  const warnings: string[] = [];
  const logger = { warn: (_: object, msg: string) => void warnings.push(msg) };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-ocsp-'));
    ca = await createCertificateAuthority({ name: 'Test QTSP CA' });
    caFiles = await exportCertificateAuthority(ca);
    responder = await startResponder(dir, 'good', caFiles, caFiles);
    const other = await exportCertificateAuthority(await createCertificateAuthority({ name: 'Not the QTSP' }));
    rogue = await startResponder(dir, 'rogue', caFiles, other);
    crlServer = createHttpServer((_, res) => {
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crlBody);
    });
    await new Promise<void>((resolve) => crlServer.listen(0, '127.0.0.1', resolve));
    crlUrl = `http://127.0.0.1:${(crlServer.address() as { port: number }).port}/ca.crl`;
  });
  after(async () => {
    await responder.stop();
    await rogue.stop();
    await new Promise((resolve) => crlServer.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const leaf = async (options: { ocspUrl?: string; crlUrl?: string }) =>
    new x509.X509Certificate(
      (await issueQwac(ca, { name: 'TPP', organizationIdentifier: 'PSDFR-ACPR-1', roles: ['PSP_PI'], ...options }))
        .certPem,
    );
  const outcomes: string[] = [];
  const checker = (policy: 'hard-fail' | 'soft-fail' = 'hard-fail', now?: () => number) =>
    createRevocationChecker({ policy, maxCacheSeconds: 1, logger, now, onOutcome: (o) => outcomes.push(o) });

  test('OCSP good, revoked, unknown; signature, nonce and validity checked', async () => {
    const good = await leaf({ ocspUrl: responder.url });
    const revoked = await leaf({ ocspUrl: responder.url });
    const unknown = await leaf({ ocspUrl: responder.url });
    await responder.set(good, 'V');
    await responder.set(revoked, 'R');
    const c = checker();
    assert.deepEqual((await c.status(good, ca.certificate)).status, 'good');
    await c.check(good, ca.certificate);
    const r = await c.status(revoked, ca.certificate);
    assert.equal(r.status, 'revoked');
    await assert.rejects(c.check(revoked, ca.certificate), { reason: 'certificate_revoked' });
    const u = await c.status(unknown, ca.certificate);
    assert.equal(u.status, 'unknown');
    await assert.rejects(c.check(unknown, ca.certificate), { reason: 'revocation_unknown' });
    // Each check reports its outcome once, for the revocation-check counter of the metrics.
    assert.deepEqual(outcomes, ['good', 'revoked', 'unknown']);
    // An expired response: the responder's nextUpdate (10 min) is behind a clock two days ahead.
    const late = checker('hard-fail', () => Date.now() + 2 * 86_400_000);
    const expired = await late.status(good, ca.certificate);
    assert.equal(expired.status, 'unknown');
    assert.match((expired as { reason: string }).reason, /expired response/);
  });

  test('a response signed by a key the issuer did not authorise is not believed', async () => {
    const cert = await leaf({ ocspUrl: rogue.url });
    await rogue.set(cert, 'V');
    const answer = await checker().status(cert, ca.certificate);
    assert.equal(answer.status, 'unknown');
    assert.match((answer as { reason: string }).reason, /did not authorise|does not verify/);
  });

  test('a replayed response is refused: its nonce answers another request', async () => {
    const replayer = await startHop(responder.url, { replay: true });
    try {
      const cert = await leaf({ ocspUrl: replayer.url });
      await responder.set(cert, 'V');
      // The first request gets its own answer (the responder echoes its nonce): good.
      assert.equal((await checker().status(cert, ca.certificate)).status, 'good');
      // A new check (another nonce) gets that same signed, fresh, "good" answer again.
      const replayed = await checker().status(cert, ca.certificate);
      assert.equal(replayed.status, 'unknown');
      assert.match((replayed as { reason: string }).reason, /answers another request \(nonce\)/);
      await assert.rejects(checker().check(cert, ca.certificate), (err: Error & { reason?: string }) => {
        assert.equal(err.reason, 'revocation_unknown');
        assert.match(err.message, /nonce/);
        return true;
      });
    } finally {
      await replayer.close();
    }
  });

  test('responses signed with RSA-PSS by a delegated responder are verified (salt length from the parameters)', async () => {
    const rsa = rsaResponderCertificate(dir, caFiles);
    for (const saltlen of ['digest', 'max']) {
      const pss = await startResponder(dir, `pss-${saltlen}`, caFiles, rsa, [
        '-rmd',
        'sha256',
        '-rsigopt',
        'rsa_padding_mode:pss',
        '-rsigopt',
        `rsa_pss_saltlen:${saltlen}`,
      ]);
      try {
        const good = await leaf({ ocspUrl: pss.url });
        const revoked = await leaf({ ocspUrl: pss.url });
        await pss.set(good, 'V');
        await pss.set(revoked, 'R');
        assert.deepEqual(
          await checker()
            .status(good, ca.certificate)
            .then((a) => [a.status, 'reason' in a && a.reason]),
          ['good', false],
          `saltlen ${saltlen}`,
        );
        assert.equal((await checker().status(revoked, ca.certificate)).status, 'revoked', `saltlen ${saltlen}`);
      } finally {
        await pss.stop();
      }
    }
  });

  test('RSA-PSS with an MGF1 hash other than the digest is refused, naming why', async () => {
    const rsa = rsaResponderCertificate(dir, caFiles);
    const pss = await startResponder(dir, 'pss-mgf1', caFiles, rsa, [
      '-rmd',
      'sha256',
      '-rsigopt',
      'rsa_padding_mode:pss',
      '-rsigopt',
      'rsa_mgf1_md:sha1',
    ]);
    try {
      const cert = await leaf({ ocspUrl: pss.url });
      await pss.set(cert, 'V');
      const answer = await checker().status(cert, ca.certificate);
      assert.equal(answer.status, 'unknown');
      assert.match(
        (answer as { reason: string }).reason,
        /unsupported response signature: RSASSA-PSS with MGF1-sha1 and sha256 is not supported/,
      );
    } finally {
      await pss.stop();
    }
  });

  test('a responder slower than the timeout: the policy decides within the timeout', async () => {
    const slow = await startHop(responder.url, { delayMs: 3000 });
    try {
      const cert = await leaf({ ocspUrl: slow.url, crlUrl });
      await responder.set(cert, 'V');
      const timed = (policy: 'hard-fail' | 'soft-fail') =>
        createRevocationChecker({ policy, maxCacheSeconds: 1, timeoutMs: 400, logger });
      let started = Date.now();
      await assert.rejects(timed('hard-fail').check(cert, ca.certificate), (err: Error & { reason?: string }) => {
        assert.equal(err.reason, 'revocation_unknown');
        // The one deadline covers the CRL fallback too: the slow responder used it up.
        assert.match(err.message, /no answer within 400 ms/);
        return true;
      });
      let took = Date.now() - started;
      assert.ok(took >= 390 && took < 1400, `hard-fail decided in ${took} ms`);
      warnings.length = 0;
      started = Date.now();
      await timed('soft-fail').check(cert, ca.certificate);
      took = Date.now() - started;
      assert.ok(took >= 390 && took < 1400, `soft-fail decided in ${took} ms`);
      assert.equal(warnings.length, 1);
    } finally {
      await slow.close();
    }
  });

  test('responder down: CRL fallback; no CRL either: hard-fail refuses, soft-fail accepts and logs', async () => {
    const down = `http://127.0.0.1:${await freePort()}/`;
    const good = await leaf({ ocspUrl: down, crlUrl });
    const revoked = await leaf({ ocspUrl: down, crlUrl });
    const crl = await x509.X509CrlGenerator.create({
      issuer: ca.certificate.subject,
      thisUpdate: new Date(Date.now() - 60_000),
      nextUpdate: new Date(Date.now() + 3_600_000),
      entries: [{ serialNumber: revoked.serialNumber, revocationDate: new Date(Date.now() - 60_000) }],
      signingKey: ca.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    crlBody = new Uint8Array(crl.rawData);
    const c = checker();
    assert.deepEqual(await c.status(good, ca.certificate).then((s) => [s.status, 'source' in s && s.source]), [
      'good',
      'crl',
    ]);
    assert.equal((await c.status(revoked, ca.certificate)).status, 'revoked');
    const nothing = await leaf({ ocspUrl: down });
    await assert.rejects(checker().check(nothing, ca.certificate), (err: Error & { reason?: string }) => {
      assert.equal(err.reason, 'revocation_unknown');
      assert.match(err.message, /127\.0\.0\.1/);
      return true;
    });
    warnings.length = 0;
    await checker('soft-fail').check(nothing, ca.certificate);
    assert.equal(warnings.length, 1);
  });

  test('through the production server (hard-fail): good registers, revoked is 401, also on an open connection', async () => {
    const { server } = await startProductionServer({ REVOCATION_POLICY: 'hard-fail', REVOCATION_CACHE_MAX: '1' });
    const sandbox = await sandboxCa(server);
    const sandboxFiles = await exportCertificateAuthority(sandbox);
    const local = await startResponder(dir, 'sandbox', sandboxFiles, sandboxFiles);
    try {
      const issue = async () =>
        issueQwac(sandbox, {
          name: 'TPP',
          organizationIdentifier: `PSDFR-ACPR-R${Date.now()}`,
          roles: ['PSP_PI'],
          ocspUrl: local.url,
        });
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const call = (issued: Awaited<ReturnType<typeof issue>>) =>
        new Promise<{ status: number; body: string; reused: boolean }>((resolve, reject) => {
          const req = httpsRequest(
            `${server.url}/register`,
            {
              method: 'POST',
              agent,
              ca: server.caPem,
              cert: issued.certPem,
              key: issued.keyPem,
              headers: { 'content-type': 'application/json' },
            },
            (res) => {
              let body = '';
              res.on('data', (c) => {
                body += c;
              });
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body, reused: req.reusedSocket }));
            },
          );
          req.on('error', reject);
          req.end('{}');
        });
      const ok = await issue();
      await local.set(new x509.X509Certificate(ok.certPem), 'V');
      const first = await call(ok);
      assert.equal(first.status, 201, first.body);
      // Revoked while the connection stays open: refused once the cached answer (1 s) has run out.
      await local.set(new x509.X509Certificate(ok.certPem), 'R');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const second = await call(ok);
      assert.equal(second.reused, true, 'the same TLS connection');
      assert.equal(second.status, 401, second.body);
      assert.equal(JSON.parse(second.body).error, 'invalid_client');
      assert.match(JSON.parse(second.body).error_description, /revoked/);
      agent.destroy();
    } finally {
      await local.stop();
      await server.close();
    }
  });
  test('through production servers: a responder slower than REVOCATION_TIMEOUT_MS is 401 (hard-fail) or accepted (soft-fail) within it', async () => {
    for (const policy of ['hard-fail', 'soft-fail'] as const) {
      const { server } = await startProductionServer({ REVOCATION_POLICY: policy, REVOCATION_TIMEOUT_MS: '500' });
      const sandbox = await sandboxCa(server);
      const sandboxFiles = await exportCertificateAuthority(sandbox);
      const local = await startResponder(dir, `slow-${policy}`, sandboxFiles, sandboxFiles);
      const slow = await startHop(local.url, { delayMs: 5000 });
      try {
        const issued = await issueQwac(sandbox, {
          name: 'TPP',
          organizationIdentifier: `PSDFR-ACPR-T${Date.now()}`,
          roles: ['PSP_AI'],
          ocspUrl: slow.url,
        });
        await local.set(new x509.X509Certificate(issued.certPem), 'V');
        const started = Date.now();
        const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsRequest(
            `${server.url}/register`,
            {
              method: 'POST',
              ca: server.caPem,
              cert: issued.certPem,
              key: issued.keyPem,
              headers: { 'content-type': 'application/json' },
            },
            (r) => {
              let body = '';
              r.on('data', (c) => {
                body += c;
              });
              r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify({ redirect_uris: ['https://tpp.example/cb'] }));
        });
        const took = Date.now() - started;
        if (policy === 'hard-fail') {
          assert.equal(res.status, 401, res.body);
          assert.equal(JSON.parse(res.body).error, 'invalid_client');
          assert.match(JSON.parse(res.body).error_description, /no answer within 500 ms/);
        } else {
          assert.equal(res.status, 201, res.body);
        }
        // The check waited for its deadline, and no longer than the deadline plus the request itself.
        assert.ok(took >= 490 && took < 3000, `${policy}: answered in ${took} ms`);
      } finally {
        await slow.close();
        await local.stop();
        await server.close();
      }
    }
  });
});

describe('REVOCATION_TIMEOUT_MS', () => {
  test('5000 by default; a whole number of milliseconds from 100 to 60000', () => {
    assert.equal(loadConfig({}).revocationTimeoutMs, 5000);
    assert.equal(loadConfig({ REVOCATION_TIMEOUT_MS: '1500' }).revocationTimeoutMs, 1500);
    for (const bad of ['50', '60001', '1.5', 'soon']) {
      assert.throws(
        () => loadConfig({ REVOCATION_TIMEOUT_MS: bad }),
        (err: Error) => err instanceof ConfigError && /REVOCATION_TIMEOUT_MS/.test(err.message),
        bad,
      );
    }
  });
});
