// The pure core: JWT access tokens, and what introspection and revocation make of expired ones.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createAccessTokens } from '../../server/protocol/access-tokens.ts';
import { introspect } from '../../server/protocol/introspection.ts';
import type { ClientRecord, SigningKeyStore, StoredSigningKey } from '../../server/protocol/ports.ts';
import { revokeToken } from '../../server/protocol/revocation.ts';
import { loadSigningKeys, type SigningKeySet } from '../../server/protocol/signing-keys.ts';

function memoryKeyStore(): SigningKeyStore {
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

const ISSUER = 'https://as.example';
const NOW = 1_800_000_000_000;
const request = { sub: 'psu-1', clientId: 'client-1', scope: 'pisp', thumbprint: 'x'.repeat(43) };

describe('access tokens (RFC 9068)', () => {
  let keys: SigningKeySet;
  before(async () => {
    keys = await loadSigningKeys(memoryKeyStore(), 'ES256', NOW);
  });

  test('verify accepts its own tokens until exp, and nothing else', async () => {
    const tokens = createAccessTokens({ issuer: ISSUER, audience: `${ISSUER}/psd2`, ttl: 300, keys });
    const { token, claims } = await tokens.issue(request, NOW);
    assert.equal(claims.exp - claims.iat, 300);
    assert.deepEqual(await tokens.verify(token, NOW + 299_000), claims);
    assert.equal(await tokens.verify(token, NOW + 301_000), undefined, 'expired');
    const otherAudience = createAccessTokens({ issuer: ISSUER, audience: 'https://elsewhere', ttl: 300, keys });
    assert.equal(await otherAudience.verify(token, NOW), undefined);
    const [h, p] = token.split('.');
    assert.equal(await tokens.verify(`${h}.${p}.AAAA`, NOW), undefined, 'bad signature');
    assert.equal(await tokens.verify('not-a-jwt', NOW), undefined);
  });

  test('PS256 when configured', async () => {
    const ps = await loadSigningKeys(memoryKeyStore(), 'PS256', NOW);
    const tokens = createAccessTokens({ issuer: ISSUER, audience: 'a', ttl: 60, keys: ps });
    const { token } = await tokens.issue(request, NOW);
    assert.equal(JSON.parse(atob(token.split('.')[0]!)).alg, 'PS256');
    assert.ok(await tokens.verify(token, NOW));
  });

  test('an expired token is inactive at introspection, and revoking it records nothing', async () => {
    const tokens = createAccessTokens({ issuer: ISSUER, audience: 'a', ttl: 60, keys });
    const { token } = await tokens.issue(request, NOW);
    const later = () => NOW + 61_000;
    const deps = {
      clients: { find: async () => ({ clientId: 'client-1' }) as ClientRecord },
      grants: { find: async () => undefined, revoke: async () => true },
      revokedAccessTokens: {
        isRevoked: async () => false,
        revoke: async () => {
          throw new Error('nothing to record for an expired token');
        },
      },
      accessTokens: tokens,
    };
    assert.equal((await introspect({ ...deps, now: () => NOW }, token)).active, true);
    assert.deepEqual(await introspect({ ...deps, now: later }, token), { active: false });
    await revokeToken({ ...deps, now: later }, { clientId: 'client-1' } as ClientRecord, token);
  });
});
