// `psd2-oauth inspect-cert FILE`: what the server sees in a TPP's certificate and which check it
// fails. The verdict is the server's own: the certificate goes through the same TppIdentityVerifier
// (server/protocol/tpp-identity.ts), built from the same TRUST_ANCHORS, INTERMEDIATE_CERTS and, in
// sandbox mode, the sandbox CA. The rest of the output only describes the certificate. Needs no
// database and changes nothing: in sandbox mode a missing sandbox CA is not created.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, settings } from '../config.ts';
import { decodeQcStatements, id_pe_qcStatements, QC_TYPE_OIDS } from '../pki/qc-statements.ts';
import { createRevocationChecker, type RevocationStatus } from '../pki/revocation.ts';
import { sandboxPaths } from '../pki/sandbox-files.ts';
import { x509 } from '../pki/x509.ts';
import {
  CertificateRejectedError,
  createTppIdentityVerifier,
  parsePsd2OrganizationIdentifier,
  rfc4514,
  type TppIdentity,
} from '../protocol/tpp-identity.ts';
import { readSettingFile } from '../startup.ts';
import { type Command, keyValues } from './command.ts';
import { DataError, EXIT, UsageError } from './usage.ts';

const ORGANIZATION_IDENTIFIER = '2.5.4.97';

/** Short names as `openssl x509 -subject` prints them (OpenSSL's default name table). */
const OPENSSL_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'street',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.15': 'businessCategory',
  '2.5.4.42': 'GN',
  '2.5.4.97': 'organizationIdentifier',
  '1.3.6.1.4.1.311.60.2.1.3': 'jurisdictionC',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
};

const EKU_NAMES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
};

