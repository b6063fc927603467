// Certificate -> TPP identity (RTS art. 30 and 34, ETSI TS 119 495). The chain is validated here,
// not by the TLS stack: the listener asks for a certificate without judging it (TLS knows nothing
// of QC statements), and a certificate forwarded by a proxy (RFC 9440) never met our TLS stack.

import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Name as AsnName } from '@peculiar/asn1-x509';
import {
  decodeQcStatements,
  id_etsi_qct_web,
  id_pe_qcStatements,
  type QcStatementsContent,
} from '../pki/qc-statements.ts';
import { x509 } from '../pki/x509.ts';
import type { RevocationChecker } from './bank.ts';
import { type Psd2Role, psd2RoleFromOid } from './scope-policy.ts';

export interface TppIdentity {
  /** RFC 4514 string, as compared with RFC 8705 tls_client_auth_subject_dn. */
  subjectDn: string;
  /** e.g. PSDFR-ACPR-12345; the client_id belongs to this organisation. */
  organizationIdentifier: string;
  /** The subject's organizationName (O=): the TPP's legal name, shown to the PSU. */
  organizationName?: string;
  /** x5t#S256 (RFC 8705 §3.1): base64url of the SHA-256 of the leaf DER. */
  thumbprint: string;
  roles: Psd2Role[];
  ncaName: string;
  ncaId: string;
  issuerDn: string;
  /** Hexadecimal, as the certificate encodes it. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

export type CertificateRejectionReason =
  | 'no_certificate'
  | 'malformed_certificate'
  | 'untrusted_chain'
  | 'certificate_expired'
  | 'certificate_not_yet_valid'
  | 'certificate_revoked'
  | 'revocation_unknown'
  | 'not_for_client_authentication'
  | 'not_website_authentication'
  | 'no_psd2_statement'
  | 'no_psd2_roles'
  | 'no_organization_identifier';

/**
 * The message is a public description of the failed check, in plain ASCII without quotes or
 * backslashes so it can go out as an OAuth error_description. `detail` names certificates and
 * belongs in logs only.
 */
export class CertificateRejectedError extends Error {
  readonly reason: CertificateRejectionReason;
  readonly detail: string | undefined;
  constructor(reason: CertificateRejectionReason, description: string, detail?: string) {
    super(description);
    this.name = 'CertificateRejectedError';
    this.reason = reason;
    this.detail = detail;
  }
}

export interface TppIdentityVerifierOptions {
  /** DER certificates, or a PEM bundle. */
  trustAnchors: Uint8Array[] | string;
  /**
   * CA certificates that may complete a path without being trusted themselves (a QTSP's issuing
   * CAs), for TPPs that send only their leaf, and for a TLS stack that drops the client's chain.
   */
  intermediates?: Uint8Array[] | string;
  now?: () => Date;
  revocationChecker?: RevocationChecker;
  /** Leaves whose path validation is remembered; 0 turns the cache off. */
  cacheSize?: number;
}

export interface TppIdentityVerifier {
  verify(leafDer: Uint8Array | undefined, intermediatesDer?: Uint8Array[]): Promise<TppIdentity>;
  /** For metrics: how often a path was built, and how often the cache spared it. */
  readonly stats: { readonly pathValidations: number; readonly cacheHits: number; readonly cached: number };
}

const ORGANIZATION_IDENTIFIER = '2.5.4.97';
const ORGANIZATION_NAME = '2.5.4.10';
const ID_KP_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** Leaf, at most a few intermediates, anchor: longer paths are a search that will not succeed. */
const MAX_PATH_LENGTH = 8;
/**
 * Signature checks one path search may spend. A client can send many certificates with the same
 * name and key, which would make the depth-first search exponential; real chains need a handful.
 */
const MAX_SIGNATURE_CHECKS = 32;

/** ETSI TS 119 495 §5.2.1: `PSD` + ISO 3166 country + `-` + NCA id + `-` + PSP id. */
export function parsePsd2OrganizationIdentifier(
  value: string,
): { country: string; nca: string; pspId: string } | undefined {
  const match = /^PSD([A-Z]{2})-([A-Z]{2,8})-(\S.*)$/.exec(value);
  if (!match) return undefined;
  const [, country = '', nca = '', pspId = ''] = match;
  return { country, nca, pspId };
}

export function createTppIdentityVerifier(options: TppIdentityVerifierOptions): TppIdentityVerifier {
  const anchors = parseCertificates(options.trustAnchors, 'trust anchor');
  if (anchors.length === 0) throw new Error('no trust anchor certificate was configured');
  const knownIntermediates = parseCertificates(options.intermediates ?? [], 'intermediate');
  const now = options.now ?? (() => new Date());
  const cacheSize = options.cacheSize ?? 10_000;
  // Map iteration order is insertion order: re-inserting on a hit makes the first key the least recent.
  const cache = new Map<string, CachedValidation>();
  const stats = { pathValidations: 0, cacheHits: 0, cached: 0 };

  async function verify(leafDer: Uint8Array | undefined, intermediatesDer: Uint8Array[] = []): Promise<TppIdentity> {
    if (!leafDer || leafDer.byteLength === 0) {
      throw new CertificateRejectedError('no_certificate', 'no client certificate was presented');
    }
    // Synchronous: this runs on every TPP request (the cache below is keyed by it).
    const thumbprint = createHash('sha256').update(leafDer).digest('base64url');
    const at = now();
    const hit = cache.get(thumbprint);
    if (hit) {
      stats.cacheHits++;
      cache.delete(thumbprint);
      cache.set(thumbprint, hit);
      const expired = checkValidity(hit.path, at);
      if (expired) throw expired;
      await options.revocationChecker?.check(hit.path[0] as x509.X509Certificate, hit.path[1] as x509.X509Certificate);
      return copyIdentity(hit.identity);
    }

    const leaf = parseCertificate(leafDer, 'the client certificate');
    const intermediates = intermediatesDer.map((der) => parseCertificate(der, 'a certificate of the chain'));
    stats.pathValidations++;
    const path = await validatePath(leaf, [...intermediates, ...knownIntermediates], anchors, at);
    checkClientAuthentication(leaf);
    const identity = readIdentity(leaf, thumbprint);

    if (cacheSize > 0) {
      cache.set(thumbprint, { path, identity });
      if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
      stats.cached = cache.size;
    }
    await options.revocationChecker?.check(leaf, path[1] as x509.X509Certificate);
    return copyIdentity(identity);
  }

  return { verify, stats };
}

interface CachedValidation {
  /** Leaf first, trust anchor last. */
  path: x509.X509Certificate[];
  identity: TppIdentity;
}

function parseCertificates(input: Uint8Array[] | string, what: string): x509.X509Certificate[] {
  const ders = typeof input === 'string' ? x509.PemConverter.decode(input) : input;
  return ders.map((der, i) => {
    try {
      return new x509.X509Certificate(new Uint8Array(der));
    } catch (error) {
      throw new Error(`configured ${what} #${i + 1} is not a certificate`, { cause: error });
    }
  });
}

function parseCertificate(der: Uint8Array, what: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(new Uint8Array(der));
  } catch (error) {
    throw new CertificateRejectedError(
      'malformed_certificate',
      `${what} could not be parsed as an X.509 certificate`,
      String(error),
    );
  }
}

