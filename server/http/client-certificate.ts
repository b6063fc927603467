// Where the client certificate comes from: the TLS connection, or a trusted TLS-terminating proxy's
// RFC 9440 headers. Pure functions: the server edge passes in the socket, the peer address and the
// headers, and the protocol core receives DER.
import { BlockList, isIP } from 'node:net';
import { CertificateRejectedError } from '../protocol/tpp-identity.ts';

export interface ClientCertificate {
  leaf?: Uint8Array;
  /** As sent after the leaf; the verifier decides which of them lead to a trust anchor. */
  intermediates: Uint8Array[];
}

export interface ResolvedClientCertificate extends ClientCertificate {
  source: 'tls' | 'header' | 'none';
}

export interface TrustedProxies {
  matches(address: string | undefined): boolean;
  readonly entries: readonly string[];
}

/**
 * "10.0.0.0/8, 127.0.0.1, ::1, fd00::/8". IPv4 and IPv6 entries are kept in separate lists, and an
 * IPv4-mapped peer (::ffff:10.1.2.3) is looked up as IPv4: node:net's BlockList alone answers
 * differently on Node and Deno when families are mixed (Node matches 1.2.3.4 against ::/0).
 */
export function parseTrustedProxies(list: string | readonly string[]): TrustedProxies {
  const entries = (typeof list === 'string' ? list.split(',') : list).map((e) => e.trim()).filter((e) => e !== '');
  const v4 = new BlockList();
  const v6 = new BlockList();
  for (const entry of entries) {
    const match = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(entry);
    const address = match?.[1] ?? '';
    const family = address.includes('%') ? 0 : isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefix = match?.[2] === undefined ? bits : Number(match[2]);
    if (!family || prefix > bits) {
      throw new Error(
        `trusted proxy entry ${JSON.stringify(entry)} is not an IPv4 or IPv6 address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)`,
      );
    }
    const mapped = family === 6 ? ipv4FromMapped(address) : undefined;
    if (mapped !== undefined && prefix >= 96) v4.addSubnet(mapped, prefix - 96, 'ipv4');
    else if (family === 4) v4.addSubnet(address, prefix, 'ipv4');
    else v6.addSubnet(address, prefix, 'ipv6');
  }
  return {
    entries,
    matches(peer) {
      if (!peer) return false;
      const address = peer.replace(/%.*$/, ''); // a link-local zone (fe80::1%eth0) is not part of the address
      const family = isIP(address);
      if (family === 4) return v4.check(address, 'ipv4');
      if (family !== 6) return false;
      const mapped = ipv4FromMapped(address);
      return mapped !== undefined ? v4.check(mapped, 'ipv4') : v6.check(address, 'ipv6');
    },
  };
}

