// Sandbox certificate authorities: the sandbox CA signs the localhost TLS certificate and the test
// QWACs that `psd2-oauth sandbox-cert` issues, so a TPP developer trusts one file. Never used in
// production mode.
import {
  ECDSA_P256,
  exportPrivateKeyPem,
  importPrivateKeyPem,
  randomSerialNumber,
  SIGNING_ALGORITHM,
  x509,
} from './x509.ts';

export interface CertificateAuthority {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
  /**
   * What a leaf issued by this CA sends after itself: this CA when it is an intermediate, then its
   * own intermediate ancestors; never the root. Empty for a root.
   */
  chain: x509.X509Certificate[];
}

export interface IssuedCertificate {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
  certPem: string;
  keyPem: string;
}

const DAY_MS = 86_400_000;

export interface CaOptions {
  name: string;
  /** Signs the new CA; a self-signed root when absent. */
  issuer?: CertificateAuthority;
  notBefore?: Date;
  notAfter?: Date;
}

export async function createCertificateAuthority(options: CaOptions): Promise<CertificateAuthority> {
  const keys = (await globalThis.crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = options.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = options.notAfter ?? new Date(Date.now() + 10 * 365 * DAY_MS);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(true, options.issuer ? 0 : 1, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (!options.issuer) {
    const certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerialNumber(),
      name: `CN=${options.name}, O=psd2-oauth sandbox, C=FR`,
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions,
    });
    return { certificate, privateKey: keys.privateKey, chain: [] };
  }
  const issuer = options.issuer;
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: `CN=${options.name}, O=psd2-oauth sandbox, C=FR`,
    issuer: issuer.certificate.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: issuer.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  return { certificate, privateKey: keys.privateKey, chain: [certificate, ...issuer.chain] };
}

export async function loadCertificateAuthority(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  return { certificate: new x509.X509Certificate(certPem), privateKey: await importPrivateKeyPem(keyPem), chain: [] };
}

export async function exportCertificateAuthority(
  ca: CertificateAuthority,
): Promise<{ certPem: string; keyPem: string }> {
  return { certPem: ca.certificate.toString('pem'), keyPem: await exportPrivateKeyPem(ca.privateKey) };
}

/** A TLS server certificate for the sandbox listener (localhost and loopback addresses by default). */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  hostnames: string[] = ['localhost', '127.0.0.1', '::1'],
): Promise<IssuedCertificate> {
  const keys = (await globalThis.crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names = hostnames.map((value) =>
    /^[\d.]+$|:/.test(value) ? { type: 'ip' as const, value } : { type: 'dns' as const, value },
  );
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: `CN=${hostnames[0] ?? 'localhost'}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 397 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  return {
    certificate,
    privateKey: keys.privateKey,
    certPem: [certificate, ...ca.chain].map((c) => c.toString('pem')).join('\n'),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
  };
}
