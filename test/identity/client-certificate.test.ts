import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import * as tls from 'node:tls';
import {
  type ClientCertificate,
  certificateFromTlsSocket,
  type PeerCertificateLike,
  parseClientCertChainHeader,
  parseClientCertHeader,
  parseTrustedProxies,
  resolveClientCertificate,
} from '../../server/http/client-certificate.ts';
import { type CertificateAuthority, createCertificateAuthority, issueServerCertificate } from '../../server/pki/ca.ts';
import { type IssuedQwac, issueQwac } from '../../server/pki/qwac.ts';
import { CertificateRejectedError, createTppIdentityVerifier } from '../../server/protocol/tpp-identity.ts';

let pki: Promise<{ root: CertificateAuthority; intermediate: CertificateAuthority; qwac: IssuedQwac }> | undefined;
function sandbox() {
  pki ??= (async () => {
    const root = await createCertificateAuthority({ name: 'Test Root' });
    const intermediate = await createCertificateAuthority({ name: 'Test Issuing CA', issuer: root });
    const qwac = await issueQwac(intermediate, {
      name: 'Fintech SAS',
      organizationIdentifier: 'PSDFR-ACPR-12345',
      roles: ['PSP_AI'],
    });
    return { root, intermediate, qwac };
  })();
  return pki;
}

const byteSequence = (der: Uint8Array) => `:${btoa(String.fromCharCode(...der))}:`;
const PROXIES = parseTrustedProxies('10.0.0.0/8, 127.0.0.1, ::1, fd00::/8');

test('trusted proxies match IPv4 and IPv6 CIDR blocks and single addresses', () => {
  for (const address of ['10.0.0.1', '10.255.255.255', '127.0.0.1', '::1', 'fd00::1', 'fdff:ffff::1', 'FD12::AB']) {
    assert.equal(PROXIES.matches(address), true, address);
  }
  for (const address of [
    '11.0.0.1',
    '9.255.255.255',
    '127.0.0.2',
    '::2',
    'fe80::1',
    'fc00::1',
    '',
    undefined,
    'localhost',
  ]) {
    assert.equal(PROXIES.matches(address), false, String(address));
  }
  assert.deepEqual(PROXIES.entries, ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
});

test('an IPv4-mapped IPv6 peer is matched as IPv4', () => {
  for (const address of [
    '::ffff:127.0.0.1',
    '::ffff:10.1.2.3',
    '::FFFF:10.1.2.3',
    '::ffff:7f00:1',
    '0:0:0:0:0:ffff:a01:203',
  ]) {
    assert.equal(PROXIES.matches(address), true, address);
  }
  assert.equal(PROXIES.matches('::ffff:11.0.0.1'), false);
  assert.equal(parseTrustedProxies('::ffff:10.0.0.0/104').matches('10.9.8.7'), true);
  // Families stay apart, so the answer is the same on Node and Deno.
  assert.equal(parseTrustedProxies('::/0').matches('192.0.2.1'), false);
  assert.equal(parseTrustedProxies('0.0.0.0/0').matches('2001:db8::1'), false);
  assert.equal(parseTrustedProxies('fe80::/10').matches('fe80::1%eth0'), true);
});

test('a bad trusted proxy entry is refused with a message naming it', () => {
  for (const entry of [
    '10.0.0.0/33',
    'fd00::/129',
    'proxy.example',
    '10.0.0.300',
    '10.0.0.0/x',
    '10.0.0.0/',
    'fe80::1%eth0',
    '/8',
  ]) {
    assert.throws(
      () => parseTrustedProxies(`127.0.0.1, ${entry}`),
      (error: Error) => error.message.includes(JSON.stringify(entry)),
      entry,
    );
  }
  assert.equal(parseTrustedProxies('').matches('127.0.0.1'), false);
  assert.equal(parseTrustedProxies(['192.0.2.0/24']).matches('192.0.2.7'), true);
});

test('Client-Cert is an RFC 8941 byte sequence', async () => {
  const { qwac } = await sandbox();
  const der = new Uint8Array(qwac.certificate.rawData);
  assert.deepEqual(parseClientCertHeader(byteSequence(der)), der);
  assert.deepEqual(parseClientCertHeader(` ${byteSequence(der)} `), der);
  assert.deepEqual(parseClientCertHeader(':AQID:'), new Uint8Array([1, 2, 3]));
  assert.deepEqual(parseClientCertHeader(':AQ==:'), new Uint8Array([1]));
  assert.deepEqual(parseClientCertHeader(':AQ:'), new Uint8Array([1]), 'padding may be left out');
  const malformed = [
    'AQID',
    ':AQID',
    'AQID:',
    '::',
    ':AQ ID:',
    ':AQ=D:',
    ':A:',
    ':AQ=:',
    ':AQ-_:',
    ':AQID:;a=1',
    ':AQID:, :AQID:',
    '-----BEGIN CERTIFICATE-----',
  ];
  for (const value of malformed) assert.throws(() => parseClientCertHeader(value), Error, value);
});

test('Client-Cert-Chain is a list of byte sequences', () => {
  assert.deepEqual(parseClientCertChainHeader(':AQID:, :BAU=:'), [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])]);
  assert.deepEqual(parseClientCertChainHeader(':AQID:,:BAU=:'), [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])]);
  assert.deepEqual(parseClientCertChainHeader(''), []);
  for (const value of [':AQID:,', ', :AQID:', ':AQID: :BAU=:', ':AQID:,,:BAU=:', '::']) {
    assert.throws(() => parseClientCertChainHeader(value), Error, value);
  }
});

