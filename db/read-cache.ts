// Caches for the lookups every token and introspection request makes (its client, the resource
// server's credentials, whether a jti was revoked). Within this process every write goes through
// the store that owns the cache, which updates or drops the entry in the same call. Writes from
// elsewhere (the CLI on the same SQLite file, another instance on the same PostgreSQL database)
// reach the caches through the backend's change feed (change-feed.ts): an entry is dropped, or
// every cache is emptied, before the next read that could see it.
//
// As a safety net no entry lives longer than `maxAgeMs` (10 s by default), so that even a change
// the feed could not report (a bug, an operator's manual UPDATE without NOTIFY) is seen in bounded
// time; the feed, not the age, is what keeps the caches exact.
import type { StorageObserver } from '../server/protocol/operations/ports.ts';
import type { ChangeFeed } from './change-feed.ts';

export interface ReadCache<V> {
  /** The cached value, `undefined` when absent (callers cache "not found" as `null`). */
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
  /**
   * The cached value, or `read()`'s, cached unless a change to this cache was reported while
   * `read` ran: a row read before another instance's commit must not outlive its notification.
   */
  load(key: string, read: () => Promise<V>): Promise<V>;
}

export interface ReadCaches {
  /** `name` is the cache a change notification names (change-feed.ts, CACHE_NAMES). */
  create<V>(name: string, maxEntries: number): ReadCache<V>;
}

export const DEFAULT_MAX_AGE_MS = 10_000;

export function createReadCaches(
  feed: ChangeFeed,
  options: { maxAgeMs?: number /** Counts hits and misses per cache (metrics). */; observer?: StorageObserver } = {},
): ReadCaches {
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const byName = new Map<string, { map: Map<string, { value: unknown; at: number }>; changes: number }>();
  feed.subscribe((change) => {
    if (change === 'all') {
      for (const cache of byName.values()) {
        cache.map.clear();
        cache.changes++;
      }
      return;
    }
    const cache = byName.get(change.cache);
    if (!cache) return;
    cache.map.delete(change.key);
    cache.changes++;
  });

  return {
    create<V>(name: string, maxEntries: number): ReadCache<V> {
      const map = new Map<string, { value: V; at: number }>();
      const state = { map: map as Map<string, { value: unknown; at: number }>, changes: 0 };
      byName.set(name, state);
      const fresh = (key: string): V | undefined => {
        // A feed that cannot vouch for its caches (its connection is down) answers from the database.
        if (!feed.trusted) return undefined;
        const entry = map.get(key);
        if (!entry) return undefined;
        if (performance.now() - entry.at > maxAgeMs) {
          map.delete(key);
          return undefined;
        }
        return entry.value;
      };
      const cache: ReadCache<V> = {
        get(key) {
          feed.beforeRead();
          const value = fresh(key);
          options.observer?.cacheLookup(name, value !== undefined);
          return value;
        },
        set(key, value) {
          if (!feed.trusted) return;
          // Oldest first out: a Map iterates in insertion order.
          map.delete(key);
          if (map.size >= maxEntries) map.delete(map.keys().next().value as string);
          map.set(key, { value, at: performance.now() });
        },
        delete(key) {
          map.delete(key);
        },
        async load(key, read) {
          const hit = cache.get(key);
          if (hit !== undefined) return hit;
          const changes = state.changes;
          const value = await read();
          if (state.changes === changes) cache.set(key, value);
          return value;
        },
      };
      return cache;
    },
  };
}
