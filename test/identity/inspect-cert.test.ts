// `psd2-oauth inspect-cert`: its verdict is the server's verifier's, on sandbox QWACs and on
// certificates shaped like real QTSPs' (statements in another order, NCA name variants, a legacy
// organizationIdentifier scheme, no clientAuth EKU).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { main } from '../../server/cli.ts';
import { type CertificateAuthority, createCertificateAuthority } from '../../server/pki/ca.ts';
import { encodeQcStatements, id_pe_qcStatements, QCStatements } from '../../server/pki/qc-statements.ts';
import { issueQwac } from '../../server/pki/qwac.ts';
import { ensureSandboxCa } from '../../server/pki/sandbox-files.ts';
import { ECDSA_P256, randomSerialNumber, SIGNING_ALGORITHM, x509 } from '../../server/pki/x509.ts';
import { PSD2_ROLE_OIDS } from '../../server/protocol/scope-policy.ts';
import { CertificateRejectedError, createTppIdentityVerifier } from '../../server/protocol/tpp-identity.ts';

const DAY = 86_400_000;

async function run(argv: string[], env: Record<string, string>) {
  let out = '';
  let err = '';
  const code = await main(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    readStdin: async () => '',
    env,
  });
  return { code, out, err };
}

/** A QWAC as a real QTSP issues one: QCStatements in its own order, its NCA naming, its EKUs. */
async function qtspQwac(
  ca: CertificateAuthority,
  o: { orgId: string; ncaName: string; ncaId: string; reversed?: boolean; eku?: string[] },
): Promise<x509.X509Certificate> {
  const keys = (await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const der = encodeQcStatements({
    qcCompliance: true,
    qcTypes: ['web'],
    psd2: { roles: [{ oid: PSD2_ROLE_OIDS.PSP_AI, name: 'PSP_AI' }], ncaName: o.ncaName, ncaId: o.ncaId },
  });
  const statements = AsnConvert.parse(der, QCStatements);
  const ordered = new QCStatements(o.reversed ? [...statements].reverse() : [...statements]);
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [
      { C: ['FR'] },
      { L: ['Paris'] },
      { O: ['Fintech SAS'] },
      { '2.5.4.97': [o.orgId] },
      { CN: ['api.fintech.example'] },
    ],
    issuer: ca.certificate.subjectName,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 90 * DAY),
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(o.eku ?? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.Extension(id_pe_qcStatements, false, AsnConvert.serialize(ordered)),
    ],
  });
}

