// A thread of the demo server that never opens TaskLocalData: every 20 ms it compacts in-memory metrics. It never
// sets a route, so the profiler must report its CPU as "(no route)", not charge it to one. It measures its own
// CPU time between 'start' and 'stop' so the report can show both.
import { parentPort } from 'node:worker_threads';
import { threadCpuTimeNs } from '@tld/bpf-programs';

const port = parentPort;
if (!port) throw new Error('background-worker.js runs as a worker thread');

let samples: number[] = [];
function compact(): void {
  for (let i = 0; i < 4000; i++) samples.push(Math.sin(samples.length + i) * 1000);
  samples.sort((a, b) => a - b);
  samples = samples.filter((_, i) => i % 2 === 0).slice(0, 10_000);
}

let start = threadCpuTimeNs();
const timer = setInterval(compact, 20);
port.on('message', (message: 'start' | 'stop') => {
  if (message === 'start') {
    start = threadCpuTimeNs();
    return;
  }
  clearInterval(timer);
  port.postMessage({ cpuNs: threadCpuTimeNs() - start });
  port.close();
});
port.postMessage({ ready: true });
