// The pure core: JWT access tokens, and what introspection and revocation make of expired ones.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { importJWK, jwtVerify } from 'jose';
import { createAccessTokens } from '../../server/protocol/access-tokens.ts';
import { introspect } from '../../server/protocol/introspection.ts';
import type { ClientRecord } from '../../server/protocol/registration/ports.ts';
import { revokeToken } from '../../server/protocol/revocation.ts';
import type { SigningAlg } from '../../server/protocol/signer.ts';
import { type InProcessSigner, startInProcessSigner } from '../../server/signing-keys.ts';
import { memoryKeyStore } from '../support/memory-key-store.ts';

const signers: InProcessSigner[] = [];
async function loadSigningKeys(store: ReturnType<typeof memoryKeyStore>, alg: SigningAlg, now: number) {
  const signer = await startInProcessSigner({
    store,
    alg,
    threads: 0,
    logger: { error() {}, info() {} } as never,
    now: () => now,
  });
  signers.push(signer);
  return signer;
}
after(async () => {
  await Promise.all(signers.map((s) => s.close()));
});

const ISSUER = 'https://as.example';
const NOW = 1_800_000_000_000;
const request = { sub: 'psu-1', clientId: 'client-1', scope: 'pisp', thumbprint: 'x'.repeat(43) };

describe('access tokens (RFC 9068)', () => {
  let keys: InProcessSigner;
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

  for (const alg of ['EdDSA', 'PS256'] as const) {
    test(`${alg} when configured, verified with the published key`, async () => {
      const set = await loadSigningKeys(memoryKeyStore(), alg, NOW);
      const tokens = createAccessTokens({ issuer: ISSUER, audience: 'a', ttl: 60, keys: set });
      const { token } = await tokens.issue(request, NOW);
      const header = JSON.parse(atob(token.split('.')[0]!));
      assert.equal(header.alg, alg);
      const published = set.jwks().keys.find((k) => k.kid === header.kid);
      assert.equal(published?.alg, alg);
      await jwtVerify(token, await importJWK(published!, alg), {
        issuer: ISSUER,
        audience: 'a',
        currentDate: new Date(NOW),
      });
      assert.ok(await tokens.verify(token, NOW));
    });
  }

  test('a token signed before a change of algorithm still verifies after it', async () => {
    const store = memoryKeyStore();
    const before = createAccessTokens({
      issuer: ISSUER,
      audience: 'a',
      ttl: 60,
      keys: await loadSigningKeys(store, 'ES256', NOW),
    });
    const { token } = await before.issue(request, NOW);
    const after = createAccessTokens({
      issuer: ISSUER,
      audience: 'a',
      ttl: 60,
      keys: await loadSigningKeys(store, 'EdDSA', NOW),
    });
    assert.equal(JSON.parse(atob((await after.issue(request, NOW)).token.split('.')[0]!)).alg, 'EdDSA');
    assert.ok(await after.verify(token, NOW));
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
      payments: { find: async () => undefined },
    };
    assert.equal((await introspect({ ...deps, now: () => NOW }, token)).active, true);
    assert.deepEqual(await introspect({ ...deps, now: later }, token), { active: false });
    await revokeToken({ ...deps, now: later }, { clientId: 'client-1' } as ClientRecord, token);
  });
});