/**
 * RFC 5280 §6 for our needs: depth-first over every issuer candidate (same name, verifying
 * signature), so a cross-certificate or a stale intermediate sent by the client does not hide a
 * good path. The first complete path's failure is reported when no path passes.
 */
async function validatePath(
  leaf: x509.X509Certificate,
  intermediates: x509.X509Certificate[],
  anchors: x509.X509Certificate[],
  at: Date,
): Promise<x509.X509Certificate[]> {
  const pool = intermediates.filter(
    (c, i) => !anchors.some((a) => a.equal(c)) && intermediates.findIndex((d) => d.equal(c)) === i,
  );
  let firstFailure: CertificateRejectedError | undefined;
  let budget = MAX_SIGNATURE_CHECKS;
  const signedBy = (subject: x509.X509Certificate, issuer: x509.X509Certificate) => {
    if (budget-- <= 0) {
      throw new CertificateRejectedError(
        'untrusted_chain',
        'the client certificate chain has too many candidate issuers to search',
        `issuer ${leaf.issuer}, ${intermediates.length} certificates supplied`,
      );
    }
    return isSignedBy(subject, issuer);
  };

  async function extend(path: x509.X509Certificate[]): Promise<x509.X509Certificate[] | undefined> {
    const current = path[path.length - 1] as x509.X509Certificate;
    for (const anchor of anchors) {
      if (anchor.subject !== current.issuer || !(await signedBy(current, anchor))) continue;
      const complete = [...path, anchor];
      const failure = checkValidity(complete, at) ?? checkIssuers(complete);
      if (!failure) return complete;
      firstFailure ??= failure;
    }
    if (path.length + 1 >= MAX_PATH_LENGTH) return undefined;
    for (const candidate of pool) {
      if (path.includes(candidate) || candidate.subject !== current.issuer) continue;
      if (!(await signedBy(current, candidate))) continue;
      const found = await extend([...path, candidate]);
      if (found) return found;
    }
    return undefined;
  }

  const path = await extend([leaf]);
  if (path) return path;
  throw (
    firstFailure ??
    new CertificateRejectedError(
      'untrusted_chain',
      'the client certificate does not chain to a trusted certificate authority with the intermediates supplied',
      `issuer ${leaf.issuer}`,
    )
  );
}

