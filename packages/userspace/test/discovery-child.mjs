// Child of walk.test.ts (discovery at once on many threads): starts WORKERS workers together, each finding and
// verifying the walk on its own isolate as TaskLocalData does, and prints how many found it and why the others did
// not (no BPF is involved).
import { Worker, isMainThread, parentPort } from 'node:worker_threads';

const { threadWalk } = await import('../dist/context-walk.js');

if (isMainThread) {
  const count = Number(process.env['WORKERS'] ?? '32');
  /** @type {{ ok: boolean, reason: string }[]} */
  const results = await Promise.all(
    Array.from(
      { length: count },
      () =>
        /** @type {Promise<{ ok: boolean, reason: string }>} */ (
          new Promise((resolve, reject) => {
            const worker = new Worker(new URL(import.meta.url));
            worker.once('message', resolve);
            worker.once('error', reject);
          })
        ),
    ),
  );
  const failures = results.filter((r) => !r.ok).map((r) => r.reason);
  console.log(JSON.stringify({ workers: results.length, found: results.length - failures.length, failures }));
} else {
  const walk = threadWalk();
  parentPort?.postMessage({ ok: walk.ok, reason: walk.ok ? '' : walk.reason });
}
