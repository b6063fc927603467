// A signing thread (signing-threads.ts): imports the active key, then answers each batch of JWS
// signing inputs with their signatures, in order. A key message replaces the key for the batches
// that follow it.
import { createPrivateKey } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { jwsSigner } from './jws-signer.ts';
import type { SigningAlg } from './protocol/signer.ts';

interface KeyMessage {
  alg: SigningAlg;
  privateJwk: Record<string, unknown>;
}

const signerOf = ({ alg, privateJwk }: KeyMessage) =>
  jwsSigner(alg, createPrivateKey({ key: privateJwk as never, format: 'jwk' }));

let sign = signerOf(workerData as KeyMessage);
parentPort?.on('message', (message: string[] | KeyMessage) => {
  if (Array.isArray(message)) parentPort?.postMessage(message.map(sign));
  else sign = signerOf(message);
});
parentPort?.postMessage('ready');