async function isSignedBy(subject: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  try {
    return await subject.verify({ publicKey: issuer, signatureOnly: true });
  } catch {
    return false;
  }
}

function checkValidity(path: x509.X509Certificate[], at: Date): CertificateRejectedError | undefined {
  for (const [i, cert] of path.entries()) {
    const which = i === 0 ? 'the client certificate' : 'a certificate authority in its chain';
    const detail = `${cert.subject}: valid from ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}, now ${at.toISOString()}`;
    if (at < cert.notBefore)
      return new CertificateRejectedError('certificate_not_yet_valid', `${which} is not valid yet`, detail);
    if (at > cert.notAfter) return new CertificateRejectedError('certificate_expired', `${which} has expired`, detail);
  }
  return undefined;
}

/**
 * Every issuer must be a CA allowed to sign certificates, within its pathLenConstraint. The trust
 * anchor is trusted as configured (RFC 5280 §6.1.1), so it is only held to the extensions it has.
 */
function checkIssuers(path: x509.X509Certificate[]): CertificateRejectedError | undefined {
  for (let i = 1; i < path.length; i++) {
    const cert = path[i] as x509.X509Certificate;
    const isAnchor = i === path.length - 1;
    const constraints = cert.getExtension(x509.BasicConstraintsExtension);
    const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
    const fail = (problem: string) =>
      new CertificateRejectedError('untrusted_chain', `a certificate in the chain ${problem}`, cert.subject);
    if (constraints ? !constraints.ca : !isAnchor) return fail('is not a certificate authority (basicConstraints)');
    // i - 1 intermediates sit between this issuer and the leaf.
    if (constraints?.pathLength !== undefined && i - 1 > constraints.pathLength) {
      return fail('exceeds its pathLenConstraint');
    }
    if (keyUsage ? !(keyUsage.usages & x509.KeyUsageFlags.keyCertSign) : !isAnchor) {
      return fail('may not sign certificates (keyUsage keyCertSign)');
    }
  }
  return undefined;
}

function checkClientAuthentication(leaf: x509.X509Certificate): void {
  const fail = (problem: string) =>
    new CertificateRejectedError('not_for_client_authentication', `the client certificate ${problem}`, leaf.subject);
  if (leaf.getExtension(x509.BasicConstraintsExtension)?.ca) throw fail('is a CA certificate');
  const keyUsage = leaf.getExtension(x509.KeyUsagesExtension);
  if (keyUsage && !(keyUsage.usages & x509.KeyUsageFlags.digitalSignature)) {
    throw fail('key usage does not include digitalSignature');
  }
  const extendedKeyUsage = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  if (extendedKeyUsage && !extendedKeyUsage.usages.includes(ID_KP_CLIENT_AUTH)) {
    throw fail('extended key usage does not include clientAuth');
  }
}