test('certificateFromTlsSocket walks issuerCertificate and leaves out the self-signed root', () => {
  const leaf = new Uint8Array([1]);
  const inter = new Uint8Array([2]);
  const root: PeerCertificateLike = { raw: new Uint8Array([3]) };
  root.issuerCertificate = root;
  const peer: PeerCertificateLike = { raw: leaf, issuerCertificate: { raw: inter, issuerCertificate: root } };
  assert.deepEqual(certificateFromTlsSocket({ getPeerCertificate: () => peer }), { leaf, intermediates: [inter] });
  // Without the root, the walk ends where the links do.
  const partial: PeerCertificateLike = { raw: leaf, issuerCertificate: { raw: inter } };
  assert.deepEqual(certificateFromTlsSocket({ getPeerCertificate: () => partial }), { leaf, intermediates: [inter] });
  assert.deepEqual(certificateFromTlsSocket({ getPeerCertificate: () => ({}) }), { intermediates: [] });
  assert.deepEqual(certificateFromTlsSocket({ getPeerCertificate: () => null }), { intermediates: [] });
});

test('over real TLS, the leaf and intermediate the client sent reach the verifier', async () => {
  const { root, intermediate, qwac } = await sandbox();
  const serverCert = await issueServerCertificate(root);
  const received = Promise.withResolvers<ClientCertificate>();
  // No `ca`: the application validates the chain, and Node 24 drops the peer chain from
  // getPeerCertificate(true) when its own verification succeeded (nodejs/node#65579).
  const server = tls.createServer(
    { cert: serverCert.certPem, key: serverCert.keyPem, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      received.resolve(certificateFromTlsSocket(socket));
      socket.end();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: root.certificate.toString('pem'),
      cert: `${qwac.certPem}\n${qwac.chainPem}`,
      key: qwac.keyPem,
    });
    client.on('error', received.reject);
    client.resume();
    const tlsCertificate = await received.promise;
    client.destroy();
    assert.deepEqual(tlsCertificate.leaf, new Uint8Array(qwac.certificate.rawData));
    assert.deepEqual(tlsCertificate.intermediates, [new Uint8Array(intermediate.certificate.rawData)]);
    const verifier = createTppIdentityVerifier({ trustAnchors: root.certificate.toString('pem') });
    const identity = await verifier.verify(tlsCertificate.leaf, tlsCertificate.intermediates);
    assert.equal(identity.organizationIdentifier, 'PSDFR-ACPR-12345');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('from a trusted proxy, the RFC 9440 headers win over the TLS certificate', async () => {
  const { qwac, intermediate, root } = await sandbox();
  const leaf = new Uint8Array(qwac.certificate.rawData);
  const chain = new Uint8Array(intermediate.certificate.rawData);
  const proxyOwn: ClientCertificate = { leaf: new Uint8Array([9]), intermediates: [] };
  const headers = new Headers({ 'Client-Cert': byteSequence(leaf), 'Client-Cert-Chain': byteSequence(chain) });
  for (const peerAddress of ['10.1.2.3', '::ffff:127.0.0.1', 'fd00::5']) {
    const resolved = resolveClientCertificate({
      peerAddress,
      headers,
      tlsCertificate: proxyOwn,
      trustedProxies: PROXIES,
    });
    assert.deepEqual(resolved, { leaf, intermediates: [chain], source: 'header' });
  }
  const resolved = resolveClientCertificate({
    peerAddress: '10.1.2.3',
    headers,
    tlsCertificate: undefined,
    trustedProxies: PROXIES,
  });
  const verifier = createTppIdentityVerifier({ trustAnchors: [new Uint8Array(root.certificate.rawData)] });
  assert.deepEqual((await verifier.verify(resolved.leaf, resolved.intermediates)).roles, ['PSP_AI']);

  const none = (h: Headers) =>
    resolveClientCertificate({
      peerAddress: '10.1.2.3',
      headers: h,
      tlsCertificate: proxyOwn,
      trustedProxies: PROXIES,
    });
  // Without the headers, the TLS certificate; an empty Client-Cert says the client sent none.
  assert.deepEqual(none(new Headers()), { ...proxyOwn, source: 'tls' });
  assert.deepEqual(none(new Headers({ 'Client-Cert': '' })), { intermediates: [], source: 'none' });
});

test('a malformed header from a trusted proxy is a malformed_certificate rejection', () => {
  const cases: Record<string, string>[] = [
    { 'Client-Cert': 'MIIB' },
    { 'Client-Cert': ':AQID:', 'Client-Cert-Chain': ':AQID:,' },
    { 'Client-Cert-Chain': ':AQID:' },
  ];
  for (const init of cases) {
    assert.throws(
      () =>
        resolveClientCertificate({
          peerAddress: '127.0.0.1',
          headers: new Headers(init),
          tlsCertificate: undefined,
          trustedProxies: PROXIES,
        }),
      (error: unknown) => error instanceof CertificateRejectedError && error.reason === 'malformed_certificate',
      JSON.stringify(init),
    );
  }
});

test('headers from an untrusted peer are ignored, reported, and the TLS certificate is used', () => {
  const tlsCertificate: ClientCertificate = { leaf: new Uint8Array([7]), intermediates: [new Uint8Array([8])] };
  const ignored: unknown[] = [];
  const resolve = (init: HeadersInit, tlsCert: ClientCertificate | undefined) =>
    resolveClientCertificate({
      peerAddress: '192.0.2.10',
      headers: new Headers(init),
      tlsCertificate: tlsCert,
      trustedProxies: PROXIES,
      onIgnoredHeader: (event) => ignored.push(event),
    });
  // Malformed or not, an untrusted peer's header is never parsed.
  assert.deepEqual(resolve({ 'Client-Cert': 'not even base64' }, tlsCertificate), { ...tlsCertificate, source: 'tls' });
  assert.deepEqual(resolve({ 'Client-Cert': ':AQID:', 'Client-Cert-Chain': ':AQID:' }, undefined), {
    intermediates: [],
    source: 'none',
  });
  assert.deepEqual(resolve({}, undefined), { intermediates: [], source: 'none' });
  assert.deepEqual(ignored, [
    { peerAddress: '192.0.2.10', headers: ['Client-Cert'] },
    { peerAddress: '192.0.2.10', headers: ['Client-Cert', 'Client-Cert-Chain'] },
  ]);
});
