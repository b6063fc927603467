// The runtime edge: reads files, opens the store, starts the HTTPS listeners (server/listeners.ts).
// The same code runs on Node and on Deno, through node:https (Deno.serve cannot request client
// certificates).
import type { Server } from 'node:https';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { type Logger, pino } from 'pino';
import { createAdminApp, startAdminListener } from './admin.ts';
import { type AuthorizationSettings, createApp } from './app.ts';
import { type Config, describeDatabase } from './config.ts';
import { prepareDataDir } from './data-dir.ts';
import { createReadiness } from './http/routes/health.ts';
import { createSecretSealer, loadKek } from './key-encryption.ts';
import { type Listener, type ListenerRole, startListener } from './listeners.ts';
import { createMetrics } from './metrics.ts';
import { createRevocationChecker } from './pki/revocation.ts';
import { ensureSandboxCa, ensureSandboxTls, sandboxPaths } from './pki/sandbox-files.ts';
import { schedulePurge } from './protocol/purge.ts';
import { seedSandboxPersonas } from './protocol/sandbox-personas.ts';
import { startInProcessSigner } from './signing-keys.ts';
import {
  checkBackendSupported,
  checkTlsPair,
  listenProblem,
  loadBranding,
  openDatabase,
  readSettingFile,
} from './startup.ts';

export interface RunningServer {
  /** The TPP (mTLS) listener, as reached on this machine. */
  url: string;
  port: number;
  /** The PSU listener, as reached on this machine; `url` when one listener serves both. */
  psuUrl: string;
  issuer: string;
  /** The HTTPS servers, for tests that watch handshakes. */
  listeners: { role: ListenerRole; server: Server; port: number }[];
  /** The admin listener (metrics, health), when ADMIN_PORT is set. */
  admin?: { url: string; port: number };
  logger: Logger;
  /** Stops accepting, lets in-flight requests finish, then closes the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** A bank's own PSU authentication and account lookup (see README); default: the database. */
  psu?: Pick<AuthorizationSettings, 'authenticator' | 'accounts'>;
  /** The time of the PSU journey and the payment back channel (tests move it past timeouts). */
  clock?: () => number;
}

export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  // Buffered, not one write(2) per line: the synchronous default cost a sixth of the token
  // endpoint's CPU. The audit trail lives in the database; these lines are operational logs.
  const destination = options.logger ? undefined : pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: 'psd2-oauth' } }, destination);
  // A buffered log still reaches stdout every second on a quiet server.
  const flushTimer = destination ? setInterval(() => destination.flush(), 1000) : undefined;
  flushTimer?.unref();
  // What start-up opened, closed again if a later step fails: a refused start must exit, not hang.
  const opened: (() => unknown)[] = [];
  try {
    return await start(config, logger, options, opened, () => {
      if (flushTimer) clearInterval(flushTimer);
      try {
        destination?.flushSync();
      } catch {
        // Not open yet (nothing was written): nothing to flush.
      }
    });
  } catch (err) {
    for (const close of opened.reverse()) await close();
    if (flushTimer) clearInterval(flushTimer);
    throw err;
  }
}