function readIdentity(leaf: x509.X509Certificate, thumbprint: string): TppIdentity {
  const qc = readQcStatements(leaf);
  if (!qc?.qcTypes?.includes(id_etsi_qct_web)) {
    throw new CertificateRejectedError(
      'not_website_authentication',
      qc?.qcTypes
        ? 'the client certificate QcType statement is not web: a QWAC is required'
        : 'the client certificate has no QcType statement: a QWAC is required',
      leaf.subject,
    );
  }
  if (!qc.psd2) {
    throw new CertificateRejectedError(
      'no_psd2_statement',
      'the client certificate has no PSD2 QC statement',
      leaf.subject,
    );
  }
  // A role counts only when its name is the one ETSI TS 119 495 gives its OID.
  const roles = qc.psd2.roles.flatMap(({ oid, name }) => {
    const role = psd2RoleFromOid(oid);
    return role !== undefined && role === name ? [role] : [];
  });
  if (roles.length === 0) {
    throw new CertificateRejectedError(
      'no_psd2_roles',
      'the client certificate PSD2 statement lists no PSD2 role whose name matches its OID',
      JSON.stringify(qc.psd2.roles),
    );
  }
  const [organizationIdentifier] = leaf.subjectName.getField(ORGANIZATION_IDENTIFIER);
  if (!organizationIdentifier) {
    throw new CertificateRejectedError(
      'no_organization_identifier',
      'the client certificate subject has no organizationIdentifier',
      leaf.subject,
    );
  }
  if (!parsePsd2OrganizationIdentifier(organizationIdentifier)) {
    throw new CertificateRejectedError(
      'no_organization_identifier',
      'the client certificate organizationIdentifier is not in the PSD2 form PSDCC-NCA-ID',
      organizationIdentifier,
    );
  }
  const [organizationName] = leaf.subjectName.getField(ORGANIZATION_NAME);
  return {
    subjectDn: rfc4514(leaf.subjectName.toArrayBuffer()),
    organizationIdentifier,
    ...(organizationName ? { organizationName } : {}),
    thumbprint,
    roles: [...new Set(roles)],
    ncaName: qc.psd2.ncaName,
    ncaId: qc.psd2.ncaId,
    issuerDn: rfc4514(leaf.issuerName.toArrayBuffer()),
    serialNumber: leaf.serialNumber,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
  };
}

function readQcStatements(leaf: x509.X509Certificate): QcStatementsContent | undefined {
  const extension = leaf.getExtension(id_pe_qcStatements);
  if (!extension) return undefined;
  try {
    return decodeQcStatements(extension.value);
  } catch (error) {
    throw new CertificateRejectedError(
      'malformed_certificate',
      'the client certificate QCStatements extension could not be decoded',
      String(error),
    );
  }
}

function copyIdentity(identity: TppIdentity): TppIdentity {
  return {
    ...identity,
    roles: [...identity.roles],
    notBefore: new Date(identity.notBefore),
    notAfter: new Date(identity.notAfter),
  };
}

// RFC 4514 §2.3: descriptors only for the attribute types its table lists; any other type is
// written as its OID with the BER of the value in hex, as Go and Java print it too.
const RFC4514_DESCRIPTORS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};

/** RFC 4514 lists RDNs from the last one encoded to the first. */
export function rfc4514(nameDer: BufferSource): string {
  const name = AsnConvert.parse(nameDer, AsnName);
  return [...name]
    .reverse()
    .map((rdn) =>
      [...rdn]
        .map(({ type, value }) => {
          const descriptor = RFC4514_DESCRIPTORS[type];
          const text = value.anyValue ? undefined : value.toString();
          if (descriptor && text !== undefined) return `${descriptor}=${escapeRfc4514(text)}`;
          return `${descriptor ?? type}=#${toHex(AsnConvert.serialize(value))}`;
        })
        .join('+'),
    )
    .join(',');
}

/**
 * The first O= of an RFC 4514 string as rfc4514() writes it (escapes undone); undefined when there
 * is none or it was written in hex. For clients stored before their legal name had a column.
 */
export function organizationNameFromDn(dn: string): string | undefined {
  // Attribute pairs split at unescaped `,` and `+`; a value runs to the next of them.
  const pair = /(?:^|[,+])([A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)=((?:\\[0-9A-Fa-f]{2}|\\.|[^,+\\])*)/g;
  for (const [, type, value = ''] of dn.matchAll(pair)) {
    if (type?.toUpperCase() !== 'O' || value.startsWith('#')) continue;
    const bytes: number[] = [];
    const encoder = new TextEncoder();
    for (const [, hex, escaped, plain] of value.matchAll(/\\([0-9A-Fa-f]{2})|\\(.)|([^\\]+)/gsu)) {
      if (hex) bytes.push(Number.parseInt(hex, 16));
      else bytes.push(...encoder.encode(escaped ?? plain ?? ''));
    }
    const text = new TextDecoder('utf-8', { fatal: false }).decode(new Uint8Array(bytes));
    return text === '' ? undefined : text;
  }
  return undefined;
}

function escapeRfc4514(value: string): string {
  return value
    .replace(/["+,;<>\\]/g, '\\$&')
    .replace(/\0/g, '\\00')
    .replace(/^[ #]/, '\\$&')
    .replace(/ $/, '\\ ');
}

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}
