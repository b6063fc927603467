// The load generators' HTTP client: undici pools of keep-alive mTLS connections, and the few
// helpers the scenarios need (forms, JSON, Basic credentials, cookies, PKCE).
import { createHash, randomBytes } from 'node:crypto';
import { BalancedPool, type Dispatcher, Pool } from 'undici';
import type { BenchPki } from './pki.ts';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T;
}

/** `connections` keep-alive TLS connections to `origin`, presenting the TPP certificate or none. */
export function connectionPool(origin: string, pki: BenchPki, connections: number, clientCertificate: boolean): Pool {
  return new Pool(origin, poolOptions(pki, connections, clientCertificate));
}

/**
 * Several instances behind one database, as behind a load balancer without stickiness: requests
 * go to the origins in turn (undici's BalancedPool), `connections` split between them.
 */
export function spreadPool(
  origins: string[],
  pki: BenchPki,
  connections: number,
  clientCertificate: boolean,
): Dispatcher {
  if (origins.length === 1) return connectionPool(origins[0]!, pki, connections, clientCertificate);
  const each = Math.max(1, Math.ceil(connections / origins.length));
  return new BalancedPool(origins, poolOptions(pki, each, clientCertificate));
}

function poolOptions(pki: BenchPki, connections: number, clientCertificate: boolean): Pool.Options {
  return {
    connections,
    pipelining: 1,
    keepAliveTimeout: 600_000,
    keepAliveMaxTimeout: 600_000,
    connect: {
      ca: pki.caPem,
      servername: 'localhost',
      ...(clientCertificate ? { cert: pki.tppCertPem, key: pki.tppKeyPem } : {}),
    },
  };
}

export interface SendOptions {
  form?: Record<string, string> | URLSearchParams;
  json?: unknown;
  headers?: Record<string, string>;
}

export async function send(pool: Dispatcher, method: string, path: string, options: SendOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.form) {
    body = new URLSearchParams(options.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  }
  const res = await pool.request({ method: method as 'GET', path, headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) };
}

export function basic(id: string, secret: string): Record<string, string> {
  return {
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
  };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function randomState(): string {
  return randomBytes(12).toString('base64url');
}

/** The cookies of one browser-less PSU: name=value pairs, path and flags ignored. */
export class CookieJar {
  #cookies = new Map<string, string>();

  store(reply: Reply): void {
    const setCookie = reply.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = line.split(';', 1)[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq > 0) this.#cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }

  header(): Record<string, string> {
    if (this.#cookies.size === 0) return {};
    return { cookie: [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }
}

/** The path and query of a same-origin Location header, or its parameters for a client redirect. */
export function location(reply: Reply): URL {
  const value = reply.headers.location;
  if (typeof value !== 'string')
    throw new Error(`expected a redirect, got ${reply.status}: ${reply.text.slice(0, 300)}`);
  return new URL(value, 'https://localhost');
}
