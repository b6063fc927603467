// Bearer secrets (codes, refresh tokens, registration access tokens) are cut from a pool of CSPRNG
// bytes refilled 4 KiB at a time (server/protocol/secrets.ts). A slip in the pool's bookkeeping
// would hand out the same bytes twice or the zeroes left behind: across many refills, every secret
// must be new, full length, and not the pool's zero fill.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newClientId } from '../../server/protocol/registration.ts';
import { randomSecret } from '../../server/protocol/secrets.ts';

function decoded(secret: string): Buffer {
  assert.match(secret, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
  return Buffer.from(secret, 'base64url');
}

test('secrets across pool refills are unique, full length and never the zeroed bytes', () => {
  const seen = new Set<string>();
  // 4096 / 32 = 128 secrets per refill; mixed sizes make the refill fall mid-secret too.
  const sizes = [32, 32, 17, 32, 48, 5];
  for (let i = 0; i < 6000; i += 1) {
    const bytes = sizes[i % sizes.length] ?? 32;
    const secret = randomSecret(bytes);
    const raw = decoded(secret);
    assert.equal(raw.length, bytes);
    if (bytes >= 16) {
      assert.ok(
        raw.some((byte) => byte !== 0),
        `secret ${i} is all zero bytes`,
      );
      assert.ok(!seen.has(secret), `secret ${i} was handed out before`);
      seen.add(secret);
    }
  }
  assert.equal(randomSecret().length, 43, '32 bytes are 43 base64url characters');
});

test('no two secrets share their bytes: consecutive secrets do not overlap in the pool', () => {
  // If the offset did not move on, the next secret would start with the previous one's tail.
  let previous = decoded(randomSecret(32));
  for (let i = 0; i < 2000; i += 1) {
    const next = decoded(randomSecret(32));
    // At least 8 bytes of overlap: a shorter match happens by chance.
    for (let shift = 1; shift <= 24; shift += 1) {
      const tail = previous.subarray(shift);
      assert.ok(
        !next.subarray(0, tail.length).equals(tail),
        `secret ${i} repeats ${tail.length} bytes of the one before`,
      );
    }
    previous = next;
  }
});

test('a secret larger than the pool is drawn on its own', () => {
  const big = decoded(randomSecret(5000));
  assert.equal(big.length, 5000);
  assert.ok(big.some((byte) => byte !== 0));
});

test('client ids never begin with "-", which a command line would read as an option', () => {
  // One base64url draw in 64 begins with '-': 20,000 ids would hold about 300 of them.
  for (let i = 0; i < 20_000; i += 1) {
    const clientId = newClientId();
    assert.ok(!clientId.startsWith('-'), clientId);
    assert.equal(decoded(clientId).length, 18);
  }
});
