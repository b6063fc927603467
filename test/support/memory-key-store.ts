// Signing keys kept in memory, for the tests of the protocol core without a database.
import type { SigningKeyStore, StoredSigningKey } from '../../server/protocol/keys/ports.ts';

export function memoryKeyStore(): SigningKeyStore {
  let keys: StoredSigningKey[] = [];
  return {
    async listPublished() {
      return keys;
    },
    async insert(key) {
      keys.push(key);
    },
    async activate(kid) {
      keys = keys.map((k) => ({ ...k, status: k.kid === kid ? 'active' : 'published' }));
    },
  };
}