function ipv4FromMapped(address: string): string | undefined {
  const match = /^(?:::|(?:0{1,4}:){5})ffff:(?:(\d{1,3}(?:\.\d{1,3}){3})|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(
    address,
  );
  if (!match) return undefined;
  if (match[1]) return match[1];
  const high = Number.parseInt(match[2] ?? '', 16);
  const low = Number.parseInt(match[3] ?? '', 16);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/**
 * RFC 9440 Client-Cert: one RFC 8941 byte sequence, `:<base64 DER>:`. Parameters are refused too:
 * RFC 9440 defines none, and a proxy sending them is not one we were configured for.
 */
export function parseClientCertHeader(value: string): Uint8Array {
  const der = parseByteSequence(value.trim());
  if (der.byteLength === 0) throw new Error('Client-Cert holds an empty byte sequence');
  return der;
}

/** RFC 9440 Client-Cert-Chain: an RFC 8941 list of byte sequences; empty means no intermediates. */
export function parseClientCertChainHeader(value: string): Uint8Array[] {
  const trimmed = value.trim();
  if (trimmed === '') return [];
  return trimmed.split(/[ \t]*,[ \t]*/).map((member, i) => {
    const der = parseByteSequence(member);
    if (der.byteLength === 0) throw new Error(`Client-Cert-Chain member ${i + 1} is an empty byte sequence`);
    return der;
  });
}

function parseByteSequence(item: string): Uint8Array {
  // RFC 8941 §4.2.7 lets parsers accept missing padding; anything else outside base64 is an error.
  const match = /^:([A-Za-z0-9+/]*)(={0,2}):$/.exec(item);
  if (!match) throw new Error('not an RFC 8941 byte sequence (:base64:)');
  const [, body = '', padding = ''] = match;
  if (padding ? (body.length + padding.length) % 4 !== 0 : body.length % 4 === 1) {
    throw new Error('RFC 8941 byte sequence has a truncated base64 body');
  }
  const binary = atob(body);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** What node:tls's getPeerCertificate(true) returns; `{}` when the client sent no certificate. */
export interface PeerCertificateLike {
  raw?: Uint8Array;
  issuerCertificate?: PeerCertificateLike;
}

export interface TlsSocketLike {
  getPeerCertificate(detailed: true): PeerCertificateLike | null;
}

export function certificateFromTlsSocket(socket: TlsSocketLike): ClientCertificate {
  const peer = socket.getPeerCertificate(true);
  if (!peer?.raw?.byteLength) return { intermediates: [] };
  const intermediates: Uint8Array[] = [];
  const seen = new Set<PeerCertificateLike>([peer]);
  // Node links the last certificate to itself when it is self-issued: that root, if anything, is a
  // trust anchor the verifier already has, and the walk ends there.
  for (let cert = peer.issuerCertificate; cert?.raw && !seen.has(cert); cert = cert.issuerCertificate) {
    seen.add(cert);
    if (cert.issuerCertificate === cert) break;
    intermediates.push(new Uint8Array(cert.raw));
  }
  return { leaf: new Uint8Array(peer.raw), intermediates };
}

export interface ResolveClientCertificateInput {
  peerAddress: string | undefined;
  headers: Headers;
  tlsCertificate: ClientCertificate | undefined;
  trustedProxies: TrustedProxies;
  /** Called when an untrusted peer sent Client-Cert headers: worth a log line, it may be an attack. */
  onIgnoredHeader?: (event: { peerAddress: string | undefined; headers: string[] }) => void;
}

const CLIENT_CERT = 'client-cert';
const CLIENT_CERT_CHAIN = 'client-cert-chain';

/**
 * From a trusted proxy, the RFC 9440 headers win over the TLS certificate (which, if any, is the
 * proxy's own); without them the TLS certificate is used. From any other peer the headers are
 * ignored, since anyone can write them.
 */
export function resolveClientCertificate(input: ResolveClientCertificateInput): ResolvedClientCertificate {
  const { headers, peerAddress } = input;
  const cert = headers.get(CLIENT_CERT);
  const chain = headers.get(CLIENT_CERT_CHAIN);
  if (cert !== null || chain !== null) {
    if (input.trustedProxies.matches(peerAddress)) return fromHeaders(cert, chain);
    input.onIgnoredHeader?.({
      peerAddress,
      headers: [cert !== null ? 'Client-Cert' : '', chain !== null ? 'Client-Cert-Chain' : ''].filter(Boolean),
    });
  }
  const tls = input.tlsCertificate;
  return tls?.leaf
    ? { leaf: tls.leaf, intermediates: tls.intermediates, source: 'tls' }
    : { intermediates: [], source: 'none' };
}

function fromHeaders(cert: string | null, chain: string | null): ResolvedClientCertificate {
  const reject = (problem: string, error?: unknown) =>
    new CertificateRejectedError(
      'malformed_certificate',
      `the ${problem} header forwarded by the proxy is malformed`,
      error instanceof Error ? error.message : undefined,
    );
  // Some proxies (Cloudflare's RFC 9440 fields) send an empty value when the client had no certificate.
  if (cert === null || cert.trim() === '') {
    if (chain !== null && chain.trim() !== '')
      throw reject('Client-Cert-Chain', new Error('a chain without Client-Cert'));
    return { intermediates: [], source: 'none' };
  }
  let leaf: Uint8Array;
  let intermediates: Uint8Array[];
  try {
    leaf = parseClientCertHeader(cert);
  } catch (error) {
    throw reject('Client-Cert', error);
  }
  try {
    intermediates = chain === null ? [] : parseClientCertChainHeader(chain);
  } catch (error) {
    throw reject('Client-Cert-Chain', error);
  }
  return { leaf, intermediates, source: 'header' };
}
