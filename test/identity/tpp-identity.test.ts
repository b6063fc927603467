import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { type CertificateAuthority, createCertificateAuthority } from '../../server/pki/ca.ts';
import { encodeQcStatements, id_pe_qcStatements } from '../../server/pki/qc-statements.ts';
import { issueQwac, type QwacOptions } from '../../server/pki/qwac.ts';
import { ECDSA_P256, randomSerialNumber, SIGNING_ALGORITHM, x509 } from '../../server/pki/x509.ts';
import type { RevocationChecker } from '../../server/protocol/bank.ts';
import {
  grantTypesForScopes,
  PSD2_ROLE_OIDS,
  type Psd2Role,
  scopesAllowedForRoles,
} from '../../server/protocol/scope-policy.ts';
import {
  CertificateRejectedError,
  type CertificateRejectionReason,
  createTppIdentityVerifier,
  type TppIdentityVerifierOptions,
} from '../../server/protocol/tpp-identity.ts';

const DAY_MS = 86_400_000;
const ORG_ID = 'PSDFR-ACPR-12345';

let pki:
  | Promise<{ root: CertificateAuthority; intermediate: CertificateAuthority; other: CertificateAuthority }>
  | undefined;
function sandbox() {
  pki ??= (async () => {
    const root = await createCertificateAuthority({ name: 'Test Root' });
    const intermediate = await createCertificateAuthority({ name: 'Test Issuing CA', issuer: root });
    const other = await createCertificateAuthority({ name: 'Somebody Else Root' });
    return { root, intermediate, other };
  })();
  return pki;
}

function qwac(ca: CertificateAuthority, options: Partial<QwacOptions> = {}) {
  return issueQwac(ca, { name: 'Fintech SAS', organizationIdentifier: ORG_ID, roles: ['PSP_AI'], ...options });
}

const der = (cert: x509.X509Certificate) => new Uint8Array(cert.rawData);

async function verifier(options: Partial<TppIdentityVerifierOptions> = {}) {
  const { root } = await sandbox();
  return createTppIdentityVerifier({ trustAnchors: [der(root.certificate)], ...options });
}

async function assertRejected(promise: Promise<unknown>, reason: CertificateRejectionReason, description?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CertificateRejectedError, `expected CertificateRejectedError, got ${error}`);
    assert.equal(error.reason, reason, error.message);
    if (description) assert.match(error.message, description);
    // The description may become an OAuth error_description (RFC 6749 §5.2 character set).
    assert.match(error.message, /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/);
    return true;
  });
}

const ROLE_SETS: Psd2Role[][] = [
  ['PSP_AI'],
  ['PSP_PI'],
  ['PSP_IC'],
  ['PSP_AS'],
  ['PSP_AI', 'PSP_PI'],
  ['PSP_AI', 'PSP_IC'],
  ['PSP_PI', 'PSP_IC'],
  ['PSP_AS', 'PSP_AI', 'PSP_PI', 'PSP_IC'],
];

for (const roles of ROLE_SETS) {
  test(`a QWAC with roles ${roles.join('+')} yields those roles and their scopes`, async () => {
    const { intermediate } = await sandbox();
    const cert = await qwac(intermediate, { roles });
    const identity = await (await verifier()).verify(der(cert.certificate), [der(intermediate.certificate)]);
    assert.deepEqual(identity.roles, roles);
    const scopes = scopesAllowedForRoles(identity.roles);
    assert.equal(scopes.includes('aisp'), roles.includes('PSP_AI'));
    assert.equal(scopes.includes('extended_transaction_history'), roles.includes('PSP_AI'));
    assert.equal(scopes.includes('cbpii'), roles.includes('PSP_IC'));
    assert.equal(scopes.includes('pisp'), roles.includes('PSP_PI'));
  });
}

test('the scope policy maps roles to STET scopes and scopes to grant types', () => {
  assert.deepEqual(scopesAllowedForRoles(['PSP_AS']), []);
  assert.deepEqual(scopesAllowedForRoles(['PSP_PI', 'PSP_AI']), ['aisp', 'extended_transaction_history', 'pisp']);
  assert.deepEqual(grantTypesForScopes(['pisp']), ['client_credentials']);
  assert.deepEqual(grantTypesForScopes(['cbpii']), ['authorization_code', 'refresh_token']);
  assert.deepEqual(grantTypesForScopes(['aisp', 'pisp']), [
    'authorization_code',
    'refresh_token',
    'client_credentials',
  ]);
  assert.equal(PSD2_ROLE_OIDS.PSP_IC, '0.4.0.19495.1.4');
});