describe('psd2-oauth inspect-cert', () => {
  let dir: string;
  let sandboxEnv: Record<string, string>;
  let qtspEnv: Record<string, string>;
  let sandboxCa: CertificateAuthority;
  let qtspCa: CertificateAuthority;
  let qtspAnchors: string;
  let n = 0;
  const save = (cert: x509.X509Certificate, format: 'pem' | 'der' = 'pem') => {
    const path = join(dir, `cert-${n++}.${format}`);
    writeFileSync(path, format === 'pem' ? cert.toString('pem') : new Uint8Array(cert.rawData));
    return path;
  };
  /** The server's verdict on the same certificate, from its own verifier. */
  const serverVerdict = async (anchors: string, cert: x509.X509Certificate) => {
    try {
      await createTppIdentityVerifier({ trustAnchors: anchors }).verify(new Uint8Array(cert.rawData));
      return null;
    } catch (error) {
      assert.ok(error instanceof CertificateRejectedError);
      return error.reason;
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'psd2-oauth-inspect-'));
    sandboxEnv = { MODE: 'sandbox', DATA_DIR: join(dir, 'data') };
    sandboxCa = await ensureSandboxCa(sandboxEnv.DATA_DIR as string);
    qtspCa = await createCertificateAuthority({ name: 'Example Qualified WEB CA' });
    qtspAnchors = qtspCa.certificate.toString('pem');
    writeFileSync(join(dir, 'anchors.pem'), qtspAnchors);
    qtspEnv = { MODE: 'production', DATA_DIR: join(dir, 'prod'), TRUST_ANCHORS: join(dir, 'anchors.pem') };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--help prints the help and reads nothing', async () => {
    const res = await run(['inspect-cert', '--help'], {});
    assert.equal(res.code, 0);
    assert.match(res.out, /Usage: psd2-oauth inspect-cert FILE/);
  });

  test('a sandbox QWAC is accepted (DER too), with what the server reads in it', async () => {
    const { certificate } = await issueQwac(sandboxCa, {
      name: 'Acme TPP',
      organizationIdentifier: 'PSDFR-ACPR-12345',
      roles: ['PSP_AI', 'PSP_PI'],
    });
    for (const format of ['pem', 'der'] as const) {
      const res = await run(['inspect-cert', save(certificate, format), '--json'], sandboxEnv);
      assert.equal(res.code, 0, res.out + res.err);
      const r = JSON.parse(res.out);
      assert.equal(r.verdict, 'accepted');
      assert.equal(r.failed_check, null);
      assert.equal(r.subject_dn, 'CN=Acme TPP,2.5.4.97=#131050534446522d414350522d3132333435,O=Acme TPP,C=FR');
      assert.equal(r.subject_openssl, 'C = FR, O = Acme TPP, organizationIdentifier = PSDFR-ACPR-12345, CN = Acme TPP');
      assert.deepEqual(r.organization_identifier, {
        value: 'PSDFR-ACPR-12345',
        scheme: 'PSD',
        country: 'FR',
        nca: 'ACPR',
        id: '12345',
        psd2: true,
      });
      assert.equal(r.qc_statements.qc_compliance, true);
      assert.deepEqual(r.qc_statements.qc_types, ['web']);
      assert.deepEqual(
        r.qc_statements.psd2.roles.map((x: { name: string }) => x.name),
        ['PSP_AI', 'PSP_PI'],
      );
      assert.equal(r.qc_statements.psd2.nca_id, 'FR-ACPR');
      assert.deepEqual(r.roles_accepted, ['PSP_AI', 'PSP_PI']);
      assert.deepEqual(r.key_usage, ['digitalSignature']);
      assert.deepEqual(r.extended_key_usage, ['clientAuth', 'serverAuth']);
      assert.deepEqual(r.revocation, { status: 'not checked' });
      assert.equal(r.not_after, certificate.notAfter.toISOString());
    }
  });

  test('an expired QWAC, one from another CA and one without the PSD2 statement are refused (65)', async () => {
    const cases = [
      {
        cert: await issueQwac(sandboxCa, {
          name: 'Old TPP',
          organizationIdentifier: 'PSDFR-ACPR-1',
          roles: ['PSP_AI'],
          notBefore: new Date(Date.now() - 10 * DAY),
          notAfter: new Date(Date.now() - DAY),
        }),
        check: 'certificate_expired',
      },
      {
        cert: await issueQwac(qtspCa, { name: 'Elsewhere', organizationIdentifier: 'PSDFR-ACPR-2', roles: ['PSP_AI'] }),
        check: 'untrusted_chain',
      },
      {
        cert: await issueQwac(sandboxCa, {
          name: 'No PSD2',
          organizationIdentifier: 'PSDFR-ACPR-3',
          roles: ['PSP_AI'],
          psd2: false,
        }),
        check: 'no_psd2_statement',
      },
    ];
    for (const { cert, check } of cases) {
      const res = await run(['inspect-cert', save(cert.certificate), '--json'], sandboxEnv);
      assert.equal(res.code, 65, res.out + res.err);
      const r = JSON.parse(res.out);
      assert.equal(r.verdict, 'refused');
      assert.equal(r.failed_check, check);
      assert.ok(r.reason.length > 0);
      const human = await run(['inspect-cert', save(cert.certificate)], sandboxEnv);
      assert.equal(human.code, 65);
      assert.match(human.out, new RegExp(`^verdict: refused \\(${check}: `, 'm'));
    }
  });

  test('QTSP-shaped certificates: the verdict is the server verifier’s', async () => {
    const shapes = [
      { orgId: 'PSDFR-ACPR-12345', ncaName: 'ACPR', ncaId: 'FR-ACPR', reversed: true },
      { orgId: 'PSDFR-ACPR-12345', ncaName: 'Banque de France', ncaId: 'FR-ACPR' },
      { orgId: 'PSDFR-BDF-12345', ncaName: 'Banque de France', ncaId: 'FR-BDF' },
      { orgId: 'NTRFR-123456789', ncaName: 'ACPR', ncaId: 'FR-ACPR' },
      {
        orgId: 'PSDFR-ACPR-12345',
        ncaName: 'Autorite de Controle Prudentiel et de Resolution',
        ncaId: 'FR-ACPR',
        eku: [x509.ExtendedKeyUsage.serverAuth],
      },
    ];
    const verdicts: (string | null)[] = [];
    for (const shape of shapes) {
      const cert = await qtspQwac(qtspCa, shape);
      const res = await run(['inspect-cert', save(cert), '--json'], qtspEnv);
      const r = JSON.parse(res.out);
      const expected = await serverVerdict(qtspAnchors, cert);
      assert.equal(r.failed_check, expected, shape.orgId);
      assert.equal(res.code, expected === null ? 0 : 65);
      assert.equal(r.qc_statements.psd2.nca_name, shape.ncaName);
      verdicts.push(expected);
    }
    // What the server decides today, so that a change of policy shows here too.
    assert.deepEqual(verdicts, [null, null, null, 'no_organization_identifier', 'not_for_client_authentication']);
    const legacy = JSON.parse(
      (await run(['inspect-cert', save(await qtspQwac(qtspCa, shapes[3]!)), '--json'], qtspEnv)).out,
    );
    assert.deepEqual(legacy.organization_identifier, {
      value: 'NTRFR-123456789',
      scheme: 'NTR',
      country: 'FR',
      nca: null,
      id: '123456789',
      psd2: false,
    });
  });

  test('--chain completes the path; a file that is no certificate is a data error', async () => {
    const issuing = await createCertificateAuthority({ name: 'Example Issuing CA', issuer: qtspCa });
    const cert = await qtspQwac(issuing, { orgId: 'PSDBE-NBB-0123456789', ncaName: 'NBB', ncaId: 'BE-NBB' });
    const leaf = save(cert);
    const alone = await run(['inspect-cert', leaf, '--json'], qtspEnv);
    assert.equal(alone.code, 65);
    assert.equal(JSON.parse(alone.out).failed_check, 'untrusted_chain');
    const chain = save(issuing.certificate);
    const withChain = await run(['inspect-cert', leaf, '--chain', chain, '--json'], qtspEnv);
    assert.equal(withChain.code, 0, withChain.out);
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    assert.equal((await run(['inspect-cert', junk], qtspEnv)).code, 65);
  });

  test('--revocation asks the CRL the certificate names: revoked is refused, good accepted', async () => {
    let crlBody = new Uint8Array();
    const server: Server = createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(crlBody);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const crlUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/ca.crl`;
      const issue = (name: string) =>
        issueQwac(qtspCa, { name, organizationIdentifier: 'PSDFR-ACPR-7', roles: ['PSP_AI'], crlUrl });
      const good = await issue('Good TPP');
      const revoked = await issue('Revoked TPP');
      const crl = await x509.X509CrlGenerator.create({
        issuer: qtspCa.certificate.subject,
        thisUpdate: new Date(Date.now() - 60_000),
        nextUpdate: new Date(Date.now() + 3_600_000),
        entries: [{ serialNumber: revoked.certificate.serialNumber, revocationDate: new Date(Date.now() - 60_000) }],
        signingKey: qtspCa.privateKey,
        signingAlgorithm: SIGNING_ALGORITHM,
      });
      crlBody = new Uint8Array(crl.rawData);
      const bad = await run(['inspect-cert', save(revoked.certificate), '--revocation', '--json'], qtspEnv);
      assert.equal(bad.code, 65, bad.out + bad.err);
      const r = JSON.parse(bad.out);
      assert.equal(r.failed_check, 'certificate_revoked');
      assert.equal(r.revocation.status, 'revoked');
      assert.equal(r.revocation.source, 'crl');
      const ok = await run(['inspect-cert', save(good.certificate), '--revocation', '--json'], qtspEnv);
      assert.equal(ok.code, 0, ok.out + ok.err);
      assert.deepEqual(JSON.parse(ok.out).revocation, {
        status: 'good',
        source: 'crl',
        revoked_at: null,
        reason: null,
      });
      // Without --revocation nothing is asked: the revoked certificate passes every other check.
      const unchecked = await run(['inspect-cert', save(revoked.certificate), '--json'], qtspEnv);
      assert.equal(unchecked.code, 0);
      assert.deepEqual(JSON.parse(unchecked.out).revocation, { status: 'not checked' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
  test('--revocation keeps to REVOCATION_TIMEOUT_MS; a value out of range is refused (78)', async () => {
    // A CRL server that never answers: the check's deadline decides, as the server's would.
    const held: import('node:http').ServerResponse[] = [];
    const server: Server = createServer((_, res) => void held.push(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const crlUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/ca.crl`;
      const issued = await issueQwac(qtspCa, {
        name: 'Slow TPP',
        organizationIdentifier: 'PSDFR-ACPR-8',
        roles: ['PSP_AI'],
        crlUrl,
      });
      const env = { ...qtspEnv, REVOCATION_POLICY: 'hard-fail', REVOCATION_TIMEOUT_MS: '300' };
      const started = Date.now();
      const res = await run(['inspect-cert', save(issued.certificate), '--revocation', '--json'], env);
      const took = Date.now() - started;
      assert.equal(res.code, 65, res.out + res.err);
      const r = JSON.parse(res.out);
      assert.equal(r.failed_check, 'revocation_unknown');
      assert.match(r.revocation.reason, /no answer within 300 ms/);
      assert.ok(took < 3000, `answered in ${took} ms`);
      const bad = await run(['inspect-cert', save(issued.certificate), '--revocation'], {
        ...env,
        REVOCATION_TIMEOUT_MS: '50',
      });
      assert.equal(bad.code, 78, bad.out + bad.err);
      assert.match(bad.err, /REVOCATION_TIMEOUT_MS/);
    } finally {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
