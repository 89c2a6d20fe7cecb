// Starts the one load generator (load.ts) as a child process, for the demo and the benchmarks alike, and follows
// it to its end.
import { type ChildProcess, fork } from 'node:child_process';
import type { LoadConfig, LoadProgress } from './load.js';

export interface LoadRun {
  readonly child: ChildProcess;
  /**
   * The `done` report; or, when the generator exits 0 without one (its parent disconnected), the last progress.
   * Rejects when it exits otherwise.
   */
  readonly finished: Promise<LoadProgress>;
}

export interface StartLoadOptions {
  /** Called with every progress report (every 200 ms) and the final one. */
  readonly onProgress?: (progress: LoadProgress) => void;
  /** Where the generator's stdout goes (stderr is always inherited). Default 'ignore'. */
  readonly stdout?: 'inherit' | 'ignore';
  /** Runs it with `taskset -c <cpu>`: on that CPU only. */
  readonly cpu?: number;
}

export function startLoad(config: LoadConfig, options: StartLoadOptions = {}): LoadRun {
  const child = fork(new URL('./load.js', import.meta.url), [JSON.stringify(config)], {
    ...(options.cpu === undefined
      ? {}
      : { execPath: 'taskset', execArgv: ['-c', String(options.cpu), process.execPath] }),
    stdio: ['ignore', options.stdout ?? 'ignore', 'inherit', 'ipc'],
  });
  let latest: LoadProgress = { type: 'progress', done: 0, errors: 0 };
  const finished = new Promise<LoadProgress>((resolve, reject) => {
    child.on('message', (m: LoadProgress) => {
      latest = m;
      options.onProgress?.(m);
      if (m.type === 'done') resolve(m);
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(latest) : reject(new Error(`the load generator exited with status ${code}`)),
    );
  });
  return { child, finished };
}
