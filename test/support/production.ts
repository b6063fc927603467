// A production-mode server for tests: real certificates are required there, so the sandbox CA and
// TLS certificate are generated into the data folder first and named by the settings.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, loadConfig } from '../../server/config.ts';
import { writeKekFile } from '../../server/key-encryption.ts';
import type { StartOptions } from '../../server/main.ts';
import { ensureSandboxCa, ensureSandboxTls, sandboxPaths } from '../../server/pki/sandbox-files.ts';
import { startTestServer, type TestServer } from './server.ts';

export async function productionEnv(dataDir: string, extra: Record<string, string> = {}) {
  const ca = await ensureSandboxCa(dataDir);
  await ensureSandboxTls(dataDir, ca);
  const paths = sandboxPaths(dataDir);
  // Production requires a key-encryption key: a file, as a bank would mount it.
  const kekFile = join(dataDir, 'production-kek.key');
  if (!existsSync(kekFile)) writeKekFile(kekFile);
  return {
    KEY_ENCRYPTION_KEY_FILE: kekFile,
    // The test QWACs name no OCSP responder or CRL: test/security/revocation.test.ts covers hard-fail.
    REVOCATION_POLICY: 'soft-fail',
    MODE: 'production',
    TLS_CERT: paths.tlsCert,
    TLS_KEY: paths.tlsKey,
    TRUST_ANCHORS: paths.caCert,
    ISSUER: 'https://localhost',
    PSU_PORT: '0',
    PSU_BASE_URL: 'https://psu.localhost',
    ...extra,
  };
}

export async function startProductionServer(
  extra: Record<string, string> = {},
  dataDir = mkdtempSync(join(tmpdir(), 'psd2-oauth-prod-')),
  options: Pick<StartOptions, 'clock'> = {},
): Promise<{ server: TestServer; config: Config; dataDir: string }> {
  const env = await productionEnv(dataDir, extra);
  const server = await startTestServer(env, dataDir, options);
  // The server's own database (PSD2_TEST_BACKEND=postgres gives it one of its own): CLI commands
  // run with this config reach what the server reads, as an operator's would.
  const database: Record<string, string> = server.databaseUrl ? { DATABASE_URL: server.databaseUrl } : {};
  return { server, config: loadConfig({ ...env, DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...database }), dataDir };
}
