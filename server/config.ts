// Every setting in one zod schema. Each entry's description feeds the README's configuration table
// (`npm run gen` rewrites it), so the documentation cannot drift from what start-up accepts.
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { unknownCiphers } from './https-listener.ts';
import { contrastWithWhite, MIN_CONTRAST } from './pages/branding.ts';
import { UNSAFE_TEXT } from './protocol/client-metadata.ts';
import { parseClientUri } from './protocol/client-uri.ts';
import { SIGNING_ALGS } from './protocol/signer.ts';

const port = z.coerce.number().int().min(0).max(65535);
const optionalPath = z.string().trim().min(1).optional();

export const settings = z.object({
  PORT: port.default(8443).describe('TCP port of the HTTPS listener (0 picks a free port).'),
  HOST: z.string().trim().min(1).default('127.0.0.1').describe('Address the HTTPS listener binds to.'),
  ADMIN_PORT: port
    .optional()
    .describe(
      'TCP port of the admin listener (plain HTTP): `/metrics` (Prometheus), `/health/live`, `/health/ready`. Unset: no admin listener and no metrics are collected. Never served on the TPP or PSU listener.',
    ),
  ADMIN_HOST: z
    .string()
    .trim()
    .min(1)
    .default('127.0.0.1')
    .describe(
      'Address the admin listener binds to. Keep it local (or on a management network): it has no authentication.',
    ),
  PSU_PORT: port
    .optional()
    .describe(
      'TCP port of the PSU listener: the PSU pages (`/authorize`, `/{lang}/authorize`, `/{lang}/permissions`, `/assets/`) on a listener that never asks for a client certificate, the TPP endpoints staying on `PORT` (mTLS). Unset: one listener on `PORT` serves both (sandbox only; required in production). 0 picks a free port.',
    ),
  PSU_HOST: z.string().trim().min(1).optional().describe('Address the PSU listener binds to. Default `HOST`.'),
  PSU_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe(
      'Public base URL of the PSU listener, named in the metadata’s `authorization_endpoint`. Default `https://localhost:$PSU_PORT`; required in production.',
    ),
  PSU_TLS_CERT: optionalPath.describe(
    'PEM file of the PSU listener’s certificate (with its chain), when the pages have their own host name. Default `TLS_CERT`.',
  ),
  PSU_TLS_KEY: optionalPath.describe('PEM file of the PSU listener’s private key. Required with `PSU_TLS_CERT`.'),
  ISSUER: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('Issuer identifier (RFC 8414): the public base URL of this server. Default `https://localhost:$PORT`.'),
  MODE: z
    .enum(['sandbox', 'production'])
    .default('sandbox')
    .describe(
      '`sandbox` generates its own TLS certificate and sandbox CA and simulates the PSU; `production` requires real certificates and PSU login with SCA.',
    ),
  DATA_DIR: z
    .string()
    .trim()
    .min(1)
    .default('./data')
    .describe('Folder for the database and generated sandbox material.'),
  DATABASE_URL: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe(
      'The database. `postgres://…` or `postgresql://…` selects PostgreSQL 15+ (several instances may share it); anything else is a SQLite file (a path or `file:` URL). Default `$DATA_DIR/psd2-oauth.db`.',
    ),
  POSTGRES_POOL_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(10)
    .describe(
      'PostgreSQL only: connections each instance keeps to the database (one more is held for change notifications).',
    ),
  TLS_CERT: optionalPath.describe(
    'PEM file of the server certificate (with its chain). In sandbox mode, when absent, a localhost certificate is generated into `DATA_DIR` on first start.',
  ),
  TLS_KEY: optionalPath.describe('PEM file of the server private key. Required with `TLS_CERT`.'),
  TLS_CIPHERS: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe(
      'TLS 1.2 cipher suites of every HTTPS listener, OpenSSL names separated by `:`. Default: the FAPI list, `ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384`. TLS 1.3 suites are not affected. Deno ignores this setting (see Security).',
    ),
  HSTS_MAX_AGE: z.coerce
    .number()
    .int()
    .min(31_536_000)
    .default(31_536_000)
    .describe(
      '`max-age` of the `Strict-Transport-Security` header on every HTTPS response, in seconds (at least a year).',
    ),
  HSTS_INCLUDE_SUBDOMAINS: z
    .enum(['true', 'false'])
    .default('true')
    .describe(
      '`includeSubDomains` in `Strict-Transport-Security`. Set `false` only if a subdomain of the issuer host must still be reached over plain HTTP.',
    ),
  TRUST_ANCHORS: optionalPath.describe(
    'PEM bundle of the CA certificates whose client certificates (QWACs) are accepted. Sandbox mode also trusts its own sandbox CA, generated into `DATA_DIR` on first start.',
  ),
  INTERMEDIATE_CERTS: optionalPath.describe(
    'PEM bundle of intermediate CA certificates that may complete a client certificate path when the client (or a proxy that forwards only the leaf, like nginx) does not send them. Never trusted on their own.',
  ),
  TRUSTED_PROXIES: z
    .string()
    .trim()
    .optional()
    .describe(
      'Comma-separated IPs and CIDRs of TLS-terminating proxies whose RFC 9440 `Client-Cert` headers are honoured. Default: none.',
    ),
  KEY_ENCRYPTION_KEY: z
    .string()
    .trim()
    .optional()
    .describe(
      'The key-encryption key (base64 of 32 random bytes, e.g. `openssl rand -base64 32`) that seals the signing private keys and PSU TOTP secrets in the database (AES-256-GCM). Prefer `KEY_ENCRYPTION_KEY_FILE`. Production requires one of the two; a sandbox without either generates `$DATA_DIR/key-encryption.key` (0600).',
    ),
  KEY_ENCRYPTION_KEY_FILE: optionalPath.describe(
    'A file holding the key-encryption key (same encoding as `KEY_ENCRYPTION_KEY`, readable by the server only). Rotate it with `psd2-oauth kek rotate`.',
  ),
  REVOCATION_POLICY: z
    .enum(['hard-fail', 'soft-fail', 'off'])
    .optional()
    .describe(
      'QWAC revocation (OCSP from the certificate’s AIA, CRL from its distribution points as the fallback), checked once the chain is valid. `hard-fail`: a certificate whose status cannot be established is refused (`401 invalid_client` naming the reason); `soft-fail`: it is accepted and logged; `off`: no check. Default `hard-fail` in production, `soft-fail` in a sandbox. A revoked certificate is refused in every mode but `off`.',
    ),
  REVOCATION_CACHE_MAX: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(3600)
    .describe(
      'Seconds an OCSP or CRL answer is trusted at most (it is also never trusted past its nextUpdate): the longest a certificate revoked while its TLS connection is open keeps working. A failure is retried after 10 s.',
    ),
  REVOCATION_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(5000)
    .describe(
      'Milliseconds one revocation check may take, every OCSP responder and CRL it asks included: the most it adds to a TPP request whose answer is not cached. A check without an answer by then has an unknown status, which `REVOCATION_POLICY` decides (`hard-fail`: 401, `soft-fail`: accepted and logged). A slow responder uses up the budget, so the CRL fallback is then not tried.',
    ),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Minimum level of the JSON log lines written to standard output.'),
  LOG_PSEUDONYM_KEY: z
    .string()
    .min(32)
    .optional()
    .describe(
      'Secret (at least 32 characters) keying the HMAC that pseudonymises PSU ids in the logs. Unset: a random key per process, so pseudonyms match only within one run; set it (the same on every instance) to follow a PSU across restarts.',
    ),
  ACCESS_TOKEN_SIGNING_ALG: z
    .enum(SIGNING_ALGS)
    .default('EdDSA')
    .describe(
      'Algorithm of the active signing key: `EdDSA` (Ed25519), `ES256` or `PS256`, the three FAPI 2.0 allows. A key of each is published at `/jwks`, so switching keeps earlier tokens verifiable.',
    ),
  ACCESS_TOKEN_SIGNING_THREADS: z.coerce
    .number()
    .int()
    .min(0)
    .max(16)
    .optional()
    .describe(
      'Threads that sign access tokens beside the one serving requests; 0 signs on that one. Unset: 1 on a machine with more than one core, else 0.',
    ),
  ACCESS_TOKEN_TTL: z.coerce
    .number()
    .int()
    .min(30)
    .max(3600)
    .default(300)
    .describe(
      'Lifetime of access tokens, in seconds. Resource servers that validate tokens locally see a revocation only when the token expires, so keep it short.',
    ),
  ACCESS_TOKEN_AUDIENCE: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe(
      'The `aud` of access tokens: the identifier of the bank’s PSD2 API (resource server). Default `$ISSUER/psd2`.',
    ),
  REFRESH_TOKEN_ROTATION: z
    .enum(['true', 'false'])
    .default('false')
    .describe(
      '`true` issues a new refresh token on each refresh; the previous one is accepted once more for a retry, and any older one revokes the grant (reuse detection). Default `false` (FAPI 2.0).',
    ),
  PURGE_INTERVAL: z.coerce
    .number()
    .int()
    .min(10)
    .max(86_400)
    .default(3600)
    .describe(
      'Seconds between two runs of the purge of expired codes, revoked-token records, pushed requests, PSU sessions and old grants.',
    ),
  PURGE_RETENTION: z.coerce
    .number()
    .int()
    .min(0)
    .default(2_592_000)
    .describe('Seconds an expired or revoked grant is kept (for the audit trail) before the purge deletes it.'),
  PSU_SESSION_INACTIVITY: z.coerce
    .number()
    .int()
    .min(30)
    .max(300)
    .default(300)
    .describe(
      'Seconds of inactivity after which a PSU session on the authorization pages ends (RTS art. 4(3)(d): at most 5 minutes).',
    ),
  BANK_TIME_ZONE: z
    .string()
    .trim()
    .default('Europe/Paris')
    .refine(isTimeZone, { message: 'not an IANA time zone (e.g. Europe/Paris)' })
    .describe('IANA time zone in which the PSU pages show times (the end of a lockout), named beside them.'),
  BANK_NAME: z
    .string()
    .trim()
    .min(1)
    .max(80)
    .refine((v) => !UNSAFE_TEXT.test(v), { message: 'must not contain control or bidirectional formatting characters' })
    .optional()
    .describe(
      'The bank’s name: in the PSU pages’ header and `<title>`, and the issuer of the TOTP enrolment URI (`psu add`, `psu reset-totp`). Default: “Votre banque” / “Your bank” on the pages, the ISSUER host in the URI.',
    ),
  BANK_LOGO: z
    .string()
    .trim()
    .min(1)
    .superRefine((value, ctx) => {
      if (!/^[a-z][a-z0-9+.-]*:/i.test(value)) return;
      const parsed = parseClientUri(value, { policySafe: true });
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `the URL ${parsed.reason}` });
      else if (parsed.url.search !== '') {
        ctx.addIssue({ code: 'custom', message: 'the URL must have no query: the CSP allows it by origin and path' });
      }
    })
    .optional()
    .describe(
      'The bank’s logo in the PSU pages’ header: a PNG, JPEG, WebP or SVG file (at most 256 KiB, recognised by its content), served at `/assets/bank-logo`; or an https URL, which the pages’ CSP then allows by that exact origin and path (no query).',
    ),
  BANK_PRIMARY_COLOR: z
    .string()
    .trim()
    .regex(/^#[0-9a-fA-F]{6}$/, { message: 'must be a #rrggbb colour' })
    .superRefine((value, ctx) => {
      if (!/^#[0-9a-fA-F]{6}$/.test(value)) return;
      const ratio = contrastWithWhite(value);
      if (ratio < MIN_CONTRAST) {
        ctx.addIssue({
          code: 'custom',
          message: `white text on ${value} has a contrast of ${ratio.toFixed(2)}:1, below the ${MIN_CONTRAST}:1 WCAG AA needs: choose a darker colour`,
        });
      }
    })
    .optional()
    .describe(
      'The bank’s primary colour (`#rrggbb`): the header and the buttons, under white text. Refused unless white text on it reaches a 4.5:1 contrast (WCAG AA). Default `#0b4f8a`.',
    ),
  BANK_SUPPORT_URL: z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      const parsed = parseClientUri(value);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `the URL ${parsed.reason}` });
    })
    .optional()
    .describe('An https URL of the bank’s help for its customers: the “Aide” / “Help” link in the PSU pages’ header.'),
  PSU_LOCKOUT_DURATION: z.coerce
    .number()
    .int()
    .min(60)
    .default(1800)
    .describe(
      'Seconds a PSU stays blocked after 5 consecutive failed authentication attempts (RTS art. 4(3)(b)). The count is kept in the database.',
    ),
  CBPII_CONSENT_DAYS: z.coerce
    .number()
    .int()
    .min(1)
    .max(3650)
    .default(180)
    .describe('Days a cbpii consent lasts. An aisp consent always lasts 180 days (RTS art. 10a).'),
  AUTHORIZATION_CODE_TTL: z.coerce
    .number()
    .int()
    .min(1)
    .max(60)
    .default(60)
    .describe('Seconds an authorization code stays valid (at most 60).'),
  PAR_EXPIRES_IN: z.coerce
    .number()
    .int()
    .min(5)
    .max(599)
    .default(60)
    .describe('Seconds a pushed authorization request (`request_uri`, RFC 9126) stays usable.'),
  PAYMENT_AUTHORIZATION_TTL: z.coerce
    .number()
    .int()
    .min(60)
    .max(86_400)
    .default(900)
    .describe(
      'Seconds a payment registered by the bank’s resource server waits for the PSU’s approval; after that it is `expired`.',
    ),
  BACK_OFFICE_CLIENT_ID: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._~-]{1,64}$/, 'letters, digits and . _ ~ - (1 to 64)')
    .optional()
    .describe(
      'User name of the bank’s back office on the permission API (`/psus/{psu_id}/permissions`, HTTP Basic). `npx psd2-oauth back-office credentials` makes it with `BACK_OFFICE_SECRET_SHA256`. Unset: the API refuses every call (401).',
    ),
  BACK_OFFICE_SECRET_SHA256: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_-]{43}$/, 'base64url SHA-256 digest (43 characters)')
    .optional()
    .describe(
      'base64url SHA-256 of the back office’s secret (a 256-bit random secret, never stored in clear): from `npx psd2-oauth back-office credentials`. Set with `BACK_OFFICE_CLIENT_ID`.',
    ),
});

