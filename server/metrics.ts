// Prometheus metrics (prom-client, text format 0.0.4), served only on the admin listener. Collected
// only when ADMIN_PORT is set; each observation on the hot path is a counter increment or a histogram
// bucket update: no allocation beyond the label lookup, no I/O.
import type { MiddlewareHandler } from 'hono';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AppEnv } from './http/env.ts';
import type { StorageObserver } from './protocol/operations/ports.ts';
import type { AuthenticationEvent } from './protocol/psu/ports.ts';

export interface Metrics {
  registry: Registry;
  storage: StorageObserver;
  /** Request counts, latencies, tokens issued, client-authentication failures: a middleware of the app. */
  http: MiddlewareHandler<AppEnv>;
  /** A PSU authentication event, as it is written to the authentication log. */
  psuEvent(event: Pick<AuthenticationEvent, 'event'>): void;
  /** A certificate revocation check (OCSP/CRL) and its outcome. */
  revocationCheck(outcome: 'good' | 'revoked' | 'unknown' | 'error'): void;
  /** Reads a gauge's value when scraped. */
  watchSigningQueue(depth: () => number): void;
  exposition(): Promise<{ contentType: string; body: string }>;
}

const GRANT_TYPES = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

/**
 * Why a client authentication failed, as a bounded label. The descriptions come from
 * protocol/client-authentication.ts and http/tpp-authentication.ts (the certificate checks).
 */
