// The BPF side, measured in the kernel (bpf-reads.ts): tld_get_data() cached and cold against a fixed-offset load,
// in this process with the page mechanism; tld_get_context_data() through the walk to the current async context in
// a child on a Node.js whose AsyncLocalStorage runs on AsyncContextFrame (this one, else Node.js 24 from
// .cache/node: context-node.ts). The programs time themselves in the kernel, so the child's rows compare with this
// process's baseline row.
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
    child.once('message', (m: { type: string; measurements: Measurement[] }) => {
      result = m.measurements;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      result ? resolve(result) : reject(new Error(`bpf-reads.js on ${bin} exited with ${code}`)),
    );
  });
}

export const CASES: BenchCase[] = [
  {
    id: 'bpf',
    description:
      'tld_get_data() cached and cold vs a fixed-offset load, tld_get_context_data() through the walk, timed in the kernel (tld_bench.bpf.o)',
    async run(options) {
      const page = measureBpfReads(options, 'page');
      let node: ReturnType<typeof contextNode>;
      try {
        node = contextNode();
      } catch (error) {
        process.stderr.write(`bpf case: no walk rows: ${error instanceof Error ? error.message : String(error)}\n`);
        return page;
      }
      if (node.note !== null) process.stderr.write(`bpf case: ${node.note}\n`);
      return [...page, ...(await onNode(node.bin, options, node.note === null ? '' : `Node ${node.version}`))];
    },
  },
];
