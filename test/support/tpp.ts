// Test TPPs: QWACs issued by the server's own sandbox CA (or any CA a test makes), and a client
// that presents them over mutual TLS.
import { readFileSync } from 'node:fs';
import { type CertificateAuthority, loadCertificateAuthority } from '../../server/pki/ca.ts';
import { issueQwac, type QwacOptions } from '../../server/pki/qwac.ts';
import { sandboxPaths } from '../../server/pki/sandbox-files.ts';
import type { Psd2Role } from '../../server/protocol/scope-policy.ts';
import { type RequestOptions, request } from './https.ts';
import type { TestServer } from './server.ts';

export interface Tpp {
  cert: string;
  key: string;
  /** The certificate and its intermediates, as a TLS client sends them. */
  certChain: string;
  call(method: string, path: string, options?: RequestOptions): ReturnType<typeof request>;
}

export async function sandboxCa(server: TestServer): Promise<CertificateAuthority> {
  const paths = sandboxPaths(server.dataDir);
  return loadCertificateAuthority(readFileSync(paths.caCert, 'utf8'), readFileSync(paths.caKey, 'utf8'));
}

let counter = 0;

export async function makeTpp(
  server: TestServer,
  roles: Psd2Role[],
  options: Partial<QwacOptions> & { ca?: CertificateAuthority } = {},
): Promise<Tpp> {
  const ca = options.ca ?? (await sandboxCa(server));
  counter++;
  const issued = await issueQwac(ca, {
    name: `Test TPP ${counter}`,
    organizationIdentifier: `PSDFR-ACPR-T${process.pid}${counter}`,
    roles,
    ...options,
  });
  const certChain = [issued.certPem, issued.chainPem].filter(Boolean).join('\n');
  return {
    cert: issued.certPem,
    key: issued.keyPem,
    certChain,
    call: (method, path, opts = {}) =>
      request(`${server.url}${path}`, { ca: server.caPem, cert: certChain, key: issued.keyPem, method, ...opts }),
  };
}