export function clientAuthenticationReason(description: string, detail: string | undefined): string {
  const text = `${description} ${detail ?? ''}`;
  if (/no client certificate/i.test(text)) return 'no_certificate';
  if (/suspended/i.test(text)) return 'suspended';
  if (/client_id is required/i.test(text)) return 'missing_client_id';
  if (/unknown or deleted client/i.test(text)) return 'unknown_client';
  if (/^organisation|organisation .* is not/i.test(detail ?? '')) return 'organization_mismatch';
  if (/subject DN/i.test(detail ?? '')) return 'subject_dn_mismatch';
  if (/auth method/i.test(detail ?? '')) return 'auth_method';
  if (/expired|not yet valid/i.test(text)) return 'certificate_expired';
  if (/revoked/i.test(text)) return 'certificate_revoked';
  if (/QcType|PSD2 statement|QCStatement|role/i.test(text)) return 'certificate_not_psd2';
  if (/certificate|chain|trust/i.test(text)) return 'certificate_invalid';
  return 'other';
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  // The hot path only adds to plain numbers; prom-client reads them when scraped (collect), which
  // spares it hashing the labels on every request.
  const requestCounts = new Map<string, { route: string; method: string; status: string; n: number }>();
  const cacheCounts = new Map<string, { cache: string; result: string; n: number }>();
  new Counter({
    name: 'psd2_oauth_http_requests_total',
    help: 'HTTP requests answered, by route (the matched path template), method and status.',
    labelNames: ['route', 'method', 'status'],
    registers,
    collect() {
      this.reset();
      for (const { route, method, status, n } of requestCounts.values()) this.inc({ route, method, status }, n);
    },
  });
  const latency = new Histogram({
    name: 'psd2_oauth_http_request_duration_seconds',
    help: 'Time from the request reaching the application to its response, by route and method.',
    labelNames: ['route', 'method'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const tokenCounts = new Map<string, number>();
  new Counter({
    name: 'psd2_oauth_tokens_issued_total',
    help: 'Access tokens issued by the token endpoint, by grant type.',
    labelNames: ['grant_type'],
    registers,
    collect() {
      this.reset();
      for (const [grant_type, n] of tokenCounts) this.inc({ grant_type }, n);
    },
  });
  const clientAuthFailures = new Counter({
    name: 'psd2_oauth_client_authentication_failures_total',
    help: 'TPP client authentications refused (401 invalid_client), by reason.',
    labelNames: ['reason'],
    registers,
  });
  const psuFailures = new Counter({
    name: 'psd2_oauth_psu_authentication_failures_total',
    help: 'Failed PSU authentication steps, by factor (login: password, sca: one-time code).',
    labelNames: ['step'],
    registers,
  });
  const psuLockouts = new Counter({
    name: 'psd2_oauth_psu_lockouts_total',
    help: 'PSUs blocked after 5 consecutive failures (RTS art. 4(3)(b)).',
    registers,
  });
  const revocation = new Counter({
    name: 'psd2_oauth_certificate_revocation_checks_total',
    help: 'Revocation checks of TPP certificates (OCSP/CRL), by outcome.',
    labelNames: ['outcome'],
    registers,
  });
  const commitLatency = new Histogram({
    name: 'psd2_oauth_db_commit_duration_seconds',
    help: 'Duration of a group commit, BEGIN to COMMIT, fsync included.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  const commitBatch = new Histogram({
    name: 'psd2_oauth_db_commit_batch_size',
    help: 'Writes carried by one group commit (one transaction, one fsync).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers,
  });
  new Counter({
    name: 'psd2_oauth_cache_lookups_total',
    help: 'Read-cache lookups on the hot path, by cache and result (hit or miss): the hit ratio is hit / (hit + miss).',
    labelNames: ['cache', 'result'],
    registers,
    collect() {
      this.reset();
      for (const { cache, result, n } of cacheCounts.values()) this.inc({ cache, result }, n);
    },
  });
  let signingQueue: (() => number) | undefined;
  new Gauge({
    name: 'psd2_oauth_signing_queue_depth',
    help: 'Access-token signatures waiting for or on the signing thread.',
    registers,
    collect() {
      this.set(signingQueue?.() ?? 0);
    },
  });

  const latencyChildren = new Map<string, { observe(value: number): void }>();
  return {
    registry,
    storage: {
      commit(batchSize, seconds) {
        commitLatency.observe(seconds);
        commitBatch.observe(batchSize);
      },
      cacheLookup(cache, found) {
        const key = found ? `${cache} hit` : `${cache} miss`;
        const entry = cacheCounts.get(key);
        if (entry) entry.n++;
        else cacheCounts.set(key, { cache, result: found ? 'hit' : 'miss', n: 1 });
      },
    },
    http: async (c, next) => {
      const started = performance.now();
      await next();
      const route = c.req.matchedRoutes.findLast((r) => r.method !== 'ALL')?.path ?? 'unmatched';
      const status = c.res.status;
      const method = c.req.method;
      const key = `${route} ${method} ${status}`;
      const counted = requestCounts.get(key);
      if (counted) counted.n++;
      else requestCounts.set(key, { route, method, status: String(status), n: 1 });
      const latencyKey = `${route} ${method}`;
      let child = latencyChildren.get(latencyKey);
      if (!child) {
        child = latency.labels(route, method);
        latencyChildren.set(latencyKey, child);
      }
      child.observe((performance.now() - started) / 1000);
      if (route === '/token' && status === 200) {
        const grantType = c.get('form')?.grant_type ?? '';
        const label = GRANT_TYPES.has(grantType) ? grantType : 'other';
        tokenCounts.set(label, (tokenCounts.get(label) ?? 0) + 1);
      }
      if (status === 401 && c.get('errorCode') === 'invalid_client') {
        clientAuthFailures
          .labels(clientAuthenticationReason(c.get('errorDescription') ?? '', c.get('errorDetail')))
          .inc();
      }
    },
    psuEvent(event) {
      if (event.event === 'login.failed') psuFailures.labels('login').inc();
      else if (event.event === 'sca.failed') psuFailures.labels('sca').inc();
      else if (event.event === 'psu.locked') psuLockouts.inc();
    },
    revocationCheck(outcome) {
      revocation.labels(outcome).inc();
    },
    watchSigningQueue(depth) {
      signingQueue = depth;
    },
    async exposition() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
