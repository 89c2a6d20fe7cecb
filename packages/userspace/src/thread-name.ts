// A worker's name as its thread name, so that `tld dump`, top -H and BPF programs (task->comm) tell threads apart.
// Node 24 names a worker's thread after the Worker `name` option itself; Node 22 exposes the name (threadName) but
// leaves every thread called "node", so open() names the thread the way Node 24 would. Node 20 has no threadName.
import { readFileSync, writeFileSync } from 'node:fs';
import * as workerThreads from 'node:worker_threads';
import { native } from './native.js';

/** The kernel keeps 15 bytes of a thread's name (TASK_COMM_LEN 16, NUL included). */
const COMM_BYTES = 15;

/** The process's default thread name: what an unnamed Node 22 thread is called. */
const UNNAMED = 'node';

/** The first 15 bytes of `name` in UTF-8, cut on a character boundary. */
function commOf(name: string): string {
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > COMM_BYTES) break;
    out += ch;
  }
  return out;
}

/**
 * Names the calling worker thread after its Worker `name` when Node did not (Node 22), once; never renames a thread
 * that already has another name (Node 24, or the application's own). Failing to name it changes nothing else.
 */
export function nameWorkerThread(): void {
  // A namespace read: Node 20 has no threadName export, and a named import of it would not link there.
  const { threadName } = workerThreads as { threadName?: unknown };
  const name = typeof threadName === 'string' ? threadName : '';
  if (workerThreads.isMainThread || name === '') return;
  const path = `/proc/self/task/${native.gettid()}/comm`;
  try {
    if (readFileSync(path, 'utf8').trimEnd() !== UNNAMED) return;
    const comm = commOf(name);
    if (comm !== '') writeFileSync(path, comm);
  } catch {
    // no /proc: the thread keeps its name
  }
}
