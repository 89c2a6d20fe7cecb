// The measurements of the `bpf` case (cases-bpf.ts), in the process that takes them: the trial's process measures
// the page rows, and a child forked on a Node.js whose run() uses the walk measures the walk's rows and sends them
// back (the facts the walk needs take a slot of the page, and the cold read of slot 63 needs them all).
// tld_bench.bpf.o's programs run a bpf_loop of reads on this thread and time it with bpf_ktime_get_ns(). One
// iteration is what one program run does to read task local data: find the task's storage, then read 1, 4 or 16
// keys. The cached and cold reads go through tld_get_data(); the baseline loads the same values at offsets fixed at
// compile time. The context read is tld_get_context_data() through the walk to the current async context, run
// inside a tld.run() that sets the key; the user read is one bpf_probe_read_user(), the step the walk repeats.
// Every iteration (baseline too) includes the loop's own cost, reported as `bpf empty loop`.
import { pathToFileURL } from 'node:url';
import { BENCH_KEY_NAMES, type BenchKind, type BenchPrograms, type BenchRun, loadBenchPrograms } from '@tld/testkit';
import { TaskLocalData } from '@tld/userspace';
import type { Measurement, TrialOptions } from './types.js';
import { median } from './stats.js';

interface Config {
  readonly name: string;
  readonly kind: BenchKind;
  readonly keys: number;
  readonly baseline: string | null;
  readonly description: string;
  /** Needs the walk: run inside tld.run({ bench_00: RUN_VALUE }), where the walk finds the run's record. */
  readonly walk?: boolean;
}

const FIXED = 'bpf fixed-offset read';
const CONFIGS: readonly Config[] = [
  {
    name: 'bpf empty loop',
    kind: 'empty',
    keys: 1,
    baseline: null,
    description: 'bpf_loop iteration + bpf_get_current_task_btf()',
  },
  {
    name: FIXED,
    kind: 'fixed',
    keys: 1,
    baseline: null,
    description: 'bpf_task_storage_get + 1 load at a fixed offset',
  },
  {
    name: `${FIXED} 4 keys`,
    kind: 'fixed',
    keys: 4,
    baseline: null,
    description: 'bpf_task_storage_get + 4 fixed-offset loads',
  },
  {
    name: `${FIXED} 16 keys`,
    kind: 'fixed',
    keys: 16,
    baseline: null,
    description: 'bpf_task_storage_get + 16 fixed-offset loads',
  },
  {
    name: 'bpf cached read',
    kind: 'cached',
    keys: 1,
    baseline: FIXED,
    description: 'tld_object_init + tld_get_data, cache warm',
  },
  {
    name: 'bpf cached read 4 keys',
    kind: 'cached',
    keys: 4,
    baseline: `${FIXED} 4 keys`,
    description: 'tld_object_init + 4 tld_get_data',
  },
  {
    name: 'bpf cached read 16 keys',
    kind: 'cached',
    keys: 16,
    baseline: `${FIXED} 16 keys`,
    description: 'tld_object_init + 16 tld_get_data',
  },
  {
    name: 'bpf cold read 1',
    kind: 'cold',
    keys: 1,
    baseline: FIXED,
    description: 'tld_get_data, cache cleared, key in slot 1',
  },
  {
    name: 'bpf cold read 16',
    kind: 'cold',
    keys: 16,
    baseline: FIXED,
    description: 'tld_get_data, cache cleared, key in slot 16',
  },
  {
    name: 'bpf cold read 63',
    kind: 'cold',
    keys: 63,
    baseline: FIXED,
    description: 'tld_get_data, cache cleared, key in slot 63',
  },
  {
    name: 'bpf context read',
    kind: 'context',
    keys: 1,
    baseline: 'bpf cached read',
    walk: true,
    description: 'tld_object_init + tld_get_context_data of 1 key: the walk from the CPED slot to the run record',
  },
  {
    name: 'bpf user read',
    kind: 'user',
    keys: 1,
    baseline: 'bpf cached read',
    walk: true,
    description: 'tld_object_init + lookup of tld.walk + 1 bpf_probe_read_user of 8 bytes (the walk makes ~8)',
  },
];

const MAX_ITERATIONS = 1 << 23; // bpf_loop's limit

