import { Worker } from 'node:worker_threads';

/** Runs test/workers/tld-worker.mjs with `data` and resolves with its one message (rejects on error/exit). */
export function runWorker<T>(data: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./workers/tld-worker.mjs', import.meta.url), { workerData: data });
    let message: { value: T } | undefined;
    worker.once('message', (m: T) => {
      message = { value: m };
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (message) resolve(message.value);
      else reject(new Error(`worker exited with code ${code} without a result`));
    });
  });
}
