// Child processes of the benchmark and of the crash test: every one is tracked, bounded in time,
// and killed when the parent leaves, however it leaves.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const live = new Set<ChildProcess>();

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** The Node 24 that runs this process: children use the same runtime whatever is first on PATH. */
export const NODE = process.execPath;

export function benchFile(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

export interface Child {
  process: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
  kill(): Promise<number | string>;
}

export interface ChildOptions {
  args?: string[];
  execArgv?: string[];
  env?: Record<string, string>;
  /** stdout and stderr go to this file (kept for post-mortems), else they are inherited. */
  logFile?: string;
  /** With an IPC channel: `ready()` waits for the child's first message. */
  ipc?: boolean;
}

export function startChild(script: string, options: ChildOptions = {}): Child {
  const out = options.logFile ? openSync(options.logFile, 'a') : 'inherit';
  const child = spawn(NODE, [...(options.execArgv ?? []), script, ...(options.args ?? [])], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', out, out, ...(options.ipc ? (['ipc'] as const) : [])],
  });
  if (typeof out === 'number') closeSync(out);
  live.add(child);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? -1);
    });
  });
  const stop = async (graceMs = 5_000) => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    }
    return exited;
  };
  const kill = () => {
    child.kill('SIGKILL');
    return exited;
  };
  return { process: child, exited, stop, kill };
}

/**
 * The child's first IPC message (the first that `accept` takes; the others go to it and are
 * skipped), or an error naming the log file when it dies or takes too long.
 */
export function firstMessage<T>(
  child: Child,
  timeoutMs: number,
  logFile?: string,
  accept: (message: unknown) => boolean = () => true,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const tail = logFile ? `\n--- ${logFile} ---\n${readFileSync(logFile, 'utf8').slice(-3000)}` : '';
      reject(new Error(`${why}${tail}`));
    };
    const timer = setTimeout(() => fail(`no message from child within ${timeoutMs} ms`), timeoutMs);
    const onMessage = (message: unknown) => {
      if (settled || !accept(message)) return;
      settled = true;
      clearTimeout(timer);
      child.process.off('message', onMessage);
      resolve(message as T);
    };
    child.process.on('message', onMessage);
    void child.exited.then((code) => fail(`child exited (${code}) before its first message`));
  });
}