/** Value of the key in slot i. */
const valueOf = (i: number): bigint => BigInt(i + 1) * 0x1_0001n;

/** bench_00 inside the run the walk rows run in: not the page's value, so the sum tells them apart. */
const RUN_VALUE = 0x5eed_0000_0001n;

/** What one iteration of a configuration must add to the program's sum. */
function perIteration(c: Config): bigint {
  if (c.kind === 'empty') return -1n; // the tid: not checked
  if (c.kind === 'context') return RUN_VALUE;
  if (c.kind === 'user') return 1n;
  if (c.kind === 'cold') return valueOf(c.keys - 1);
  let sum = 0n;
  for (let i = 0; i < c.keys; i++) sum += valueOf(i);
  return sum;
}

function measure(programs: BenchPrograms, tld: TaskLocalData, options: TrialOptions, on: string): Measurement[] {
  // The walk's rows where run() uses the walk; the others where it does not: they need all 63 slots of the page,
  // and the walk's facts take one.
  const configs = CONFIGS.filter((c) => (c.walk === true) === (tld.asyncContext === 'walk'));
  const iterations = new Map<Config, number>();
  const samples = new Map<Config, number[]>(configs.map((c) => [c, []]));
  const exec = (c: Config, n: number): BenchRun =>
    c.walk === true
      ? tld.run({ [BENCH_KEY_NAMES[0] ?? 'bench_00']: RUN_VALUE }, () => programs.run(c.kind, c.keys, n))
      : programs.run(c.kind, c.keys, n);
  // Warm-up and calibration: iterations that take about timeMs.
  for (const c of configs) {
    const probe = options.quick ? 100 : 10_000;
    const { ns } = exec(c, probe);
    const n = Math.round((probe * options.timeMs * 1e6) / Math.max(ns, 1));
    iterations.set(c, Math.min(MAX_ITERATIONS, Math.max(options.quick ? 100 : 1000, n)));
  }
  // Rounds in alternating order, so a drift in machine speed hits every configuration alike.
  for (let r = 0; r < options.rounds; r++) {
    const order = r % 2 === 0 ? configs : [...configs].reverse();
    for (const c of order) {
      const n = iterations.get(c) as number;
      const run = exec(c, n);
      const want = perIteration(c);
      if (want >= 0n && run.sum !== BigInt.asUintN(64, want * BigInt(n))) {
        throw new Error(`${c.name}: BPF summed ${run.sum}, expected ${want} × ${n}: the program did not read the keys`);
      }
      (samples.get(c) as number[]).push(run.ns / n);
    }
  }
  return configs.map((c) => ({
    name: c.name,
    unit: 'ns/read',
    value: median(samples.get(c) as number[]),
    baseline: c.baseline,
    description: on ? `${c.description}, ${on}` : c.description,
  }));
}

/**
 * Loads the programs, creates the keys in a TaskLocalData of their map and measures the rows of one mechanism:
 * 'page' every row but the walk's, 'walk' the walk's (`bpf context read`, `bpf user read`). `on` names the Node.js
 * in each row's description when it is not the runner's.
 */
export function measureBpfReads(options: TrialOptions, mechanism: 'page' | 'walk', on = ''): Measurement[] {
  const programs = loadBenchPrograms();
  try {
    const tld = TaskLocalData.open({ mapFd: programs.mapFd, asyncContext: mechanism });
    try {
      // With the walk, tld.walk takes a slot: the 62 keys that still fit (the walk's rows read bench_00).
      const names = mechanism === 'walk' ? BENCH_KEY_NAMES.slice(0, -1) : BENCH_KEY_NAMES;
      names.forEach((name, i) => tld.u64(name).set(valueOf(i)));
      return measure(programs, tld, options, on);
    } finally {
      tld.close();
    }
  } finally {
    programs.close();
  }
}

// Forked by cases-bpf.ts: node bpf-reads.js <options JSON> <on>, results sent over IPC.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [optionsJson, on] = process.argv.slice(2);
  if (!optionsJson || !process.send)
    throw new Error('usage: bpf-reads.js <options JSON> <on> (forked by cases-bpf.js)');
  const measurements = measureBpfReads(JSON.parse(optionsJson) as TrialOptions, 'walk', on ?? '');
  process.send({ type: 'result', measurements }, () => process.disconnect());
}
