import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { flattenedVerify, importJWK } from 'jose';
import { pino } from 'pino';
import { publicJwk, SIGNING_ALGS, type SigningAlg } from '../../server/protocol/signer.ts';
import { createSigningKey, type InProcessKey, inProcessKey } from '../../server/signing-keys.ts';
import { startSigningThreads } from '../../server/signing-threads.ts';

const logger = pino({ level: 'silent' });

async function keyOf(alg: SigningAlg): Promise<{ active: InProcessKey; jwks: { keys: Record<string, unknown>[] } }> {
  const stored = await createSigningKey(alg, Date.now());
  return { active: inProcessKey(stored), jwks: { keys: [publicJwk(stored.privateJwk, stored.kid, alg)] } };
}

async function verifies(
  jwks: { keys: Record<string, unknown>[] },
  kid: string,
  alg: string,
  input: string,
  signature: string,
) {
  const jwk = jwks.keys.find((k) => k.kid === kid)!;
  const [protectedHeader, payload] = input.split('.');
  await flattenedVerify({ protected: protectedHeader!, payload: payload!, signature }, await importJWK(jwk, alg));
}

describe('signing threads', () => {
  for (const alg of SIGNING_ALGS) {
    test(`${alg}: signatures from the thread verify with the published key, each for its own input`, async () => {
      const keys = await keyOf(alg);
      const threads = await startSigningThreads(keys.active, 2, logger);
      try {
        const header = Buffer.from(JSON.stringify({ alg, kid: keys.active.kid })).toString('base64url');
        const inputs = Array.from(
          { length: 40 },
          (_, i) => `${header}.${Buffer.from(`{"n":${i}}`).toString('base64url')}`,
        );
        const signatures = await Promise.all(inputs.map((input) => threads.sign(input)));
        await Promise.all(inputs.map((input, i) => verifies(keys.jwks, keys.active.kid, alg, input, signatures[i]!)));
        await assert.rejects(
          verifies(keys.jwks, keys.active.kid, alg, inputs[0]!, signatures[1]!),
          'not interchangeable',
        );
      } finally {
        await threads.close();
      }
    });
  }

  test('signatures still in a thread when it stops are made on the main thread: none is lost', async () => {
    const keys = await keyOf('EdDSA');
    const threads = await startSigningThreads(keys.active, 1, logger);
    const header = Buffer.from(JSON.stringify({ alg: 'EdDSA' })).toString('base64url');
    const inputs = Array.from(
      { length: 200 },
      (_, i) => `${header}.${Buffer.from(`{"n":${i}}`).toString('base64url')}`,
    );
    const pending = inputs.map((input) => threads.sign(input));
    await new Promise((resolve) => setImmediate(resolve)); // the batch is on its way to the thread
    await threads.close();
    const signatures = await Promise.all(pending);
    await Promise.all(inputs.map((input, i) => verifies(keys.jwks, keys.active.kid, 'EdDSA', input, signatures[i]!)));
    // And after: signed on the main thread.
    const after = await threads.sign(inputs[0]!);
    await verifies(keys.jwks, keys.active.kid, 'EdDSA', inputs[0]!, after);
  });

  test('a key change: what was queued before is signed by the former key, what follows by the new one', async () => {
    const first = await keyOf('EdDSA');
    const second = await keyOf('ES256');
    const threads = await startSigningThreads(first.active, 1, logger);
    try {
      const inputOf = (key: InProcessKey, n: number) =>
        `${Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid })).toString('base64url')}.${Buffer.from(`{"n":${n}}`).toString('base64url')}`;
      const before = Array.from({ length: 20 }, (_, i) => inputOf(first.active, i));
      const pendingBefore = before.map((input) => threads.sign(input));
      threads.setKey(second.active);
      const after = Array.from({ length: 20 }, (_, i) => inputOf(second.active, i));
      const pendingAfter = after.map((input) => threads.sign(input));
      const [a, b] = await Promise.all([Promise.all(pendingBefore), Promise.all(pendingAfter)]);
      await Promise.all(before.map((input, i) => verifies(first.jwks, first.active.kid, 'EdDSA', input, a[i]!)));
      await Promise.all(after.map((input, i) => verifies(second.jwks, second.active.kid, 'ES256', input, b[i]!)));
    } finally {
      await threads.close();
    }
  });

  test('a thread that cannot start leaves the signing to the main thread, and says so', async () => {
    const keys = await keyOf('EdDSA');
    const errors: string[] = [];
    const broken = { ...keys.active, privateJwk: { kty: 'OKP', crv: 'Ed25519' } }; // no private part
    const threads = await startSigningThreads(broken, 1, {
      error: (_obj: unknown, msg?: string) => errors.push(msg ?? ''),
    } as never);
    try {
      const input = `${Buffer.from('{"alg":"EdDSA"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}`;
      await verifies(keys.jwks, keys.active.kid, 'EdDSA', input, await threads.sign(input));
      assert.deepEqual(errors, ['signing thread did not start: signing on the main thread']);
    } finally {
      await threads.close();
    }
  });
});