test('the identity carries the subject, organisation, thumbprint, NCA and validity of the leaf', async () => {
  const { intermediate, root } = await sandbox();
  const cert = await qwac(intermediate, { roles: ['PSP_AI', 'PSP_PI'] });
  const pem = [root.certificate.toString('pem'), (await sandbox()).other.certificate.toString('pem')].join('\n');
  const identity = await createTppIdentityVerifier({ trustAnchors: pem }).verify(der(cert.certificate), [
    der(intermediate.certificate),
  ]);
  const sha256 = createHash('sha256').update(der(cert.certificate)).digest('base64url');
  assert.deepEqual(identity, {
    subjectDn: `CN=Fintech SAS,2.5.4.97=#1310${Buffer.from(ORG_ID).toString('hex')},O=Fintech SAS,C=FR`,
    organizationIdentifier: ORG_ID,
    organizationName: 'Fintech SAS',
    thumbprint: sha256,
    roles: ['PSP_AI', 'PSP_PI'],
    ncaName: 'Autorité de contrôle prudentiel et de résolution',
    ncaId: 'FR-ACPR',
    issuerDn: 'C=FR,O=psd2-oauth sandbox,CN=Test Issuing CA',
    serialNumber: cert.certificate.serialNumber,
    notBefore: cert.certificate.notBefore,
    notAfter: cert.certificate.notAfter,
  });
});

test('an expired or not yet valid certificate is rejected', async () => {
  const { intermediate } = await sandbox();
  const chain = [der(intermediate.certificate)];
  const expired = await qwac(intermediate, {
    notBefore: new Date(Date.now() - 400 * DAY_MS),
    notAfter: new Date(Date.now() - DAY_MS),
  });
  await assertRejected(
    (await verifier()).verify(der(expired.certificate), chain),
    'certificate_expired',
    /client certificate has expired/,
  );
  const early = await qwac(intermediate, { notBefore: new Date(Date.now() + DAY_MS) });
  await assertRejected((await verifier()).verify(der(early.certificate), chain), 'certificate_not_yet_valid');
});

test('an expired intermediate CA fails the chain it is in', async () => {
  const { root } = await sandbox();
  const stale = await createCertificateAuthority({
    name: 'Stale Issuing CA',
    issuer: root,
    notBefore: new Date(Date.now() - 400 * DAY_MS),
    notAfter: new Date(Date.now() - DAY_MS),
  });
  const cert = await qwac(stale, { notBefore: new Date(Date.now() - 10 * DAY_MS) });
  await assertRejected(
    (await verifier()).verify(der(cert.certificate), [der(stale.certificate)]),
    'certificate_expired',
    /certificate authority in its chain has expired/,
  );
});

test('a certificate from another CA is untrusted', async () => {
  const { other } = await sandbox();
  const cert = await qwac(other);
  await assertRejected((await verifier()).verify(der(cert.certificate), []), 'untrusted_chain');
  // Sending the foreign root along does not make it a trust anchor.
  await assertRejected((await verifier()).verify(der(cert.certificate), [der(other.certificate)]), 'untrusted_chain');
});

test('a leaf issued by an intermediate is accepted with the intermediate and rejected without it', async () => {
  const { intermediate } = await sandbox();
  const cert = await qwac(intermediate);
  await (await verifier()).verify(der(cert.certificate), [der(intermediate.certificate)]);
  await assertRejected((await verifier()).verify(der(cert.certificate), []), 'untrusted_chain');
  // An operator may configure the QTSPs' issuing CAs for TPPs that send only their leaf.
  await (await verifier({ intermediates: intermediate.certificate.toString('pem') })).verify(der(cert.certificate), []);
});

test('a path longer than an issuer pathLenConstraint allows is untrusted', async () => {
  const { intermediate } = await sandbox(); // pathLen 0
  const sub = await createCertificateAuthority({ name: 'Sub CA', issuer: intermediate });
  const cert = await qwac(sub);
  await assertRejected(
    (await verifier()).verify(der(cert.certificate), [der(sub.certificate), der(intermediate.certificate)]),
    'untrusted_chain',
    /pathLenConstraint/,
  );
});

