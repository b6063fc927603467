// A signing thread (signing-threads.ts): imports the active key once, then answers each batch of
// JWS signing inputs with their signatures, in order.
import { createPrivateKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { jwsSigner, type SigningAlg } from './protocol/signing-keys.ts';

const { alg, privateJwk } = workerData as { alg: SigningAlg; privateJwk: Record<string, unknown> };
const sign = jwsSigner(alg, createPrivateKey({ key: privateJwk as never, format: 'jwk' }));
parentPort?.on('message', (inputs: string[]) => parentPort?.postMessage(inputs.map(sign)));
parentPort?.postMessage('ready');