async function start(
  config: Config,
  logger: Logger,
  options: StartOptions,
  opened: (() => unknown)[],
  flushLog: () => void,
): Promise<RunningServer> {
  // Before any port is bound: a logo that cannot be read or is not an image stops the start.
  const branding = loadBranding(config.branding);
  if ('Deno' in globalThis) {
    // Deno's node:tls is rustls behind a fixed suite list: TLS_CIPHERS has no effect there.
    logger.warn(
      'Deno ignores TLS_CIPHERS: TLS 1.2 also offers ECDHE ChaCha20-Poly1305, which FAPI does not allow; run on Node or terminate TLS in front for the FAPI list',
    );
  }
  checkBackendSupported(config.database);
  // Before anything is written into it: the folder 0700, every file in it 0600.
  prepareDataDir(config.dataDir);
  const sealer = createSecretSealer(loadKek(config));
  const tls = await loadTls(config);
  const trustAnchorsPem = await loadTrustAnchors(config);
  const intermediatesPem = config.intermediateCerts
    ? readSettingFile('INTERMEDIATE_CERTS', config.intermediateCerts)
    : undefined;

  // Collected only for the admin listener: without it, nothing is measured.
  const metrics = config.adminPort === undefined ? undefined : createMetrics();
  // In production a corrupt SQLite file is refused before anything is served (PRAGMA quick_check).
  const database = await openDatabase(config.database, databaseSetting(config), {
    integrityCheck: config.mode === 'production',
    observer: metrics?.storage,
    sealer,
    onFeedState: (state, err) =>
      state === 'lost'
        ? logger.warn({ err }, 'change notifications lost: caches bypassed until they are back')
        : logger.info('change notifications listening'),
  });
  opened.push(() => database.close());
  const stores = database.stores;
  // A database written before secrets were sealed: sealed now, in one transaction.
  const sealedNow = await stores.secrets.sealPlaintext();
  if (sealedNow > 0) logger.info({ sealed: sealedNow, kek: sealer.kekId }, 'secrets found in clear were sealed');
  const keys = await startInProcessSigner({
    store: stores.signingKeys,
    alg: config.signingAlg,
    threads: config.signingThreads,
    logger,
  });
  opened.push(() => keys.close());
  metrics?.watchSigningQueue(() => keys.pending());
  if (config.mode === 'sandbox') await seedSandboxPersonas(stores.authorization.psus);

  // Two listeners when PSU_PORT is set: the TPP API with a certificate request, the PSU pages
  // without one. Otherwise one listener serves both (the sandbox's default).
  const listeners: Listener[] = [];
  const transport = {
    tls12Ciphers: config.tlsCiphers,
    hsts: { maxAge: config.hstsMaxAge, includeSubDomains: config.hstsIncludeSubDomains },
  };
  const tppListener = await startListener({
    role: config.psu ? 'tpp' : 'all',
    host: config.host,
    port: config.port,
    tls: { ...tls, requestCert: true, ...transport },
    listenError: (err) =>
      listenProblem(err, { setting: 'PORT', value: config.port }, { setting: 'HOST', value: config.host }),
  });
  listeners.push(tppListener);
  opened.push(() => tppListener.close());
  let psuListener = tppListener;
  if (config.psu) {
    const psu = config.psu;
    psuListener = await startListener({
      role: 'psu',
      host: psu.host,
      port: psu.port,
      tls: { ...(loadPsuTls(psu) ?? tls), requestCert: false, ...transport },
      listenError: (err) =>
        listenProblem(
          err,
          { setting: 'PSU_PORT', value: psu.port },
          { setting: config.psu?.host === config.host ? 'HOST' : 'PSU_HOST', value: psu.host },
        ),
    });
    listeners.push(psuListener);
    const started = psuListener;
    opened.push(() => started.close());
  }
  const port = tppListener.port;
  const issuer = config.issuer ?? `https://localhost:${port}`;
  const psuBaseUrl = config.psu ? (config.psu.baseUrl ?? `https://localhost:${psuListener.port}`) : issuer;
  const app = createApp({
    metrics,
    logPseudonymKey: config.logPseudonymKey,
    issuer,
    psuBaseUrl,
    mode: config.mode,
    logger,
    keys,
    stores,
    clock: options.clock,
    backOffice: config.backOffice,
    trustAnchorsPem,
    intermediatesPem,
    connectionReverifyMs: config.revocationCacheMax * 1000,
    revocationChecker:
      config.revocationPolicy === 'off'
        ? undefined
        : createRevocationChecker({
            policy: config.revocationPolicy,
            maxCacheSeconds: config.revocationCacheMax,
            timeoutMs: config.revocationTimeoutMs,
            logger,
            onOutcome: metrics && ((outcome) => metrics.revocationCheck(outcome)),
          }),
    trustedProxies: config.trustedProxies,
    tokens: {
      ttl: config.accessTokenTtl,
      audience: config.accessTokenAudience ?? `${issuer}/psd2`,
      refreshTokenRotation: config.refreshTokenRotation,
    },
    authorization: {
      branding,
      sessionInactivitySeconds: config.psuSessionInactivity,
      lockoutSeconds: config.psuLockoutDuration,
      timeZone: config.bankTimeZone,
      cbpiiConsentDays: config.cbpiiConsentDays,
      codeTtlSeconds: config.authorizationCodeTtl,
      parExpiresInSeconds: config.parExpiresIn,
      paymentAuthorizationTtlSeconds: config.paymentAuthorizationTtl,
      ...options.psu,
    },
  });
  for (const l of listeners) {
    const role = l.role;
    l.serve(getRequestListener((request, env) => app.fetch(request, { ...env, listener: role })));
  }
  const purge = schedulePurge({
    store: stores.purge,
    history: stores.permissions,
    intervalMs: config.purgeInterval * 1000,
    retentionMs: config.purgeRetention * 1000,
    onResult: (counts) => logger.info({ purged: counts }, 'purge'),
    onError: (err) => logger.error({ err }, 'purge failed'),
  });
  const admin =
    config.adminPort === undefined
      ? undefined
      : await startAdminListener(
          createAdminApp({ readiness: createReadiness(stores.health, keys), metrics: metrics?.exposition }),
          { port: config.adminPort, host: config.adminHost },
          logger,
        );
  logger.info(
    {
      issuer,
      mode: config.mode,
      listeners: listeners.map((l) => ({ role: l.role, host: l.host, port: l.port })),
      database: describeDatabase(config.database),
    },
    'listening',
  );

  let closing: Promise<void> | undefined;
  return {
    url: `https://localhost:${port}`,
    port,
    psuUrl: `https://localhost:${psuListener.port}`,
    issuer,
    listeners: listeners.map((l) => ({ role: l.role, server: l.server, port: l.port })),
    ...(admin ? { admin: { url: admin.url, port: admin.port } } : {}),
    logger,
    close() {
      closing ??= (async () => {
        purge.stop();
        void admin?.close();
        await Promise.all(listeners.map((l) => l.close()));
        void keys.close();
        await database.close().catch((err: unknown) => logger.error({ err }, 'closing the database failed'));
        logger.info('stopped');
        flushLog();
      })();
      return closing;
    },
  };
}

