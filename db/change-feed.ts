// The change feed: how the read caches (read-cache.ts) learn of commits made elsewhere, one
// implementation per backend.
//
// SQLite: another process (the CLI) commits to the same file. PRAGMA data_version changes only for
// commits of other connections; it is read once per event-loop turn before a cached read, and a
// change empties every cache. A commit that finished before a request arrived is always seen by it.
//
// PostgreSQL: other instances commit to the same database. Every transaction that changes a cached
// row sends `NOTIFY psd2_oauth_changes, '<cache>:<key>'` itself (PostgreSQL delivers it at commit,
// never for a rollback), and every instance LISTENs on a dedicated connection. Contract: an
// instance drops the entry when the notification arrives, a few milliseconds after the commit
// (the documented bound is 100 ms). While the notification connection is down the caches are
// emptied and bypassed (every read goes to the database), and they are trusted again only once
// LISTEN is back: a lost connection never leaves a cache stale. A connection that hangs without
// closing is found by a heartbeat on it (HEARTBEAT_MS).
import { setImmediate } from 'node:timers';
import type postgres from 'postgres';

/** The cache names a notification may carry (also the metrics' labels). */
export const CACHE_NAMES = {
  clients: 'client',
  resourceServers: 'resource_server',
  revokedAccessTokens: 'revoked_jti',
} as const;

export type Change = 'all' | { cache: string; key: string };

export interface ChangeFeed {
  /** Called before every cached read: the SQLite feed compares data_version there. */
  beforeRead(): void;
  /** False while the feed cannot report every change (its connection is down): caches are bypassed. */
  readonly trusted: boolean;
  subscribe(listener: (change: Change) => void): void;
  close(): Promise<void>;
}

export function sqliteChangeFeed(dataVersion: () => unknown): ChangeFeed {
  const listeners: ((change: Change) => void)[] = [];
  let seen = dataVersion();
  let checkedThisTurn = false;
  return {
    trusted: true,
    beforeRead() {
      if (checkedThisTurn) return;
      checkedThisTurn = true;
      setImmediate(() => {
        checkedThisTurn = false;
      }).unref();
      const version = dataVersion();
      if (version === seen) return;
      seen = version;
      for (const listener of listeners) listener('all');
    },
    subscribe(listener) {
      listeners.push(listener);
    },
    async close() {},
  };
}

export const NOTIFY_CHANNEL = 'psd2_oauth_changes';
/** How often the notification connection proves it is alive, and how long it may take to answer. */
export const HEARTBEAT_MS = 1_000;
const RECONNECT_MS = [50, 100, 250, 500, 1_000];

type Sql = postgres.Sql;

/**
 * LISTEN on its own connection (never one of the pool's: a pooled connection would lose its LISTEN
 * when recycled). `connect` opens that connection with the given notify and close callbacks.
 */
export async function postgresChangeFeed(
  connect: (handlers: { onnotify: (channel: string, payload: string) => void; onclose: () => void }) => Sql,
  options: { onState?: (state: 'listening' | 'lost', error?: unknown) => void } = {},
): Promise<ChangeFeed> {
  const listeners: ((change: Change) => void)[] = [];
  const emit = (change: Change) => {
    for (const listener of listeners) listener(change);
  };
  let trusted = false;
  let closed = false;
  let attempt = 0;
  let reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let connection: Sql | undefined;

  const lost = (error?: unknown) => {
    if (closed) return;
    const wasTrusted = trusted;
    trusted = false;
    emit('all');
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = undefined;
    const old = connection;
    connection = undefined;
    void old?.end({ timeout: 0 }).catch(() => {});
    if (wasTrusted) options.onState?.('lost', error);
    if (!reconnectTimer) {
      const delay = RECONNECT_MS[Math.min(attempt++, RECONNECT_MS.length - 1)];
      reconnectTimer = setTimeout(() => {
        reconnectTimer = undefined;
        void listen();
      }, delay);
      reconnectTimer.unref?.();
    }
  };

  const listen = async (): Promise<void> => {
    if (closed) return;
    const sql = connect({
      onnotify(channel, payload) {
        if (channel !== NOTIFY_CHANNEL) return;
        const colon = payload.indexOf(':');
        emit(colon < 0 ? 'all' : { cache: payload.slice(0, colon), key: payload.slice(colon + 1) });
      },
      onclose() {
        if (connection === sql) lost(new Error('notification connection closed'));
      },
    });
    connection = sql;
    try {
      await sql.unsafe(`listen ${NOTIFY_CHANNEL}`);
    } catch (error) {
      if (connection === sql) lost(error);
      return;
    }
    if (connection !== sql || closed) return;
    attempt = 0;
    // Anything may have changed while nobody listened: start from empty caches.
    emit('all');
    trusted = true;
    options.onState?.('listening');
    heartbeat = setInterval(() => {
      const timeout = setTimeout(() => {
        if (connection === sql) lost(new Error('notification connection did not answer'));
      }, HEARTBEAT_MS);
      sql`select 1`.then(
        () => clearTimeout(timeout),
        (error) => {
          clearTimeout(timeout);
          if (connection === sql) lost(error);
        },
      );
    }, HEARTBEAT_MS);
    heartbeat.unref?.();
  };

  await listen();
  return {
    get trusted() {
      return trusted;
    },
    beforeRead() {},
    subscribe(listener) {
      listeners.push(listener);
    },
    async close() {
      closed = true;
      trusted = false;
      if (heartbeat) clearInterval(heartbeat);
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const sql = connection;
      connection = undefined;
      await sql?.end({ timeout: 1 });
    },
  };
}