test('a certificate signed by another TPP leaf is untrusted: only CAs issue', async () => {
  const { intermediate } = await sandbox();
  const tpp = await qwac(intermediate);
  const fakeCa: CertificateAuthority = {
    certificate: tpp.certificate,
    privateKey: tpp.privateKey,
    chain: [tpp.certificate, intermediate.certificate],
  };
  const forged = await qwac(fakeCa, {
    name: 'Forged Ltd',
    organizationIdentifier: 'PSDFR-ACPR-66666',
    roles: ['PSP_PI'],
  });
  await assertRejected(
    (await verifier()).verify(der(forged.certificate), [der(tpp.certificate), der(intermediate.certificate)]),
    'untrusted_chain',
    /not a certificate authority/,
  );
  // The same CA key and name, certified by the root with a keyUsage that lacks keyCertSign.
  const { root } = await sandbox();
  const noKeyCertSign = await createCertificateAuthority({ name: 'Sub CA', issuer: root });
  const crippled = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: noKeyCertSign.certificate.subjectName,
    issuer: root.certificate.subjectName,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + DAY_MS),
    publicKey: noKeyCertSign.certificate.publicKey,
    signingKey: root.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    ],
  });
  const leaf = await qwac({ ...noKeyCertSign, chain: [crippled] });
  await assertRejected(
    (await verifier()).verify(der(leaf.certificate), [der(crippled)]),
    'untrusted_chain',
    /keyCertSign/,
  );
});

test('a chain crafted to make the path search explode is cut short', async () => {
  // Twelve self-issued certificates sharing one name and key: each one "issues" every other.
  const keys = (await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const loop = await Promise.all(
    Array.from({ length: 12 }, () =>
      x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: randomSerialNumber(),
        name: 'CN=Loop CA',
        notBefore: new Date(Date.now() - DAY_MS),
        notAfter: new Date(Date.now() + DAY_MS),
        keys,
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
      }),
    ),
  );
  const cert = await qwac({ certificate: loop[0]!, privateKey: keys.privateKey, chain: [] });
  const started = performance.now();
  await assertRejected((await verifier()).verify(der(cert.certificate), loop.map(der)), 'untrusted_chain');
  assert.ok(performance.now() - started < 2_000);
});

test('a CA certificate presented as the client certificate is refused', async () => {
  const { intermediate, root } = await sandbox();
  await assertRejected(
    (await verifier()).verify(der(intermediate.certificate), []),
    'not_for_client_authentication',
    /is a CA certificate/,
  );
  await assertRejected((await verifier()).verify(der(root.certificate), []), 'not_for_client_authentication');
});

test('key usage and extended key usage must allow client authentication', async () => {
  const { intermediate } = await sandbox();
  const chain = [der(intermediate.certificate)];
  const serverOnly = await qwac(intermediate, { extendedKeyUsage: [x509.ExtendedKeyUsage.serverAuth] });
  await assertRejected(
    (await verifier()).verify(der(serverOnly.certificate), chain),
    'not_for_client_authentication',
    /clientAuth/,
  );
  const encipherOnly = await qwac(intermediate, { keyUsage: x509.KeyUsageFlags.keyEncipherment });
  await assertRejected(
    (await verifier()).verify(der(encipherOnly.certificate), chain),
    'not_for_client_authentication',
    /digitalSignature/,
  );
  // Absent extensions do not restrict the key (RFC 5280 §4.2.1.3, §4.2.1.12).
  const unrestricted = await qwac(intermediate, { keyUsage: null, extendedKeyUsage: null });
  await (await verifier()).verify(der(unrestricted.certificate), chain);
});

test('a certificate without QcType web is not a QWAC', async () => {
  const { intermediate } = await sandbox();
  const chain = [der(intermediate.certificate)];
  const noType = await qwac(intermediate, { qcType: null });
  await assertRejected(
    (await verifier()).verify(der(noType.certificate), chain),
    'not_website_authentication',
    /no QcType/,
  );
  const esign = await qwac(intermediate, { qcType: 'esign' });
  await assertRejected(
    (await verifier()).verify(der(esign.certificate), chain),
    'not_website_authentication',
    /not web/,
  );
  const eseal = await qwac(intermediate, { qcType: 'eseal' });
  await assertRejected((await verifier()).verify(der(eseal.certificate), chain), 'not_website_authentication');
});

