// The BPF side, measured in the kernel: tld_bench.bpf.o's programs run a bpf_loop of reads on this thread and time
// it with bpf_ktime_get_ns(). One iteration is what one program run does to read task local data: find the task's
// storage, then read 1, 4 or 16 keys. The cached and cold reads go through tld_get_data(); the baseline loads the
// same values at offsets fixed at compile time. Every iteration (baseline too) includes the loop's own cost,
// reported as `bpf empty loop`.
import { BENCH_KEY_NAMES, type BenchKind, type BenchPrograms, loadBenchPrograms } from '@tld/testkit';
import { TaskLocalData } from '@tld/userspace';
import type { BenchCase, Measurement, TrialOptions } from './types.js';
import { median } from './stats.js';

interface Config {
  readonly name: string;
  readonly kind: BenchKind;
  readonly keys: number;
  readonly baseline: string | null;
  readonly description: string;
}

const FIXED = 'bpf fixed-offset read';
const CONFIGS: readonly Config[] = [
  { name: 'bpf empty loop', kind: 'empty', keys: 1, baseline: null, description: 'bpf_loop iteration + bpf_get_current_task_btf()' },
  { name: FIXED, kind: 'fixed', keys: 1, baseline: null, description: 'bpf_task_storage_get + 1 load at a fixed offset' },
  { name: `${FIXED} 4 keys`, kind: 'fixed', keys: 4, baseline: null, description: 'bpf_task_storage_get + 4 fixed-offset loads' },
  { name: `${FIXED} 16 keys`, kind: 'fixed', keys: 16, baseline: null, description: 'bpf_task_storage_get + 16 fixed-offset loads' },
  { name: 'bpf cached read', kind: 'cached', keys: 1, baseline: FIXED, description: 'tld_object_init + tld_get_data, cache warm' },
  { name: 'bpf cached read 4 keys', kind: 'cached', keys: 4, baseline: `${FIXED} 4 keys`, description: 'tld_object_init + 4 tld_get_data' },
  { name: 'bpf cached read 16 keys', kind: 'cached', keys: 16, baseline: `${FIXED} 16 keys`, description: 'tld_object_init + 16 tld_get_data' },
  { name: 'bpf cold read 1', kind: 'cold', keys: 1, baseline: FIXED, description: 'tld_get_data, cache cleared, key in slot 1' },
  { name: 'bpf cold read 16', kind: 'cold', keys: 16, baseline: FIXED, description: 'tld_get_data, cache cleared, key in slot 16' },
  { name: 'bpf cold read 63', kind: 'cold', keys: 63, baseline: FIXED, description: 'tld_get_data, cache cleared, key in slot 63' },
];

const MAX_ITERATIONS = 1 << 23; // bpf_loop's limit

/** Value of the key in slot i. */
const valueOf = (i: number): bigint => BigInt(i + 1) * 0x1_0001n;

/** What one iteration of a configuration must add to the program's sum. */
function perIteration(c: Config): bigint {
  if (c.kind === 'empty') return -1n; // the tid: not checked
  if (c.kind === 'cold') return valueOf(c.keys - 1);
  let sum = 0n;
  for (let i = 0; i < c.keys; i++) sum += valueOf(i);
  return sum;
}

function measure(programs: BenchPrograms, options: TrialOptions): Measurement[] {
  const iterations = new Map<Config, number>();
  const samples = new Map<Config, number[]>(CONFIGS.map((c) => [c, []]));
  // Warm-up and calibration: iterations that take about timeMs.
  for (const c of CONFIGS) {
    const probe = options.quick ? 100 : 10_000;
    const { ns } = programs.run(c.kind, c.keys, probe);
    const n = Math.round((probe * options.timeMs * 1e6) / Math.max(ns, 1));
    iterations.set(c, Math.min(MAX_ITERATIONS, Math.max(options.quick ? 100 : 1000, n)));
  }
  // Rounds in alternating order, so a drift in machine speed hits every configuration alike.
  for (let r = 0; r < options.rounds; r++) {
    const order = r % 2 === 0 ? CONFIGS : [...CONFIGS].reverse();
    for (const c of order) {
      const n = iterations.get(c) as number;
      const run = programs.run(c.kind, c.keys, n);
      const want = perIteration(c);
      if (want >= 0n && run.sum !== BigInt.asUintN(64, want * BigInt(n))) {
        throw new Error(`${c.name}: BPF summed ${run.sum}, expected ${want} × ${n}: the program did not read the keys`);
      }
      (samples.get(c) as number[]).push(run.ns / n);
    }
  }
  return CONFIGS.map((c) => ({
    name: c.name,
    unit: 'ns/read',
    value: median(samples.get(c) as number[]),
    baseline: c.baseline,
    description: c.description,
  }));
}

export const CASES: BenchCase[] = [
  {
    id: 'bpf',
    description: 'tld_get_data() cached and cold vs a fixed-offset load, timed in the kernel (tld_bench.bpf.o)',
    run(options) {
      const programs = loadBenchPrograms();
      try {
        const tld = TaskLocalData.open({ mapFd: programs.mapFd });
        try {
          BENCH_KEY_NAMES.forEach((name, i) => tld.u64(name).set(valueOf(i)));
          return measure(programs, options);
        } finally {
          tld.close();
        }
      } finally {
        programs.close();
      }
    },
  },
];