const KEY_USAGES: [number, string][] = [
  [x509.KeyUsageFlags.digitalSignature, 'digitalSignature'],
  [x509.KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
  [x509.KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
  [x509.KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [x509.KeyUsageFlags.keyAgreement, 'keyAgreement'],
  [x509.KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [x509.KeyUsageFlags.cRLSign, 'cRLSign'],
];

/** `openssl x509 -noout -subject` (OpenSSL 3, default -nameopt): RDNs in encoded order. */
export function opensslDn(name: x509.Name): string {
  return name
    .toJSON()
    .map((rdn) =>
      Object.entries(rdn)
        .flatMap(([type, values]) => values.map((v) => `${OPENSSL_NAMES[type] ?? type} = ${v}`))
        .join(' + '),
    )
    .join(', ');
}

/**
 * The organizationIdentifier as ETSI EN 319 412-1 §5.1.4 writes it: a 3-letter scheme, a country,
 * `-`, a reference. The server accepts the PSD scheme only (TS 119 495 §5.2.1); the legacy ones
 * (NTR, VAT, LEI, ...) are parsed here so that the operator sees why one is refused.
 */
export function parseOrganizationIdentifier(value: string) {
  const psd2 = parsePsd2OrganizationIdentifier(value);
  if (psd2) return { value, scheme: 'PSD', country: psd2.country, nca: psd2.nca, id: psd2.pspId, psd2: true };
  const match = /^([A-Z]{3})([A-Z]{2})-(.+)$/.exec(value);
  return {
    value,
    scheme: match?.[1] ?? null,
    country: match?.[2] ?? null,
    nca: null,
    id: match?.[3] ?? null,
    psd2: false,
  };
}

function readCertificates(path: string, what: string): Uint8Array[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new DataError(`${what} ${path} cannot be read: ${(error as Error).message}`);
  }
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const ders = x509.PemConverter.decode(text).map((der) => new Uint8Array(der));
    if (ders.length === 0) throw new DataError(`${what} ${path} holds no PEM certificate`);
    return ders;
  }
  return [new Uint8Array(bytes)];
}

export const inspectCertCommand: Command = {
  name: 'inspect-cert',
  summary: 'what the server sees in a TPP certificate (PEM or DER) and which check refuses it',
  action: {
    summary: 'what the server sees in a TPP certificate (PEM or DER) and which check refuses it',
    synopsis: 'FILE [--chain FILE] [--revocation]',
    positionals: ['FILE'],
    description: [
      "Runs the server's own client-certificate verifier on FILE (the leaf first if FILE is a PEM bundle;",
      'the other certificates of the bundle and those of --chain are the chain the TPP sends) against',
      'TRUST_ANCHORS, INTERMEDIATE_CERTS and, with MODE=sandbox, the sandbox CA of DATA_DIR. Prints the',
      'subject DN (RFC 4514, as tls_client_auth_subject_dn is compared, and as openssl prints it), the',
      'organizationIdentifier, the QC statements, key usages, validity and the verdict with the failed check.',
      'Revocation is "not checked" unless --revocation asks the OCSP responder or CRL the certificate names.',
      'Exit 0: the server would accept the certificate; 65: it would refuse it. Changes nothing.',
    ].join('\n'),
    options: {
      chain: { type: 'string' },
      revocation: { type: 'boolean', default: false },
    },
    async run(ctx) {
      const [file = ''] = ctx.positionals;
      const [leafDer, ...bundled] = readCertificates(resolve(file), 'FILE');
      const chainFile = typeof ctx.values.chain === 'string' ? ctx.values.chain : undefined;
      if (ctx.values.chain === '') throw new UsageError('--chain FILE needs a file');
      const chainDer = [...bundled, ...(chainFile ? readCertificates(resolve(chainFile), '--chain') : [])];

      let leaf: x509.X509Certificate;
      try {
        leaf = new x509.X509Certificate(new Uint8Array(leafDer as Uint8Array));
      } catch (error) {
        throw new DataError(`FILE is not an X.509 certificate: ${(error as Error).message}`);
      }

      // The anchors as server/main.ts loads them.
      const env = ctx.io.env;
      const storage = ctx.storage();
      const anchors: string[] = [];
      if (env.TRUST_ANCHORS?.trim()) anchors.push(readSettingFile('TRUST_ANCHORS', resolve(env.TRUST_ANCHORS.trim())));
      const sandboxCa = sandboxPaths(storage.dataDir).caCert;
      if (storage.mode === 'sandbox' && existsSync(sandboxCa)) anchors.push(readSettingFile('DATA_DIR', sandboxCa));
      const intermediates = env.INTERMEDIATE_CERTS?.trim()
        ? readSettingFile('INTERMEDIATE_CERTS', resolve(env.INTERMEDIATE_CERTS.trim()))
        : undefined;
      if (anchors.length === 0) {
        throw new UsageError(
          storage.mode === 'sandbox'
            ? 'no trust anchor: set TRUST_ANCHORS, or start the sandbox once so that DATA_DIR holds its CA'
            : 'TRUST_ANCHORS is required in production mode',
        );
      }

      // With --revocation, the server's REVOCATION_POLICY decides what an unknown status does (as
      // server/config.ts defaults it); the status itself is asked once, and the verifier reuses it
      // from the checker's cache.
      const revocation = ctx.values.revocation === true;
      const policy = env.REVOCATION_POLICY?.trim() || (storage.mode === 'production' ? 'hard-fail' : 'soft-fail');
      if (policy !== 'hard-fail' && policy !== 'soft-fail' && policy !== 'off') {
        throw new ConfigError(`REVOCATION_POLICY must be hard-fail, soft-fail or off, not ${JSON.stringify(policy)}`);
      }
      const checker = revocation
        ? createRevocationChecker({
            policy: policy === 'off' ? 'soft-fail' : policy,
            maxCacheSeconds: 60,
            timeoutMs: revocationTimeout(env.REVOCATION_TIMEOUT_MS),
            logger: { warn: () => undefined },
          })
        : undefined;
      let revocationStatus: RevocationStatus | undefined;
      if (checker) {
        const issuer = [
          ...chainDer,
          ...(intermediates ? x509.PemConverter.decode(intermediates) : []),
          ...x509.PemConverter.decode(anchors.join('\n')),
        ]
          .map((der) => parseOrUndefined(der))
          .find((c) => c !== undefined && c.subject === leaf.issuer);
        revocationStatus = issuer
          ? await checker.status(leaf, issuer)
          : { status: 'unknown', reason: 'the issuer of the certificate is not among those given', until: 0 };
      }

      // The verdict: the server's verifier, run once, without its cache.
      const verifier = createTppIdentityVerifier({
        trustAnchors: anchors.join('\n'),
        intermediates,
        cacheSize: 0,
        revocationChecker: policy === 'off' ? undefined : checker,
      });
      let identity: TppIdentity | undefined;
      let rejection: CertificateRejectedError | undefined;
      try {
        identity = await verifier.verify(leafDer, chainDer);
      } catch (error) {
        if (!(error instanceof CertificateRejectedError)) throw error;
        rejection = error;
      }

      const report = describe(leaf, identity, rejection, revocationStatus);
      ctx.print(report, () => human(report));
      return rejection ? EXIT.data : EXIT.ok;
    },
  },
};

function parseOrUndefined(der: ArrayBuffer | Uint8Array): x509.X509Certificate | undefined {
  try {
    return new x509.X509Certificate(new Uint8Array(der));
  } catch {
    return undefined;
  }
}

function describe(
  leaf: x509.X509Certificate,
  identity: TppIdentity | undefined,
  rejection: CertificateRejectedError | undefined,
  revocation: RevocationStatus | undefined,
) {
  const [orgId] = leaf.subjectName.getField(ORGANIZATION_IDENTIFIER);
  let qc: ReturnType<typeof decodeQcStatements> | undefined;
  let qcError: string | undefined;
  const qcExtension = leaf.getExtension(id_pe_qcStatements);
  if (qcExtension) {
    try {
      qc = decodeQcStatements(qcExtension.value);
    } catch (error) {
      qcError = String(error);
    }
  }
  const qcTypeNames = Object.fromEntries(Object.entries(QC_TYPE_OIDS).map(([name, oid]) => [oid, name]));
  const keyUsage = leaf.getExtension(x509.KeyUsagesExtension);
  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  return {
    verdict: rejection ? 'refused' : 'accepted',
    failed_check: rejection?.reason ?? null,
    reason: rejection?.message ?? null,
    reason_detail: rejection?.detail ?? null,
    subject_dn: rfc4514(leaf.subjectName.toArrayBuffer()),
    subject_openssl: opensslDn(leaf.subjectName),
    issuer_dn: rfc4514(leaf.issuerName.toArrayBuffer()),
    serial_number: leaf.serialNumber,
    not_before: leaf.notBefore.toISOString(),
    not_after: leaf.notAfter.toISOString(),
    thumbprint_s256: identity?.thumbprint ?? null,
    organization_identifier: orgId === undefined ? null : parseOrganizationIdentifier(orgId),
    qc_statements: qcExtension
      ? qc
        ? {
            qc_compliance: qc.qcCompliance,
            qc_types: qc.qcTypes?.map((oid) => qcTypeNames[oid] ?? oid) ?? null,
            psd2: qc.psd2
              ? {
                  roles: qc.psd2.roles.map(({ oid, name }) => ({ oid, name })),
                  nca_name: qc.psd2.ncaName,
                  nca_id: qc.psd2.ncaId,
                }
              : null,
            statement_ids: qc.statementIds,
          }
        : { error: qcError ?? 'undecodable' }
      : null,
    roles_accepted: identity?.roles ?? null,
    key_usage: keyUsage ? KEY_USAGES.filter(([flag]) => keyUsage.usages & flag).map(([, name]) => name) : null,
    extended_key_usage: eku ? eku.usages.map((oid) => EKU_NAMES[String(oid)] ?? String(oid)) : null,
    revocation: revocation
      ? {
          status: revocation.status,
          source: 'source' in revocation ? revocation.source : null,
          revoked_at: revocation.status === 'revoked' ? revocation.revokedAt.toISOString() : null,
          reason: revocation.status === 'unknown' ? revocation.reason : null,
        }
      : { status: 'not checked' },
  };
}

type Report = ReturnType<typeof describe>;

function human(r: Report): string {
  const qc = r.qc_statements;
  const org = r.organization_identifier;
  return keyValues({
    verdict: r.verdict === 'accepted' ? 'accepted' : `refused (${r.failed_check}: ${r.reason})`,
    ...(r.reason_detail ? { detail: r.reason_detail } : {}),
    subject_dn: r.subject_dn,
    subject_openssl: r.subject_openssl,
    issuer_dn: r.issuer_dn,
    serial_number: r.serial_number,
    validity: `${r.not_before} .. ${r.not_after}`,
    organization_identifier: org
      ? `${org.value} (scheme ${org.scheme ?? '?'}, country ${org.country ?? '?'}, NCA ${org.nca ?? '-'}, id ${org.id ?? '?'}${org.psd2 ? '' : ', not the PSD2 form'})`
      : null,
    qc_compliance: qc && 'qc_compliance' in qc ? qc.qc_compliance : null,
    qc_types: qc && 'qc_types' in qc ? qc.qc_types : null,
    psd2_roles: qc && 'psd2' in qc && qc.psd2 ? qc.psd2.roles.map((x) => x.name) : null,
    nca: qc && 'psd2' in qc && qc.psd2 ? `${qc.psd2.nca_name} (${qc.psd2.nca_id})` : null,
    key_usage: r.key_usage,
    extended_key_usage: r.extended_key_usage,
    revocation: r.revocation.status,
  });
}

/** REVOCATION_TIMEOUT_MS validated as the server validates it (server/config.ts). */
function revocationTimeout(value: string | undefined): number {
  const parsed = settings.shape.REVOCATION_TIMEOUT_MS.safeParse(value?.trim() || undefined);
  if (!parsed.success) {
    throw new ConfigError(`REVOCATION_TIMEOUT_MS must be a whole number of milliseconds from 100 to 60000`);
  }
  return parsed.data;
}