test('the PSD2 statement must be present and list at least one valid role', async () => {
  const { intermediate } = await sandbox();
  const chain = [der(intermediate.certificate)];
  const noPsd2 = await qwac(intermediate, { psd2: false });
  await assertRejected((await verifier()).verify(der(noPsd2.certificate), chain), 'no_psd2_statement');
  const noRoles = await qwac(intermediate, { roles: [] });
  await assertRejected((await verifier()).verify(der(noRoles.certificate), chain), 'no_psd2_roles');
});

test('a role whose name does not match its OID does not count', async () => {
  const { intermediate } = await sandbox();
  const chain = [der(intermediate.certificate)];
  const psd2 = (roles: { oid: string; name: string }[]) => ({ roles, ncaName: 'ACPR', ncaId: 'FR-ACPR' });
  const mismatched = await leafWithQcStatements(intermediate, psd2([{ oid: PSD2_ROLE_OIDS.PSP_AI, name: 'PSP_PI' }]));
  await assertRejected((await verifier()).verify(mismatched, chain), 'no_psd2_roles');
  const partly = await leafWithQcStatements(
    intermediate,
    psd2([
      { oid: PSD2_ROLE_OIDS.PSP_AI, name: 'PSP_PI' },
      { oid: PSD2_ROLE_OIDS.PSP_IC, name: 'PSP_IC' },
    ]),
  );
  assert.deepEqual((await (await verifier()).verify(partly, chain)).roles, ['PSP_IC']);
});

test('the subject must carry a PSD2 organizationIdentifier', async () => {
  const { intermediate } = await sandbox();
  const chain = [der(intermediate.certificate)];
  const missing = await qwac(intermediate, { omitOrganizationIdentifier: true });
  await assertRejected((await verifier()).verify(der(missing.certificate), chain), 'no_organization_identifier');
  const vat = await qwac(intermediate, {
    organizationIdentifier: 'VATFR-12345678901',
    allowMalformedOrganizationIdentifier: true,
  });
  await assertRejected(
    (await verifier()).verify(der(vat.certificate), chain),
    'no_organization_identifier',
    /PSD2 form/,
  );
});

test('issueQwac refuses an organizationIdentifier outside the PSD2 format', async () => {
  const { intermediate } = await sandbox();
  for (const bad of [
    'FR-ACPR-12345',
    'PSDFR-A-1',
    'PSDFR-acpr-1',
    'PSDFRA-ACPR-1',
    'PSDFR-ACPR-',
    'PSDFR-ABCDEFGHI-1',
  ]) {
    await assert.rejects(qwac(intermediate, { organizationIdentifier: bad }), /PSD<country>-<NCA>-<id>/, bad);
  }
  const ok = await qwac(intermediate, { organizationIdentifier: 'PSDBE-NBB-0123.456.789' });
  const identity = await (await verifier()).verify(der(ok.certificate), [der(intermediate.certificate)]);
  assert.equal(identity.ncaId, 'BE-NBB');
});

test('no certificate and unparseable bytes are told apart', async () => {
  const v = await verifier();
  await assertRejected(v.verify(undefined, []), 'no_certificate');
  await assertRejected(v.verify(new Uint8Array(), []), 'no_certificate');
  await assertRejected(v.verify(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), []), 'malformed_certificate');
  const { intermediate } = await sandbox();
  const cert = await qwac(intermediate);
  await assertRejected(v.verify(der(cert.certificate), [new Uint8Array([1, 2, 3])]), 'malformed_certificate');
});

test('a cached leaf skips path validation but is still checked against now()', async () => {
  const { intermediate } = await sandbox();
  const cert = await qwac(intermediate, { notAfter: new Date(Date.now() + 30 * DAY_MS) });
  let now = new Date();
  const v = await verifier({ now: () => now });
  const first = await v.verify(der(cert.certificate), [der(intermediate.certificate)]);
  assert.deepEqual(v.stats, { pathValidations: 1, cacheHits: 0, cached: 1 });

  // No signature is verified the second time, even without the intermediate.
  const verifySignature = x509.X509Certificate.prototype.verify;
  let signatureChecks = 0;
  x509.X509Certificate.prototype.verify = function (...args) {
    signatureChecks++;
    return verifySignature.apply(this, args);
  };
  try {
    const second = await v.verify(der(cert.certificate), []);
    assert.deepEqual(second, first);
    second.roles.push('PSP_PI'); // callers get copies: the cache stays as it was
  } finally {
    x509.X509Certificate.prototype.verify = verifySignature;
  }
  assert.equal(signatureChecks, 0);
  assert.deepEqual(v.stats, { pathValidations: 1, cacheHits: 1, cached: 1 });
  assert.deepEqual((await v.verify(der(cert.certificate), [])).roles, ['PSP_AI']);

  now = new Date(Date.now() + 31 * DAY_MS);
  await assertRejected(v.verify(der(cert.certificate), []), 'certificate_expired');
  assert.equal(v.stats.pathValidations, 1);
});

