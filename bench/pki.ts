// One set of certificates for every server under test and every load generator: a CA, the
// 127.0.0.1/localhost TLS certificate it signs, and a TPP QWAC carrying all PSD2 roles. The files
// follow the sandbox DATA_DIR layout, so psd2-oauth adopts the CA as its sandbox CA unchanged.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificateAuthority, exportCertificateAuthority, issueServerCertificate } from '../server/pki/ca.ts';
import { issueQwac } from '../server/pki/qwac.ts';
import { sandboxPaths } from '../server/pki/sandbox-files.ts';
import { rfc4514 } from '../server/protocol/tpp-identity.ts';

export interface BenchPki {
  /** Trusted by the load generators (server side) and by the servers (client side). */
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  tppCertPem: string;
  tppKeyPem: string;
  /** RFC 4514, as psd2-oauth computes it: the value of `tls_client_auth_subject_dn`. */
  tppSubjectDn: string;
}

/** Writes the PKI into `dir` (sandbox layout plus tpp-*.pem and pki.json) and returns it. */
export async function createBenchPki(dir: string): Promise<BenchPki> {
  mkdirSync(dir, { recursive: true });
  const ca = await createCertificateAuthority({ name: 'psd2-oauth bench CA' });
  const server = await issueServerCertificate(ca, ['localhost', '127.0.0.1']);
  const tpp = await issueQwac(ca, {
    name: 'Bench TPP',
    organizationIdentifier: 'PSDFR-ACPR-BENCH1',
    roles: ['PSP_AS', 'PSP_PI', 'PSP_AI', 'PSP_IC'],
  });
  const { certPem, keyPem } = await exportCertificateAuthority(ca);
  const paths = sandboxPaths(dir);
  const pki: BenchPki = {
    caPem: certPem,
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    tppCertPem: tpp.certPem,
    tppKeyPem: tpp.keyPem,
    tppSubjectDn: rfc4514(tpp.certificate.subjectName.toArrayBuffer()),
  };
  writeFileSync(paths.caCert, certPem);
  writeFileSync(paths.caKey, keyPem, { mode: 0o600 });
  writeFileSync(paths.tlsCert, server.certPem);
  writeFileSync(paths.tlsKey, server.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'pki.json'), JSON.stringify(pki), { mode: 0o600 });
  return pki;
}

export function loadBenchPki(dir: string): BenchPki {
  return JSON.parse(readFileSync(join(dir, 'pki.json'), 'utf8')) as BenchPki;
}