export type Settings = z.infer<typeof settings>;

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone !== '';
  } catch {
    return false;
  }
}

export interface Config {
  port: number;
  host: string;
  /** Absent: no admin listener, no metrics. */
  adminPort: number | undefined;
  adminHost: string;
  /** Absent: one listener on `port` serves the PSU pages too. */
  psu:
    | {
        port: number;
        host: string;
        baseUrl: string | undefined;
        tlsCert: string | undefined;
        tlsKey: string | undefined;
      }
    | undefined;
  /** Absent ISSUER: derived from the bound port once the listener is up. */
  issuer: string | undefined;
  mode: 'sandbox' | 'production';
  dataDir: string;
  /** SQLite file, or a PostgreSQL URL (DATABASE_URL=postgres://…). */
  database: DatabaseSetting;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** OpenSSL TLS 1.2 suite list; undefined: the FAPI list. */
  tlsCiphers: string | undefined;
  /** Seconds. */
  hstsMaxAge: number;
  hstsIncludeSubDomains: boolean;
  trustAnchors: string | undefined;
  intermediateCerts: string | undefined;
  trustedProxies: string | undefined;
  logLevel: Settings['LOG_LEVEL'];
  revocationPolicy: 'hard-fail' | 'soft-fail' | 'off';
  /** Seconds. */
  revocationCacheMax: number;
  /** Milliseconds: the deadline of one revocation check. */
  revocationTimeoutMs: number;
  keyEncryptionKey: string | undefined;
  keyEncryptionKeyFile: string | undefined;
  logPseudonymKey: string | undefined;
  signingAlg: Settings['ACCESS_TOKEN_SIGNING_ALG'];
  signingThreads: number;
  /** Seconds. */
  accessTokenTtl: number;
  /** Absent ACCESS_TOKEN_AUDIENCE: `${issuer}/psd2`, once the issuer is known. */
  accessTokenAudience: string | undefined;
  refreshTokenRotation: boolean;
  /** Seconds. */
  purgeInterval: number;
  /** Seconds. */
  purgeRetention: number;
  /** Seconds; PSU pages. */
  psuSessionInactivity: number;
  /** Seconds. */
  psuLockoutDuration: number;
  /** IANA zone of the times on the PSU pages. */
  bankTimeZone: string;
  /** BANK_NAME, BANK_LOGO, BANK_PRIMARY_COLOR, BANK_SUPPORT_URL, validated; the logo file not read yet. */
  branding: {
    name?: string;
    logo?: { url: string } | { path: string };
    primaryColor?: string;
    supportUrl?: string;
  };
  cbpiiConsentDays: number;
  /** Seconds. */
  authorizationCodeTtl: number;
  /** Seconds. */
  parExpiresIn: number;
  /** Seconds. */
  paymentAuthorizationTtl: number;
  /** The bank's back office on the permission API: its user name and the digest of its secret. */
  backOffice: { clientId: string; secretDigest: string } | undefined;
}

