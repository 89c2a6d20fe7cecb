// The BPF side, measured in the kernel (bpf-reads.ts): tld_get_data() cached and cold against a fixed-offset load,
// and tld_get_context_data() through the walk to the current async context. The walk needs a Node.js whose
// AsyncLocalStorage runs on AsyncContextFrame: on any other the whole case runs in a child on Node.js 24 from
// .cache/node (context-node.ts), so that every row and its baseline come from one process.
import { fork } from 'node:child_process';
import { measureBpfReads } from './bpf-reads.js';
import { contextNode } from './context-node.js';
import type { BenchCase, Measurement, TrialOptions } from './types.js';

function onNode(bin: string, options: TrialOptions, on: string): Promise<Measurement[]> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./bpf-reads.js', import.meta.url), [JSON.stringify(options), on], {
      execPath: bin,
      execArgv: [],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let result: Measurement[] | undefined;
    child.once('message', (m: { type: string; measurements: Measurement[] }) => { result = m.measurements; });
    child.once('error', reject);
    child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`bpf-reads.js on ${bin} exited with ${code}`))));
  });
}

export const CASES: BenchCase[] = [
  {
    id: 'bpf',
    description: 'tld_get_data() cached and cold vs a fixed-offset load, tld_get_context_data() through the walk, timed in the kernel (tld_bench.bpf.o)',
    run(options) {
      let node: ReturnType<typeof contextNode>;
      try {
        node = contextNode();
      } catch (error) {
        // No Node.js with AsyncContextFrame: every row but the walk's, here.
        process.stderr.write(`bpf case: no walk rows: ${error instanceof Error ? error.message : String(error)}\n`);
        return measureBpfReads(options);
      }
      if (node.note === null) return measureBpfReads(options);
      process.stderr.write(`bpf case: ${node.note}\n`);
      return onNode(node.bin, options, `Node ${node.version}`);
    },
  },
];
