// QWAC revocation (RTS art. 34; issue 12, item 7): the RevocationChecker the TPP identity verifier
// calls once the chain is valid. OCSP first (RFC 6960: the responder named by the leaf's AIA), the
// CRL of the leaf's CRL distribution points as the fallback (RFC 5280 §6.3). Answers are verified
// (signature by the issuer or by a responder the issuer delegated with id-kp-OCSPSigning; validity
// window; nonce when the responder echoes one) and cached by the leaf's thumbprint until their
// nextUpdate, bounded by `maxCacheSeconds`. URLs come only from the validated leaf, plain HTTP(S)
// without redirects, with a size limit; one deadline (REVOCATION_TIMEOUT_MS) bounds the whole check,
// every responder it asks included, so that it is also the most a check adds to a TPP's request.
import { constants, createHash, createPublicKey, randomBytes, verify as verifySignature } from 'node:crypto';
import {
  BasicOCSPResponse,
  CertID,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
  Nonce,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  type SingleResponse,
  TBSRequest,
} from '@peculiar/asn1-ocsp';
import { id_mgf1, RsaSaPssParams } from '@peculiar/asn1-rsa';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, Extension, type Name } from '@peculiar/asn1-x509';
import type { RevocationChecker } from '../protocol/bank.ts';
import { CertificateRejectedError } from '../protocol/tpp-identity.ts';
import { x509 } from './x509.ts';

export type RevocationPolicy = 'hard-fail' | 'soft-fail';

export type RevocationStatus =
  | { status: 'good'; source: 'ocsp' | 'crl'; until: number }
  | { status: 'revoked'; source: 'ocsp' | 'crl'; until: number; revokedAt: Date }
  | { status: 'unknown'; reason: string; until: number };

export interface RevocationCheckerOptions {
  policy: RevocationPolicy;
  /** Upper bound of how long an answer is trusted, even if its nextUpdate is later. */
  maxCacheSeconds: number;
  /** How long a failure (no answer, unverifiable answer) is remembered before asking again. */
  failureCacheSeconds?: number;
  /** The deadline of one check, all its fetches included (REVOCATION_TIMEOUT_MS); default 5 s. */
  timeoutMs?: number;
  maxOcspBytes?: number;
  maxCrlBytes?: number;
  /** soft-fail logs here what hard-fail would have refused. */
  logger: { warn(obj: object, msg: string): void };
  now?: () => number;
  /** Each check's outcome, for the revocation-check counter of the metrics. */
  onOutcome?: (outcome: RevocationStatus['status']) => void;
}

export interface RevocationService extends RevocationChecker {
  /** The status of a leaf, without the policy applied (inspect-cert, tests). */
  status(leaf: x509.X509Certificate, issuer: x509.X509Certificate): Promise<RevocationStatus>;
}

const ID_SHA1 = '1.3.14.3.2.26';
/** Tolerated clock difference with responders (RFC 6960 §4.2.2.1 leaves it to local policy). */
const CLOCK_SKEW_MS = 5 * 60_000;

