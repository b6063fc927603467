import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { flattenedVerify, importJWK } from 'jose';
import { pino } from 'pino';
import { loadSigningKeys, SIGNING_ALGS } from '../../server/protocol/signing-keys.ts';
import { startSigningThreads } from '../../server/signing-threads.ts';
import { memoryKeyStore } from '../support/memory-key-store.ts';

const logger = pino({ level: 'silent' });

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
      const keys = await loadSigningKeys(memoryKeyStore(), alg);
      const threads = await startSigningThreads(keys.active, 2, logger);
      try {
        const header = Buffer.from(JSON.stringify({ alg, kid: keys.active.kid })).toString('base64url');
        const inputs = Array.from(
          { length: 40 },
          (_, i) => `${header}.${Buffer.from(`{"n":${i}}`).toString('base64url')}`,
        );
        const signatures = await Promise.all(inputs.map((input) => threads.key.sign(input)));
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
    const keys = await loadSigningKeys(memoryKeyStore(), 'EdDSA');
    const threads = await startSigningThreads(keys.active, 1, logger);
    const header = Buffer.from(JSON.stringify({ alg: 'EdDSA' })).toString('base64url');
    const inputs = Array.from(
      { length: 200 },
      (_, i) => `${header}.${Buffer.from(`{"n":${i}}`).toString('base64url')}`,
    );
    const pending = inputs.map((input) => threads.key.sign(input));
    await new Promise((resolve) => setImmediate(resolve)); // the batch is on its way to the thread
    await threads.close();
    const signatures = await Promise.all(pending);
    await Promise.all(inputs.map((input, i) => verifies(keys.jwks, keys.active.kid, 'EdDSA', input, signatures[i]!)));
    // And after: signed on the main thread.
    const after = await threads.key.sign(inputs[0]!);
    await verifies(keys.jwks, keys.active.kid, 'EdDSA', inputs[0]!, after);
  });

  test('a thread that cannot start leaves the signing to the main thread, and says so', async () => {
    const keys = await loadSigningKeys(memoryKeyStore(), 'EdDSA');
    const errors: string[] = [];
    const broken = { ...keys.active, privateJwk: { kty: 'OKP', crv: 'Ed25519' } }; // no private part
    const threads = await startSigningThreads(broken, 1, {
      error: (_obj: unknown, msg?: string) => errors.push(msg ?? ''),
    } as never);
    try {
      const input = `${Buffer.from('{"alg":"EdDSA"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}`;
      await verifies(keys.jwks, keys.active.kid, 'EdDSA', input, await threads.key.sign(input));
      assert.deepEqual(errors, ['signing thread did not start: signing on the main thread']);
    } finally {
      await threads.close();
    }
  });
});
