// Caches for the lookups every token and introspection request makes (its client, the resource
// server's credentials, whether a jti was revoked). Within this process every write goes through
// the store that owns the cache, which updates or drops the entry in the same call. Another process
// may commit to the same file (the CLI disabling a resource server, revoking a consent): SQLite
// reports that through PRAGMA data_version, which changes only for commits of other connections,
// and every cache is emptied before the next read. The check runs once per event-loop turn, so a
// commit that finished before a request arrived is always seen by it.
import { setImmediate } from 'node:timers';
import type { StorageObserver } from '../server/protocol/operations/ports.ts';
import type { Db } from './sqlite.ts';

export interface ReadCache<V> {
  /** The cached value, `undefined` when absent (callers cache "not found" as `null`). */
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
}

export interface ReadCaches {
  /** `name` labels the cache's hit ratio in the metrics. */
  create<V>(maxEntries: number, name: string): ReadCache<V>;
}

export function createReadCaches(db: Db, observer?: StorageObserver): ReadCaches {
  const dataVersion = db.$client.prepare('PRAGMA data_version').pluck();
  let seen = dataVersion.get();
  let checkedThisTurn = false;
  const all: Map<string, unknown>[] = [];

  const dropIfChangedElsewhere = () => {
    if (checkedThisTurn) return;
    checkedThisTurn = true;
    setImmediate(() => {
      checkedThisTurn = false;
    }).unref();
    const version = dataVersion.get();
    if (version === seen) return;
    seen = version;
    for (const map of all) map.clear();
  };

  return {
    create<V>(maxEntries: number, name: string): ReadCache<V> {
      const map = new Map<string, V>();
      all.push(map);
      return {
        get(key) {
          dropIfChangedElsewhere();
          const value = map.get(key);
          observer?.cacheLookup(name, value !== undefined);
          return value;
        },
        set(key, value) {
          // Oldest first out: a Map iterates in insertion order.
          if (map.size >= maxEntries && !map.has(key)) map.delete(map.keys().next().value as string);
          map.set(key, value);
        },
        delete(key) {
          map.delete(key);
        },
      };
    },
  };
}
