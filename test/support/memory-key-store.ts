// Signing keys kept in memory, for the tests of the protocol core without a database. Same
// contract as db/stores.ts; one process, so "under the lock" is simply synchronous.
import type { SigningKeyStore, StoredSigningKey } from '../../server/protocol/keys/ports.ts';

export function memoryKeyStore(): SigningKeyStore {
  let keys: StoredSigningKey[] = [];
  let changes = 0;
  const deactivate = (now: number) => {
    keys = keys.map((k) => (k.status === 'active' ? { ...k, status: 'published', deactivatedAt: now } : k));
  };
  const newestFirst = () => [...keys].sort((a, b) => b.createdAt - a.createdAt || a.kid.localeCompare(b.kid));
  return {
    async listPublished() {
      return newestFirst().filter((k) => k.status !== 'retired');
    },
    async list() {
      return newestFirst().map(({ privateJwk: _, ...summary }) => summary);
    },
    async ensure(candidates, activeAlg, now) {
      for (const candidate of candidates) {
        if (!keys.some((k) => k.status !== 'retired' && k.alg === candidate.alg)) {
          keys.push({ ...candidate, status: 'published' });
          changes++;
        }
      }
      if (keys.find((k) => k.status === 'active')?.alg === activeAlg) return;
      const next = newestFirst().find((k) => k.status === 'published' && k.alg === activeAlg);
      if (!next) throw new Error(`no ${activeAlg} signing key to activate`);
      deactivate(now);
      keys = keys.map((k) => (k.kid === next.kid ? { ...k, status: 'active' } : k));
      changes++;
    },
    async insertActive(key, now) {
      deactivate(now);
      keys.push({ ...key, status: 'active' });
      changes++;
    },
    async retire(kid, inactiveBefore, now) {
      const key = keys.find((k) => k.kid === kid && k.status !== 'retired');
      if (!key) return 'unknown';
      if (key.status === 'active') return 'active';
      if (key.deactivatedAt !== null && key.deactivatedAt > inactiveBefore) return 'too_recent';
      keys = keys.map((k) => (k.kid === kid ? { ...k, status: 'retired', deactivatedAt: k.deactivatedAt ?? now } : k));
      changes++;
      return 'retired';
    },
    async version() {
      return String(changes);
    },
  };
}
