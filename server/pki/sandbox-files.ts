// The sandbox's generated PKI material in DATA_DIR: its CA (which signs the localhost TLS
// certificate and the test QWACs) and the TLS certificate. Created once, reused after.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CertificateAuthority,
  createCertificateAuthority,
  exportCertificateAuthority,
  issueServerCertificate,
  loadCertificateAuthority,
} from './ca.ts';

export interface SandboxPaths {
  caCert: string;
  caKey: string;
  tlsCert: string;
  tlsKey: string;
}

export function sandboxPaths(dataDir: string): SandboxPaths {
  return {
    caCert: join(dataDir, 'sandbox-ca.pem'),
    caKey: join(dataDir, 'sandbox-ca.key'),
    tlsCert: join(dataDir, 'tls-cert.pem'),
    tlsKey: join(dataDir, 'tls-key.pem'),
  };
}

/** Every file in DATA_DIR is 0600 (server/data-dir.ts), certificates included. */
function writePrivately(path: string, pem: string): void {
  writeFileSync(path, pem, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export async function ensureSandboxCa(dataDir: string): Promise<CertificateAuthority> {
  const paths = sandboxPaths(dataDir);
  if (existsSync(paths.caCert) && existsSync(paths.caKey)) {
    return loadCertificateAuthority(readFileSync(paths.caCert, 'utf8'), readFileSync(paths.caKey, 'utf8'));
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const ca = await createCertificateAuthority({ name: 'psd2-oauth sandbox CA' });
  const { certPem, keyPem } = await exportCertificateAuthority(ca);
  writePrivately(paths.caKey, keyPem);
  writePrivately(paths.caCert, certPem);
  return ca;
}

/** The sandbox TLS certificate and key (PEM), generated on first start. */
export async function ensureSandboxTls(
  dataDir: string,
  ca: CertificateAuthority,
): Promise<{ cert: string; key: string }> {
  const paths = sandboxPaths(dataDir);
  if (existsSync(paths.tlsCert) && existsSync(paths.tlsKey)) {
    return { cert: readFileSync(paths.tlsCert, 'utf8'), key: readFileSync(paths.tlsKey, 'utf8') };
  }
  const issued = await issueServerCertificate(ca);
  writePrivately(paths.tlsKey, issued.keyPem);
  writePrivately(paths.tlsCert, issued.certPem);
  return { cert: issued.certPem, key: issued.keyPem };
}