export function createRevocationChecker(options: RevocationCheckerOptions): RevocationService {
  const now = options.now ?? Date.now;
  const maxMs = options.maxCacheSeconds * 1000;
  const failureMs = Math.min((options.failureCacheSeconds ?? 10) * 1000, maxMs);
  const timeoutMs = options.timeoutMs ?? 5000;
  const cache = new Map<string, RevocationStatus>();
  const inFlight = new Map<string, Promise<RevocationStatus>>();
  const CACHE_SIZE = 10_000;

  async function lookup(leaf: x509.X509Certificate, issuer: x509.X509Certificate): Promise<RevocationStatus> {
    const at = now();
    const reasons: string[] = [];
    const fetchLimited = limitedFetcher(timeoutMs);
    const ocspUrls = accessUrls(leaf);
    for (const url of ocspUrls.slice(0, 2)) {
      try {
        const answer = await queryOcsp(url, leaf, issuer, at, options.maxOcspBytes ?? 64 * 1024, fetchLimited);
        if (answer.status !== 'unknown') return bound(answer, at);
        reasons.push(answer.reason);
      } catch (err) {
        reasons.push(`OCSP ${hostOf(url)}: ${messageOf(err)}`);
      }
    }
    for (const url of distributionPointUrls(leaf).slice(0, 2)) {
      try {
        return bound(await queryCrl(url, leaf, issuer, at, options.maxCrlBytes ?? 10 * 1024 * 1024, fetchLimited), at);
      } catch (err) {
        reasons.push(`CRL ${hostOf(url)}: ${messageOf(err)}`);
      }
    }
    if (reasons.length === 0) reasons.push('the certificate names no OCSP responder and no CRL');
    return { status: 'unknown', reason: reasons.join('; '), until: at + failureMs };
  }

  const bound = (answer: RevocationStatus, at: number): RevocationStatus => ({
    ...answer,
    until: Math.min(answer.until, at + maxMs),
  });

  async function status(leaf: x509.X509Certificate, issuer: x509.X509Certificate): Promise<RevocationStatus> {
    const key = Buffer.from(await leaf.getThumbprint('SHA-256')).toString('base64url');
    const cached = cache.get(key);
    if (cached && cached.until > now()) return cached;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = lookup(leaf, issuer).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    const answer = await pending;
    if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
    cache.set(key, answer);
    return answer;
  }

  return {
    status,
    async check(leaf, issuer) {
      const answer = await status(leaf, issuer);
      options.onOutcome?.(answer.status);
      if (answer.status === 'good') return;
      if (answer.status === 'revoked') {
        throw new CertificateRejectedError(
          'certificate_revoked',
          `the client certificate is revoked (${answer.source === 'ocsp' ? 'OCSP' : 'CRL'})`,
          `revoked at ${answer.revokedAt.toISOString()}: ${leaf.subject}`,
        );
      }
      if (options.policy === 'soft-fail') {
        options.logger.warn(
          { subject: leaf.subject, serialNumber: leaf.serialNumber, reason: answer.reason },
          'revocation status unknown: accepted (REVOCATION_POLICY=soft-fail)',
        );
        return;
      }
      throw new CertificateRejectedError(
        'revocation_unknown',
        `the revocation status of the client certificate is unknown: ${publicText(answer.reason)}`,
        `${leaf.subject}: ${answer.reason}`,
      );
    },
  };
}

/** The OCSP responder URLs of the leaf's Authority Information Access (RFC 5280 §4.2.2.1). */
export function accessUrls(cert: x509.X509Certificate): string[] {
  const aia = cert.getExtension(x509.AuthorityInfoAccessExtension);
  return (aia?.ocsp ?? [])
    .filter((n) => n.type === 'url')
    .map((n) => n.value)
    .filter(isHttp);
}

/** The HTTP(S) URLs of the leaf's CRL distribution points (RFC 5280 §4.2.1.13). */
export function distributionPointUrls(cert: x509.X509Certificate): string[] {
  const cdp = cert.getExtension(x509.CRLDistributionPointsExtension);
  const urls: string[] = [];
  for (const point of cdp?.distributionPoints ?? []) {
    for (const name of point.distributionPoint?.fullName ?? []) {
      if (name.uniformResourceIdentifier && isHttp(name.uniformResourceIdentifier)) {
        urls.push(name.uniformResourceIdentifier);
      }
    }
  }
  return urls;
}

