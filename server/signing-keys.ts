// The shipped Signer (protocol/signer.ts): JOSE keys kept in the database, sealed under the
// key-encryption key, opened in this process and used on the signing thread. Every instance on one
// database shares them:
// - created once: start-up generates candidates and the store inserts them under its write lock
//   (SigningKeyStore.ensure), so instances starting together end with one active key;
// - picked up: each instance reads the store's key-set version every `reloadIntervalMs` (1 s) and
//   reloads when it changed, so a key activated elsewhere (`psd2-oauth keys rotate`, another
//   instance) signs here within that bound; a token naming a kid not seen yet triggers a reload at
//   once (`refresh`), so tokens of every instance verify on every other.
import { createPrivateKey } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { Logger } from 'pino';
import { jwsSigner } from './jws-signer.ts';
import type { SigningKeyStore, StoredSigningKey } from './protocol/keys/ports.ts';
import { type PublicJwkSet, publicJwk, SIGNING_ALGS, type Signer, type SigningAlg } from './protocol/signer.ts';
import { type SigningThreads, startSigningThreads } from './signing-threads.ts';

/** A private key opened in this process, for this process's signer and its signing threads only. */
export interface InProcessKey {
  kid: string;
  alg: SigningAlg;
  privateJwk: Record<string, unknown>;
  /** The JWS signature (RFC 7518 §3.3, §3.5, RFC 8037 §3.1) of the signing input, base64url. */
  sign(signingInput: string): string;
}

export interface InProcessSignerOptions {
  store: SigningKeyStore;
  /** The algorithm of the active key (ACCESS_TOKEN_SIGNING_ALG). */
  alg: SigningAlg;
  /** Signing threads beside the event loop; 0 signs on it. */
  threads: number;
  logger: Pick<Logger, 'error' | 'info'>;
  /** Milliseconds between two reads of the key-set version. */
  reloadIntervalMs?: number;
  now?: () => number;
}

export interface InProcessSigner extends Signer {
  /** Signatures asked for and not yet returned, for the metrics. */
  pending(): number;
  close(): Promise<void>;
}

export const DEFAULT_RELOAD_INTERVAL_MS = 1000;
/** A token with an unknown kid reloads the keys at most this often (forged kids cost nothing more). */
const MIN_REFRESH_INTERVAL_MS = 200;

export async function createSigningKey(alg: SigningAlg, now: number): Promise<StoredSigningKey> {
  const options = alg === 'EdDSA' ? { crv: 'Ed25519' } : alg === 'PS256' ? { modulusLength: 2048 } : {};
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...options });
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(privateJwk);
  return {
    kid,
    alg,
    publicJwk: publicJwk(privateJwk, kid, alg),
    privateJwk,
    status: 'published',
    createdAt: now,
    deactivatedAt: null,
  };
}

/**
 * One published key per supported algorithm, and the active one of `alg`: created under the
 * store's lock. Candidates are generated only for the algorithms missing at the first look.
 */
export async function ensureSigningKeys(store: SigningKeyStore, alg: SigningAlg, now: number): Promise<void> {
  const published = await store.listPublished();
  const missing = SIGNING_ALGS.filter((a) => !published.some((k) => k.alg === a));
  const candidates = await Promise.all(missing.map((a) => createSigningKey(a, now)));
  await store.ensure(candidates, alg, now);
}

export function inProcessKey(key: Pick<StoredSigningKey, 'kid' | 'alg' | 'privateJwk'>): InProcessKey {
  const alg = key.alg as SigningAlg;
  return {
    kid: key.kid,
    alg,
    privateJwk: key.privateJwk,
    sign: jwsSigner(alg, createPrivateKey({ key: key.privateJwk as never, format: 'jwk' })),
  };
}

interface Loaded {
  version: string;
  active: InProcessKey;
  jwks: PublicJwkSet;
}

async function load(store: SigningKeyStore): Promise<Loaded> {
  // The version first: a change committed between the two reads shows at the next poll.
  const version = await store.version();
  const keys = await store.listPublished();
  const active = keys.find((k) => k.status === 'active');
  if (!active) throw new Error('no active signing key');
  return {
    version,
    active: inProcessKey(active),
    jwks: { keys: keys.map((k) => publicJwk(k.publicJwk, k.kid, k.alg)) },
  };
}

export async function startInProcessSigner(options: InProcessSignerOptions): Promise<InProcessSigner> {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  await ensureSigningKeys(store, options.alg, now());
  let current = await load(store);
  const threads: SigningThreads | undefined =
    options.threads > 0 ? await startSigningThreads(current.active, options.threads, logger) : undefined;
  // The encoded protected header per extra members, for the current key (the hot path builds none).
  let headers = new Map<string, string>();

  let reloading: Promise<void> | undefined;
  let lastReload = 0;
  const reload = (force: boolean): Promise<void> => {
    reloading ??= (async () => {
      try {
        lastReload = now();
        const version = await store.version();
        if (!force && version === current.version) return;
        const next = await load(store);
        if (next.active.kid !== current.active.kid) {
          threads?.setKey(next.active);
          headers = new Map();
          logger.info({ kid: next.active.kid, alg: next.active.alg }, 'signing key activated');
        }
        current = next;
      } catch (err) {
        // The keys in use stay in use: a database hiccup must not stop token issuance.
        logger.error({ err }, 'signing keys could not be reloaded');
      } finally {
        reloading = undefined;
      }
    })();
    return reloading;
  };
  const timer = setInterval(() => void reload(false), options.reloadIntervalMs ?? DEFAULT_RELOAD_INTERVAL_MS);
  timer.unref();

  return {
    active: () => ({ kid: current.active.kid, alg: current.active.alg }),
    sign(header, payload) {
      const key = current.active;
      const extra = JSON.stringify(header);
      let encoded = headers.get(extra);
      if (!encoded) {
        encoded = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, ...header })).toString('base64url');
        headers.set(extra, encoded);
      }
      const input = `${encoded}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
      const signature = threads ? threads.sign(input) : key.sign(input);
      return typeof signature === 'string' ? `${input}.${signature}` : signature.then((s) => `${input}.${s}`);
    },
    jwks: () => current.jwks,
    async refresh() {
      if (now() - lastReload < MIN_REFRESH_INTERVAL_MS) return reloading;
      return reload(false);
    },
    pending: () => threads?.pending() ?? 0,
    async close() {
      clearInterval(timer);
      await threads?.close();
    },
  };
}