async function loadTls(config: Config): Promise<{ cert: string; key: string }> {
  if (config.tlsCert && config.tlsKey) {
    const pair = { cert: readSettingFile('TLS_CERT', config.tlsCert), key: readSettingFile('TLS_KEY', config.tlsKey) };
    checkTlsPair(pair.cert, pair.key);
    return pair;
  }
  // Only reachable in sandbox mode: production without TLS_CERT is refused by the config.
  const ca = await ensureSandboxCa(config.dataDir);
  return ensureSandboxTls(config.dataDir, ca);
}

/** The PSU listener's own certificate, when it has one (PSU_TLS_CERT); otherwise it shares TLS_CERT. */
function loadPsuTls(psu: NonNullable<Config['psu']>): { cert: string; key: string } | undefined {
  if (!psu.tlsCert || !psu.tlsKey) return undefined;
  const pair = { cert: readSettingFile('PSU_TLS_CERT', psu.tlsCert), key: readSettingFile('PSU_TLS_KEY', psu.tlsKey) };
  checkTlsPair(pair.cert, pair.key, { cert: 'PSU_TLS_CERT', key: 'PSU_TLS_KEY' });
  return pair;
}

/** The setting that chose the database file, for start-up messages. */
function databaseSetting(config: Config): string {
  const { database } = config;
  return database.kind === 'sqlite' && database.path === join(config.dataDir, 'psd2-oauth.db')
    ? 'DATA_DIR'
    : 'DATABASE_URL';
}

/** The PEM bundle of accepted client-certificate issuers; sandbox mode adds its own CA. */
async function loadTrustAnchors(config: Config): Promise<string> {
  const parts: string[] = [];
  if (config.trustAnchors) parts.push(readSettingFile('TRUST_ANCHORS', config.trustAnchors));
  if (config.mode === 'sandbox') {
    await ensureSandboxCa(config.dataDir);
    parts.push(readSettingFile('DATA_DIR', sandboxPaths(config.dataDir).caCert));
  }
  return parts.join('\n');
}