function isHttp(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

type Fetcher = (
  url: string,
  init: { method: string; body?: Uint8Array; type?: string },
  maxBytes: number,
) => Promise<Uint8Array>;

/**
 * fetch with one deadline for every call (from now: one check's budget), no redirects (a redirect
 * leads to a URL the certificate did not name), a size cap.
 */
function limitedFetcher(timeoutMs: number): Fetcher {
  const signal = AbortSignal.timeout(timeoutMs);
  return async (url, init, maxBytes) => {
    try {
      return await fetchWithin(url, init, maxBytes, signal);
    } catch (err) {
      if (signal.aborted) throw new Error(`no answer within ${timeoutMs} ms (REVOCATION_TIMEOUT_MS)`);
      throw err;
    }
  };
}

async function fetchWithin(
  url: string,
  init: Parameters<Fetcher>[1],
  maxBytes: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const response = await fetch(url, {
    method: init.method,
    body: init.body as BodyInit | undefined,
    headers: init.type ? { 'content-type': init.type } : {},
    redirect: 'error',
    signal,
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await response.body?.cancel();
    throw new Error(`response larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (;;) {
    const next = await reader?.read();
    if (!next || next.done) break;
    size += next.value.byteLength;
    if (size > maxBytes) {
      await reader?.cancel();
      throw new Error(`response larger than ${maxBytes} bytes`);
    }
    chunks.push(next.value);
  }
  return Buffer.concat(chunks);
}

/** The issuer's key hash: SHA-1 of the subjectPublicKey BIT STRING's value (RFC 6960 §4.1.1). */
function issuerKeyHash(issuer: x509.X509Certificate, algorithm = 'sha1'): Buffer {
  const spki = AsnConvert.parse(issuer.rawData, Certificate).tbsCertificate.subjectPublicKeyInfo;
  return createHash(algorithm).update(new Uint8Array(spki.subjectPublicKey)).digest();
}

function issuerNameHash(issuer: x509.X509Certificate, algorithm = 'sha1'): Buffer {
  const name = AsnConvert.parse(issuer.rawData, Certificate).tbsCertificate.subject;
  return createHash(algorithm)
    .update(new Uint8Array(AsnConvert.serialize(name)))
    .digest();
}

const HASH_OIDS: Readonly<Record<string, string>> = {
  [ID_SHA1]: 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

function serialOf(cert: x509.X509Certificate): Buffer {
  return Buffer.from(new Uint8Array(AsnConvert.parse(cert.rawData, Certificate).tbsCertificate.serialNumber));
}

/** Integer bytes compared as integers: a leading zero octet does not make another serial. */
function sameSerial(a: ArrayBuffer | Uint8Array, b: ArrayBuffer | Uint8Array): boolean {
  const strip = (x: Uint8Array) => {
    let i = 0;
    while (i < x.length - 1 && x[i] === 0) i++;
    return Buffer.from(x.subarray(i));
  };
  return strip(new Uint8Array(a)).equals(strip(new Uint8Array(b)));
}

async function queryOcsp(
  url: string,
  leaf: x509.X509Certificate,
  issuer: x509.X509Certificate,
  at: number,
  maxBytes: number,
  fetchLimited: Fetcher,
): Promise<RevocationStatus> {
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: ID_SHA1, parameters: null }),
    issuerNameHash: new OctetString(issuerNameHash(issuer)),
    issuerKeyHash: new OctetString(issuerKeyHash(issuer)),
    serialNumber: new Uint8Array(serialOf(leaf)).buffer,
  });
  const nonce = randomBytes(16);
  const request = new OCSPRequest({
    tbsRequest: new TBSRequest({
      requestList: [new Request({ reqCert: certId })],
      // RFC 8954: the nonce extension's value is an OCTET STRING of 1 to 32 octets.
      requestExtensions: [
        new Extension({
          extnID: id_pkix_ocsp_nonce,
          critical: false,
          extnValue: new OctetString(AsnConvert.serialize(new Nonce(nonce))),
        }),
      ],
    }),
  });
  const body = await fetchLimited(
    url,
    { method: 'POST', body: new Uint8Array(AsnConvert.serialize(request)), type: 'application/ocsp-request' },
    maxBytes,
  );
  const where = `OCSP ${hostOf(url)}`;
  const response = AsnConvert.parse(body, OCSPResponse);
  if (response.responseStatus !== OCSPResponseStatus.successful) {
    return {
      status: 'unknown',
      reason: `${where}: ${OCSPResponseStatus[response.responseStatus] ?? 'error'}`,
      until: 0,
    };
  }
  if (response.responseBytes?.responseType !== id_pkix_ocsp_basic) throw new Error('not a basic OCSP response');
  const basic = AsnConvert.parse(response.responseBytes.response, BasicOCSPResponse);
  const signer = responseSigner(basic, issuer, at);
  if (!signer) return { status: 'unknown', reason: `${where}: signed by a key the issuer did not authorise`, until: 0 };
  const tbs = basic.tbsResponseDataRaw ?? AsnConvert.serialize(basic.tbsResponseData);
  const unsupported = unsupportedSignature(basic.signatureAlgorithm);
  if (unsupported)
    return { status: 'unknown', reason: `${where}: unsupported response signature: ${unsupported}`, until: 0 };
  if (!verifiesWith(signer, basic.signatureAlgorithm, tbs, basic.signature)) {
    return { status: 'unknown', reason: `${where}: the response signature does not verify`, until: 0 };
  }
  const echoed = basic.tbsResponseData.responseExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
  if (echoed) {
    const value = Buffer.from(new Uint8Array(AsnConvert.parse(echoed.extnValue.buffer, Nonce).buffer));
    // Some responders echo the raw octets rather than the OCTET STRING: accept either, nothing else.
    if (!value.equals(nonce) && !Buffer.from(new Uint8Array(echoed.extnValue.buffer)).equals(nonce)) {
      return { status: 'unknown', reason: `${where}: the response answers another request (nonce)`, until: 0 };
    }
  }
  const single = basic.tbsResponseData.responses.find((r) => matches(r, leaf, issuer));
  if (!single) return { status: 'unknown', reason: `${where}: no answer for this certificate`, until: 0 };
  const thisUpdate = single.thisUpdate.getTime();
  if (thisUpdate > at + CLOCK_SKEW_MS)
    return { status: 'unknown', reason: `${where}: response from the future`, until: 0 };
  const nextUpdate = single.nextUpdate?.getTime();
  if (nextUpdate !== undefined && nextUpdate < at - CLOCK_SKEW_MS) {
    return { status: 'unknown', reason: `${where}: expired response (nextUpdate passed)`, until: 0 };
  }
  // Without nextUpdate (RFC 6960 §4.2.2.1: newer information is always available), the answer is
  // used until the checker's bound only; without an echoed nonce it must at least be recent.
  if (!echoed && nextUpdate === undefined && thisUpdate < at - CLOCK_SKEW_MS) {
    return { status: 'unknown', reason: `${where}: stale response without nonce or nextUpdate`, until: 0 };
  }
  const until = nextUpdate ?? Number.POSITIVE_INFINITY;
  if (single.certStatus.revoked) {
    return { status: 'revoked', source: 'ocsp', until, revokedAt: single.certStatus.revoked.revocationTime };
  }
  if (single.certStatus.good !== undefined) return { status: 'good', source: 'ocsp', until };
  return { status: 'unknown', reason: `${where}: the responder does not know this certificate`, until: 0 };
}

function matches(single: SingleResponse, leaf: x509.X509Certificate, issuer: x509.X509Certificate): boolean {
  const algorithm = HASH_OIDS[single.certID.hashAlgorithm.algorithm];
  if (!algorithm) return false;
  return (
    sameSerial(single.certID.serialNumber, serialOf(leaf)) &&
    Buffer.from(new Uint8Array(single.certID.issuerNameHash.buffer)).equals(issuerNameHash(issuer, algorithm)) &&
    Buffer.from(new Uint8Array(single.certID.issuerKeyHash.buffer)).equals(issuerKeyHash(issuer, algorithm))
  );
}

/**
 * The certificate whose key must have signed the response (RFC 6960 §4.2.2.2): the issuer itself,
 * or a delegated responder certificate, included in the response, issued by the issuer, valid now,
 * with id-kp-OCSPSigning. Undefined for anything else.
 */
function responseSigner(
  basic: BasicOCSPResponse,
  issuer: x509.X509Certificate,
  at: number,
): x509.X509Certificate | undefined {
  const { responderID } = basic.tbsResponseData;
  const names = (cert: x509.X509Certificate) => {
    if (responderID.byKey) return Buffer.from(new Uint8Array(responderID.byKey.buffer)).equals(issuerKeyHash(cert));
    if (responderID.byName) {
      const subject = AsnConvert.parse(cert.rawData, Certificate).tbsCertificate.subject;
      return Buffer.from(AsnConvert.serialize(subject)).equals(
        Buffer.from(AsnConvert.serialize(responderID.byName as Name)),
      );
    }
    return false;
  };
  if (names(issuer)) return issuer;
  for (const asn of basic.certs ?? []) {
    const cert = new x509.X509Certificate(AsnConvert.serialize(asn));
    if (!names(cert)) continue;
    if (cert.issuer !== issuer.subject) continue;
    if (cert.notBefore.getTime() > at || cert.notAfter.getTime() < at) continue;
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    if (!eku?.usages.includes(id_kp_OCSPSigning)) continue;
    const tbs = AsnConvert.serialize(AsnConvert.parse(cert.rawData, Certificate).tbsCertificate);
    const parsed = AsnConvert.parse(cert.rawData, Certificate);
    if (!verifiesWith(issuer, parsed.signatureAlgorithm, tbs, parsed.signatureValue)) continue;
    return cert;
  }
  return undefined;
}

const SIGNATURE_HASHES: Readonly<Record<string, { hash: string | null; pss?: boolean }>> = {
  '1.2.840.113549.1.1.5': { hash: 'sha1' },
  '1.2.840.113549.1.1.11': { hash: 'sha256' },
  '1.2.840.113549.1.1.12': { hash: 'sha384' },
  '1.2.840.113549.1.1.13': { hash: 'sha512' },
  '1.2.840.113549.1.1.10': { hash: 'sha256', pss: true },
  '1.2.840.10045.4.1': { hash: 'sha1' },
  '1.2.840.10045.4.3.2': { hash: 'sha256' },
  '1.2.840.10045.4.3.3': { hash: 'sha384' },
  '1.2.840.10045.4.3.4': { hash: 'sha512' },
  '1.3.101.112': { hash: null },
};

/**
 * Why a signature algorithm cannot be verified here, or undefined when it can. RSASSA-PSS is verified
 * with the parameters it names (RFC 4055 §3.1: hash, salt length; default SHA-1 and 20), as long as
 * MGF1 uses the same hash as the digest (node:crypto's PSS has no separate MGF1 hash) and the
 * trailer field is 1; other parameters are refused by name rather than failing as "does not verify".
 */
function unsupportedSignature(algorithm: AlgorithmIdentifier): string | undefined {
  const known = SIGNATURE_HASHES[algorithm.algorithm];
  if (!known) return `the signature algorithm ${algorithm.algorithm} is not supported`;
  if (!known.pss) return undefined;
  const pss = pssParameters(algorithm);
  return typeof pss === 'string' ? pss : undefined;
}

function pssParameters(algorithm: AlgorithmIdentifier): { hash: string; saltLength: number } | string {
  let params: RsaSaPssParams;
  try {
    params = algorithm.parameters ? AsnConvert.parse(algorithm.parameters, RsaSaPssParams) : new RsaSaPssParams();
  } catch {
    return 'RSASSA-PSS with unreadable parameters';
  }
  const hash = HASH_OIDS[params.hashAlgorithm.algorithm];
  if (!hash) return `RSASSA-PSS with the hash ${params.hashAlgorithm.algorithm} is not supported`;
  if (params.maskGenAlgorithm.algorithm !== id_mgf1) return 'RSASSA-PSS with a mask generation other than MGF1';
  let mgfHash: string | undefined;
  try {
    const inner = params.maskGenAlgorithm.parameters;
    mgfHash = inner ? HASH_OIDS[AsnConvert.parse(inner, AlgorithmIdentifier).algorithm] : undefined;
  } catch {
    mgfHash = undefined;
  }
  if (mgfHash !== hash) {
    return `RSASSA-PSS with MGF1-${mgfHash ?? 'unknown'} and ${hash} is not supported (MGF1 must use the signature's hash)`;
  }
  if (params.trailerField !== 1) return 'RSASSA-PSS with a trailer field other than 1';
  return { hash, saltLength: params.saltLength };
}

/** An X.509-style signature (DER ECDSA, PKCS #1 v1.5 or PSS, Ed25519) by `cert`'s key over `data`. */
function verifiesWith(
  cert: x509.X509Certificate,
  algorithm: AlgorithmIdentifier,
  data: ArrayBuffer | Uint8Array,
  signature: ArrayBuffer,
): boolean {
  const known = SIGNATURE_HASHES[algorithm.algorithm];
  if (!known || unsupportedSignature(algorithm)) return false;
  try {
    const key = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
    const input = new Uint8Array(data);
    const sig = new Uint8Array(signature);
    if (known.pss) {
      const { hash, saltLength } = pssParameters(algorithm) as { hash: string; saltLength: number };
      return verifySignature(hash, input, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, sig);
    }
    return verifySignature(known.hash, input, key, sig);
  } catch {
    return false;
  }
}

async function queryCrl(
  url: string,
  leaf: x509.X509Certificate,
  issuer: x509.X509Certificate,
  at: number,
  maxBytes: number,
  fetchLimited: Fetcher,
): Promise<RevocationStatus> {
  const body = await fetchLimited(url, { method: 'GET' }, maxBytes);
  const text = Buffer.from(body).toString('latin1');
  const crl = text.includes('-----BEGIN') ? new x509.X509Crl(text) : new x509.X509Crl(new Uint8Array(body));
  if (crl.issuer !== issuer.subject) throw new Error('issued by another CA');
  if (!(await crl.verify({ publicKey: issuer }))) throw new Error('the signature does not verify');
  if (crl.thisUpdate.getTime() > at + CLOCK_SKEW_MS) throw new Error('issued in the future');
  // A CRL without nextUpdate cannot say how long it holds (RFC 5280 §5.1.2.5 requires it).
  if (!crl.nextUpdate) throw new Error('no nextUpdate');
  if (crl.nextUpdate.getTime() < at - CLOCK_SKEW_MS) throw new Error('expired (nextUpdate passed)');
  const serial = serialOf(leaf);
  const entry = crl.entries.find((e) => sameSerial(Buffer.from(e.serialNumber, 'hex'), serial));
  const until = crl.nextUpdate.getTime();
  if (entry) return { status: 'revoked', source: 'crl', until, revokedAt: entry.revocationDate };
  return { status: 'good', source: 'crl', until };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an invalid URL';
  }
}

function messageOf(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return err instanceof Error ? `${err.message}${cause}` : String(err);
}

/** error_description is ASCII without quotes or backslashes (RFC 6749 §5.2). */
function publicText(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, ' ').slice(0, 300);
}
