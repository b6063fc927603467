// Access-token signatures on other threads. The signature is the largest single cost of a token
// request, and the event loop runs on one core: with a signing thread the token endpoint uses a
// second one (docs/PERFORMANCE.md). The inputs of one event-loop turn go to a thread as one
// message, so a message costs little next to the signatures it carries. If a thread fails, what
// it had not answered is signed here instead and it is not used again: no request fails for it;
// if none starts, the main thread signs everything.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { signingWorkerSource } from './resources.ts';
import type { InProcessKey } from './signing-keys.ts';

interface Batch {
  /** The key the inputs' headers name: a batch is signed by it even if the active key changed since. */
  key: InProcessKey;
  inputs: string[];
  resolve: ((signature: string) => void)[];
}

interface SigningThread {
  worker: Worker;
  /** Batches sent and not answered yet, oldest first: a thread answers in order. */
  waiting: Batch[];
}

export interface SigningThreads {
  /** The JWS signature of `input`, by the current key (whose kid and alg its header must name). */
  sign(input: string): string | Promise<string>;
  /** From now on, sign with `key`; inputs queued before are still signed by the former key. */
  setKey(key: InProcessKey): void;
  /** Signatures asked for and not yet returned (queued for the next batch or on a thread). */
  pending(): number;
  close(): Promise<void>;
}

export async function startSigningThreads(
  initialKey: InProcessKey,
  count: number,
  logger: Pick<Logger, 'error'>,
): Promise<SigningThreads> {
  let key = initialKey;
  const threads: SigningThread[] = [];
  let queue: Batch = { key, inputs: [], resolve: [] };
  let next = 0;
  let closing = false;

  const signHere = (batch: Batch) => {
    batch.inputs.forEach((input, i) => {
      batch.resolve[i]!(batch.key.sign(input));
    });
  };

  const retire = (thread: SigningThread, err: unknown) => {
    const index = threads.indexOf(thread);
    if (index < 0) return;
    threads.splice(index, 1);
    if (!closing) logger.error({ err }, 'signing thread failed: signing on the main thread instead');
    for (const batch of thread.waiting.splice(0)) signHere(batch);
  };

  const start = (): Promise<SigningThread> =>
    new Promise((resolve, reject) => {
      const source = signingWorkerSource();
      const workerData = { alg: key.alg, privateJwk: key.privateJwk };
      const worker =
        'file' in source
          ? new Worker(source.file, { workerData })
          : new Worker(source.code, { eval: true, workerData });
      const thread: SigningThread = { worker, waiting: [] };
      worker.once('error', reject);
      worker.once('message', (ready) => {
        if (ready !== 'ready') return reject(new Error('signing thread did not start'));
        worker.off('error', reject);
        worker.on('message', (signatures: string[]) => {
          const batch = thread.waiting.shift();
          batch?.resolve.forEach((resolveOne, i) => {
            resolveOne(signatures[i]!);
          });
          // Idle threads do not keep the process alive; busy ones do (Deno would otherwise stop
          // waiting for their answer).
          if (thread.waiting.length === 0) worker.unref();
        });
        worker.on('error', (err) => retire(thread, err));
        worker.on('exit', (code) => retire(thread, new Error(`signing thread exited (${code})`)));
        worker.unref();
        resolve(thread);
      });
    });

  for (let i = 0; i < count; i++) {
    try {
      threads.push(await start());
    } catch (err) {
      // A thread that cannot start (no worker support, a key it cannot import) costs speed, not
      // service: the main thread signs.
      logger.error({ err }, 'signing thread did not start: signing on the main thread');
    }
  }

  const flush = () => {
    const batch = queue;
    queue = { key, inputs: [], resolve: [] };
    if (batch.inputs.length === 0) return;
    const thread = threads[next++ % Math.max(threads.length, 1)];
    if (!thread) return signHere(batch);
    if (thread.waiting.push(batch) === 1) thread.worker.ref();
    thread.worker.postMessage(batch.inputs);
  };

  return {
    sign(input) {
      if (threads.length === 0) return key.sign(input);
      return new Promise<string>((resolve) => {
        queue.inputs.push(input);
        queue.resolve.push(resolve);
        if (queue.inputs.length === 1) setImmediate(flush);
      });
    },
    setKey(nextKey) {
      // What is queued was built for the former key: it leaves first, and each thread receives the
      // new key after it, in the same message order.
      flush();
      key = nextKey;
      queue = { key, inputs: [], resolve: [] };
      for (const thread of threads) thread.worker.postMessage({ alg: key.alg, privateJwk: key.privateJwk });
    },
    pending() {
      let count = queue.inputs.length;
      for (const thread of threads) for (const batch of thread.waiting) count += batch.inputs.length;
      return count;
    },
    async close() {
      closing = true;
      await Promise.all(threads.map((t) => t.worker.terminate()));
    },
  };
}
