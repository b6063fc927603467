// Test QWACs (ETSI EN 319 412-4/-5, TS 119 495) signed by a sandbox CA: what a TPP developer uses
// against the sandbox, and what the tests bend into every kind of bad certificate.

import { PSD2_ROLE_OIDS, type Psd2Role } from '../protocol/scope-policy.ts';
import { parsePsd2OrganizationIdentifier } from '../protocol/tpp-identity.ts';
import type { CertificateAuthority, IssuedCertificate } from './ca.ts';
import { encodeQcStatements, id_pe_qcStatements, type QcTypeName } from './qc-statements.ts';
import { ECDSA_P256, exportPrivateKeyPem, randomSerialNumber, SIGNING_ALGORITHM, x509 } from './x509.ts';

export interface QwacOptions {
  /** The TPP's legal name: the subject O, and the CN unless commonName is given. */
  name: string;
  /** `PSD` + country + `-` + NCA + `-` + id, e.g. PSDFR-ACPR-12345. */
  organizationIdentifier: string;
  roles: Psd2Role[];
  commonName?: string;
  /** Defaults to the NCA's name when known, else its identifier. */
  ncaName?: string;
  /** Defaults to country-NCA taken from the organizationIdentifier, e.g. FR-ACPR. */
  ncaId?: string;
  notBefore?: Date;
  notAfter?: Date;
  // The options below exist to make certificates that a verifier must refuse.
  /** null leaves out the QcType statement. */
  qcType?: QcTypeName | null;
  /** false leaves out the PSD2 statement. */
  psd2?: boolean;
  omitOrganizationIdentifier?: boolean;
  /** x509.KeyUsageFlags; null leaves out the extension. */
  keyUsage?: number | null;
  /** EKU OIDs; null leaves out the extension. */
  extendedKeyUsage?: string[] | null;
  /** An OCSP responder named in the Authority Information Access extension (RFC 5280 §4.2.2.1). */
  ocspUrl?: string;
  /** A CRL distribution point (RFC 5280 §4.2.1.13). */
  crlUrl?: string;
  /** Skips the organizationIdentifier format check, to issue a malformed one. */
  allowMalformedOrganizationIdentifier?: boolean;
}

export interface IssuedQwac extends IssuedCertificate {
  /** The intermediates a TLS client sends after the leaf: the leaf and the root are not in it. */
  chainPem: string;
}

const DAY_MS = 86_400_000;

const NCA_NAMES: Readonly<Record<string, string>> = {
  'FR-ACPR': 'Autorité de contrôle prudentiel et de résolution',
  'BE-NBB': 'National Bank of Belgium',
  'DE-BAFIN': 'Bundesanstalt für Finanzdienstleistungsaufsicht',
  'LU-CSSF': 'Commission de Surveillance du Secteur Financier',
  'NL-DNB': 'De Nederlandsche Bank',
};

export async function issueQwac(ca: CertificateAuthority, options: QwacOptions): Promise<IssuedQwac> {
  const orgId = parsePsd2OrganizationIdentifier(options.organizationIdentifier);
  if (!orgId && !options.allowMalformedOrganizationIdentifier) {
    throw new Error(
      `organizationIdentifier ${JSON.stringify(options.organizationIdentifier)} is not PSD<country>-<NCA>-<id>, e.g. PSDFR-ACPR-12345`,
    );
  }
  const ncaId = options.ncaId ?? (orgId ? `${orgId.country}-${orgId.nca}` : 'XX-UNKNOWN');
  const keys = (await globalThis.crypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;

  // ASN.1 order, most general first, as QTSPs encode it.
  const subject: x509.JsonName = [{ C: [orgId?.country ?? 'FR'] }, { O: [options.name] }];
  if (!options.omitOrganizationIdentifier) subject.push({ '2.5.4.97': [options.organizationIdentifier] });
  subject.push({ CN: [options.commonName ?? options.name] });

  const keyUsage = options.keyUsage === undefined ? x509.KeyUsageFlags.digitalSignature : options.keyUsage;
  const extendedKeyUsage =
    options.extendedKeyUsage === undefined
      ? [x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]
      : options.extendedKeyUsage;
  const qcType = options.qcType === undefined ? 'web' : options.qcType;

  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    new x509.Extension(
      id_pe_qcStatements,
      false,
      encodeQcStatements({
        qcCompliance: true,
        qcTypes: qcType ? [qcType] : undefined,
        psd2:
          options.psd2 === false
            ? undefined
            : {
                roles: options.roles.map((role) => ({ oid: PSD2_ROLE_OIDS[role], name: role })),
                ncaName: options.ncaName ?? NCA_NAMES[ncaId] ?? ncaId,
                ncaId,
              },
      }),
    ),
  ];
  if (keyUsage !== null) extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
  if (options.ocspUrl) extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: [options.ocspUrl] }));
  if (options.crlUrl) extensions.push(new x509.CRLDistributionPointsExtension([options.crlUrl]));
  if (extendedKeyUsage !== null) extensions.push(new x509.ExtendedKeyUsageExtension(extendedKeyUsage));

  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject,
    issuer: ca.certificate.subjectName,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY_MS),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  return {
    certificate,
    privateKey: keys.privateKey,
    certPem: certificate.toString('pem'),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    chainPem: ca.chain.map((c) => c.toString('pem')).join('\n'),
  };
}