export type DatabaseSetting =
  | { kind: 'sqlite'; path: string }
  | {
      kind: 'postgres';
      url: string;
      poolSize: number;
    };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The settings present in `env` (empty means unset) parsed by `schema`; a ConfigError names every bad one. */
function parseSettings<S extends z.ZodObject>(schema: S, env: Record<string, string | undefined>): z.infer<S> {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '');
      return `  ${name}=${JSON.stringify(raw[name] ?? '')}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** What a command that only works on the database reads: no TLS file, no issuer is required. */
export type StorageConfig = Pick<
  Config,
  'mode' | 'dataDir' | 'database' | 'issuer' | 'keyEncryptionKey' | 'keyEncryptionKeyFile'
> & {
  /** BANK_NAME: the issuer of a TOTP enrolment URI. */
  bankName?: string;
};

export function loadStorageConfig(env: Record<string, string | undefined>, cwd = process.cwd()): StorageConfig {
  const s = parseSettings(
    settings.pick({
      MODE: true,
      DATA_DIR: true,
      DATABASE_URL: true,
      POSTGRES_POOL_SIZE: true,
      ISSUER: true,
      KEY_ENCRYPTION_KEY: true,
      KEY_ENCRYPTION_KEY_FILE: true,
      BANK_NAME: true,
    }),
    env,
  );
  const dataDir = resolve(cwd, s.DATA_DIR);
  return {
    mode: s.MODE,
    dataDir,
    database: databaseSetting(s.DATABASE_URL, s.POSTGRES_POOL_SIZE, dataDir, cwd),
    issuer: s.ISSUER?.replace(/\/+$/, ''),
    // Read only by the commands that touch a sealed secret (server/cli/stores.ts).
    keyEncryptionKey: s.KEY_ENCRYPTION_KEY || undefined,
    keyEncryptionKeyFile: s.KEY_ENCRYPTION_KEY_FILE && resolve(cwd, s.KEY_ENCRYPTION_KEY_FILE),
    ...(s.BANK_NAME ? { bankName: s.BANK_NAME } : {}),
  };
}

/** What `psd2-oauth keys` reads besides the database: the configured algorithm and token lifetime. */
export function loadSigningSettings(
  env: Record<string, string | undefined>,
): Pick<Config, 'signingAlg' | 'accessTokenTtl'> {
  const s = parseSettings(settings.pick({ ACCESS_TOKEN_SIGNING_ALG: true, ACCESS_TOKEN_TTL: true }), env);
  return { signingAlg: s.ACCESS_TOKEN_SIGNING_ALG, accessTokenTtl: s.ACCESS_TOKEN_TTL };
}

/** Reads the settings from an environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  const s = parseSettings(settings, env);
  const dataDir = resolve(cwd, s.DATA_DIR);
  const config: Config = {
    port: s.PORT,
    host: s.HOST,
    adminPort: s.ADMIN_PORT,
    adminHost: s.ADMIN_HOST,
    psu:
      s.PSU_PORT === undefined
        ? undefined
        : {
            port: s.PSU_PORT,
            host: s.PSU_HOST ?? s.HOST,
            baseUrl: s.PSU_BASE_URL?.replace(/\/+$/, ''),
            tlsCert: s.PSU_TLS_CERT && resolve(cwd, s.PSU_TLS_CERT),
            tlsKey: s.PSU_TLS_KEY && resolve(cwd, s.PSU_TLS_KEY),
          },
    issuer: s.ISSUER?.replace(/\/+$/, ''),
    mode: s.MODE,
    dataDir,
    database: databaseSetting(s.DATABASE_URL, s.POSTGRES_POOL_SIZE, dataDir, cwd),
    tlsCert: s.TLS_CERT && resolve(cwd, s.TLS_CERT),
    tlsKey: s.TLS_KEY && resolve(cwd, s.TLS_KEY),
    tlsCiphers: s.TLS_CIPHERS,
    hstsMaxAge: s.HSTS_MAX_AGE,
    hstsIncludeSubDomains: s.HSTS_INCLUDE_SUBDOMAINS === 'true',
    trustAnchors: s.TRUST_ANCHORS && resolve(cwd, s.TRUST_ANCHORS),
    intermediateCerts: s.INTERMEDIATE_CERTS && resolve(cwd, s.INTERMEDIATE_CERTS),
    trustedProxies: s.TRUSTED_PROXIES || undefined,
    logLevel: s.LOG_LEVEL,
    revocationPolicy: s.REVOCATION_POLICY ?? (s.MODE === 'production' ? 'hard-fail' : 'soft-fail'),
    revocationCacheMax: s.REVOCATION_CACHE_MAX,
    revocationTimeoutMs: s.REVOCATION_TIMEOUT_MS,
    keyEncryptionKey: s.KEY_ENCRYPTION_KEY || undefined,
    keyEncryptionKeyFile: s.KEY_ENCRYPTION_KEY_FILE && resolve(cwd, s.KEY_ENCRYPTION_KEY_FILE),
    logPseudonymKey: s.LOG_PSEUDONYM_KEY,
    signingAlg: s.ACCESS_TOKEN_SIGNING_ALG,
    signingThreads: s.ACCESS_TOKEN_SIGNING_THREADS ?? (availableParallelism() > 1 ? 1 : 0),
    accessTokenTtl: s.ACCESS_TOKEN_TTL,
    accessTokenAudience: s.ACCESS_TOKEN_AUDIENCE,
    refreshTokenRotation: s.REFRESH_TOKEN_ROTATION === 'true',
    purgeInterval: s.PURGE_INTERVAL,
    purgeRetention: s.PURGE_RETENTION,
    psuSessionInactivity: s.PSU_SESSION_INACTIVITY,
    psuLockoutDuration: s.PSU_LOCKOUT_DURATION,
    bankTimeZone: s.BANK_TIME_ZONE,
    branding: {
      ...(s.BANK_NAME ? { name: s.BANK_NAME } : {}),
      ...(s.BANK_LOGO
        ? {
            logo: /^[a-z][a-z0-9+.-]*:/i.test(s.BANK_LOGO)
              ? { url: new URL(s.BANK_LOGO).href }
              : { path: resolve(cwd, s.BANK_LOGO) },
          }
        : {}),
      ...(s.BANK_PRIMARY_COLOR ? { primaryColor: s.BANK_PRIMARY_COLOR.toLowerCase() } : {}),
      ...(s.BANK_SUPPORT_URL ? { supportUrl: new URL(s.BANK_SUPPORT_URL).href } : {}),
    },
    cbpiiConsentDays: s.CBPII_CONSENT_DAYS,
    authorizationCodeTtl: s.AUTHORIZATION_CODE_TTL,
    parExpiresIn: s.PAR_EXPIRES_IN,
    paymentAuthorizationTtl: s.PAYMENT_AUTHORIZATION_TTL,
    backOffice:
      s.BACK_OFFICE_CLIENT_ID && s.BACK_OFFICE_SECRET_SHA256
        ? { clientId: s.BACK_OFFICE_CLIENT_ID, secretDigest: s.BACK_OFFICE_SECRET_SHA256 }
        : undefined,
  };
  checkConsistency(config, env);
  return config;
}

function databaseSetting(url: string | undefined, poolSize: number, dataDir: string, cwd: string): DatabaseSetting {
  if (!url) return { kind: 'sqlite', path: join(dataDir, 'psd2-oauth.db') };
  if (/^postgres(ql)?:\/\//i.test(url)) {
    if (!URL.canParse(url)) {
      throw new ConfigError('invalid configuration:\n  DATABASE_URL: not a valid postgres:// URL');
    }
    return { kind: 'postgres', url, poolSize };
  }
  const path = url.replace(/^(sqlite|file):(\/\/)?/i, '');
  return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) };
}

/** The database as a log line may show it: a PostgreSQL URL without its password. */
export function describeDatabase(database: DatabaseSetting): string {
  if (database.kind === 'sqlite') return database.path;
  const url = new URL(database.url);
  if (url.password) url.password = '***';
  return url.toString();
}

/** Production refuses every sandbox convenience, and says at once everything that is missing. */
function checkConsistency(config: Config, env: Record<string, string | undefined>): void {
  const problems: string[] = [];
  const unknown = config.tlsCiphers ? unknownCiphers(config.tlsCiphers) : [];
  if (unknown.length > 0) problems.push(`TLS_CIPHERS: unknown cipher suites ${unknown.join(', ')}`);
  if (Boolean(config.tlsCert) !== Boolean(config.tlsKey)) {
    problems.push('TLS_CERT and TLS_KEY go together: set both or neither');
  }
  if (Boolean(env.BACK_OFFICE_CLIENT_ID) !== Boolean(env.BACK_OFFICE_SECRET_SHA256)) {
    problems.push('BACK_OFFICE_CLIENT_ID and BACK_OFFICE_SECRET_SHA256 go together: set both or neither');
  }
  if (config.keyEncryptionKey && config.keyEncryptionKeyFile) {
    problems.push('KEY_ENCRYPTION_KEY and KEY_ENCRYPTION_KEY_FILE exclude each other: set one');
  }
  const psuOnly = ['PSU_HOST', 'PSU_BASE_URL', 'PSU_TLS_CERT', 'PSU_TLS_KEY'] as const;
  if (!config.psu) {
    const stray = psuOnly.filter((name) => env[name]);
    if (stray.length > 0) problems.push(`${stray.join(', ')} need PSU_PORT (the PSU listener)`);
  } else if (Boolean(config.psu.tlsCert) !== Boolean(config.psu.tlsKey)) {
    problems.push('PSU_TLS_CERT and PSU_TLS_KEY go together: set both or neither');
  }
  if (config.mode === 'production') {
    if (!config.keyEncryptionKey && !config.keyEncryptionKeyFile) {
      problems.push(
        'KEY_ENCRYPTION_KEY_FILE (or KEY_ENCRYPTION_KEY) is required in production mode: it encrypts the signing keys and TOTP secrets',
      );
    }
    // In production the PSU's browser must never be asked for a certificate: two listeners.
    if (!config.psu) problems.push('PSU_PORT is required in production mode (the PSU pages get their own listener)');
    else if (!config.psu.baseUrl) problems.push('PSU_BASE_URL is required in production mode, as an https URL');
    else if (!config.psu.baseUrl.startsWith('https://'))
      problems.push('PSU_BASE_URL must be an https URL in production mode');
    if (!config.tlsCert) problems.push('TLS_CERT is required in production mode (no certificate is generated)');
    if (!config.tlsKey) problems.push('TLS_KEY is required in production mode');
    if (!config.trustAnchors) {
      problems.push('TRUST_ANCHORS is required in production mode (the sandbox CA is never trusted)');
    }
    if (!config.issuer) problems.push('ISSUER is required in production mode, as an https URL');
    else if (!config.issuer.startsWith('https://')) problems.push('ISSUER must be an https URL in production mode');
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}