test('the cache is bounded and evicts the least recently used leaf', async () => {
  const { intermediate } = await sandbox();
  const chain = [der(intermediate.certificate)];
  const [a, b, c] = await Promise.all([qwac(intermediate), qwac(intermediate), qwac(intermediate)]);
  const v = await verifier({ cacheSize: 2 });
  await v.verify(der(a!.certificate), chain);
  await v.verify(der(b!.certificate), chain);
  await v.verify(der(a!.certificate), chain); // a is now the most recent
  await v.verify(der(c!.certificate), chain); // evicts b
  assert.equal(v.stats.cached, 2);
  await v.verify(der(a!.certificate), chain);
  assert.equal(v.stats.pathValidations, 3);
  await v.verify(der(b!.certificate), chain);
  assert.equal(v.stats.pathValidations, 4);
});

test('the revocation checker sees leaf and issuer on every call, cached or not', async () => {
  const { intermediate } = await sandbox();
  const cert = await qwac(intermediate);
  const calls: string[] = [];
  let revoked = false;
  const revocationChecker: RevocationChecker = {
    async check(leaf, issuer) {
      calls.push(`${leaf.serialNumber} by ${issuer.subject}`);
      if (revoked) throw new CertificateRejectedError('certificate_revoked', 'the client certificate has been revoked');
    },
  };
  const v = await verifier({ revocationChecker });
  await v.verify(der(cert.certificate), [der(intermediate.certificate)]);
  revoked = true;
  await assertRejected(v.verify(der(cert.certificate), []), 'certificate_revoked');
  assert.deepEqual(calls, Array(2).fill(`${cert.certificate.serialNumber} by ${intermediate.certificate.subject}`));
});

test('openssl reads the issued QWAC: organizationIdentifier and QC statements', async () => {
  const { intermediate } = await sandbox();
  const cert = await qwac(intermediate, { roles: ['PSP_AI', 'PSP_IC'] });
  const text = execFileSync('openssl', ['x509', '-text', '-noout'], { input: cert.certPem, encoding: 'utf8' });
  assert.match(text, /organizationIdentifier ?= ?PSDFR-ACPR-12345/);
  assert.match(text, /qcStatements/);
  assert.match(text, /TLS Web Client Authentication/);
  // openssl dumps qcStatements as bytes; its ASN.1 parser shows the statement and role OIDs.
  const extension = cert.certificate.getExtension(id_pe_qcStatements);
  assert.ok(extension);
  const asn1 = execFileSync('openssl', ['asn1parse', '-inform', 'DER'], {
    input: new Uint8Array(extension.value),
  }).toString();
  for (const oid of [
    '0.4.0.1862.1.1',
    '0.4.0.1862.1.6',
    '0.4.0.1862.1.6.3',
    '0.4.0.19495.2',
    '0.4.0.19495.1.3',
    '0.4.0.19495.1.4',
  ]) {
    assert.match(asn1, new RegExp(`OBJECT +:${oid.replaceAll('.', '\\.')}\\s`), oid);
  }
  assert.match(asn1, /UTF8STRING +:PSP_AI/);
  assert.match(asn1, /UTF8STRING +:FR-ACPR/);
});

/** A leaf with hand-picked PSD2 statement content, which issueQwac would never produce. */
async function leafWithQcStatements(
  ca: CertificateAuthority,
  psd2: { roles: { oid: string; name: string }[]; ncaName: string; ncaId: string },
) {
  const keys = (await crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ C: ['FR'] }, { O: ['Fintech SAS'] }, { '2.5.4.97': [ORG_ID] }, { CN: ['Fintech SAS'] }],
    issuer: ca.certificate.subjectName,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.Extension(id_pe_qcStatements, false, encodeQcStatements({ qcCompliance: true, qcTypes: ['web'], psd2 })),
    ],
  });
  return der(cert);
}
