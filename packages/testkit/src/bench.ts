// The benchmark programs of tld_bench.bpf.c, run from tools/src/bench: reads of task local data timed in the kernel,
// and the time a thread spends in each kind of system call.
import { BenchLayout, TraceLayout, TraceStep } from './layout.js';
import { type MapPlacement, loadObject, testRun } from '@tld/bpf-programs';
import { MAP_NAME } from '@tld/protocol';
import { names, objectPaths } from './objects.js';

/** Names of the u64 keys tld_bench reads, in the slot order user space must create them. */
export const BENCH_KEY_NAMES: readonly string[] = Object.freeze(
  Array.from({ length: 63 }, (_, i) => `bench_${String(i).padStart(2, '0')}`),
);

/** The programs of tld_bench.bpf.c: what one iteration does, and with how many keys. */
export const BENCH_CONFIGS = Object.freeze({
  /** bpf_get_current_task_btf() only: the loop's own cost */
  empty: [1],
  /** bpf_task_storage_get(tld_data_map) and loads at offsets fixed at compile time */
  fixed: [1, 4, 16],
  /** tld_object_init() and tld_get_data() of keys bench_00 ..., the per-task key cache warm */
  cached: [1, 4, 16],
  /** tld_object_init(), the key's cache entry cleared, tld_get_data() of the key in slot keys − 1 */
  cold: [1, 16, 63],
  /**
   * tld_object_init() and tld_get_context_data() of bench_00 through the walk to the current async context: run it
   * inside a run() that sets bench_00 (ENOMSG when the value came from the page instead)
   */
  context: [1],
  /** tld_object_init(), the lookup of tld.walk and one bpf_probe_read_user() of the CPED slot it names */
  user: [1],
} as const);

export type BenchKind = keyof typeof BENCH_CONFIGS;

/** One run of tld_bench. */
export interface BenchRun {
  /** Nanoseconds the whole loop took, measured by bpf_ktime_get_ns() inside the program. */
  readonly ns: number;
  /** Sum (mod 2^64) of every value read: iterations × the sum of the values read per iteration. */
  readonly sum: bigint;
}

/** What a traced thread spent in system calls, by kind (TraceStep). */
export interface TraceResult {
  readonly ns: Readonly<Record<keyof typeof TraceStep, number>>;
  readonly count: Readonly<Record<keyof typeof TraceStep, number>>;
}

export interface BenchPrograms {
  /** fd of the object's tld_data_map: open TaskLocalData with `{ mapFd }` on it. */
  readonly mapFd: number;
  /**
   * Runs program tld_bench_<kind>_<keys> on the calling thread for `iterations` iterations (BENCH_CONFIGS lists
   * the programs). Throws RangeError for a configuration without a program, or when the program reports an error
   * (a key missing, the thread not registered).
   */
  run(kind: BenchKind, keys: number, iterations: number): BenchRun;
  /** fds of tld_trace_begin / tld_trace_end, for traceOnThisThread() on other threads (fds are process-wide). */
  readonly traceFds: { readonly begin: number; readonly end: number };
  /** Attaches the system call timers (tp_btf/sys_enter, sys_exit); they stay attached until close(). */
  attachTrace(): void;
  /** Starts timing the calling thread's system calls. */
  traceBegin(): void;
  /** Stops timing the calling thread and returns what it spent (zeros when traceBegin did not run on it). */
  traceEnd(): TraceResult;
  close(): void;
}

/** Runs one tld_bench_* program (fd `progFd`) on the calling thread; see BenchPrograms.run. */
export function runBench(progFd: number, iterations: number, what = 'tld_bench'): BenchRun {
  const L = BenchLayout;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 1 << 23) {
    throw new RangeError(`iterations must be an integer in 1 .. 2^23 (bpf_loop's limit), got ${iterations}`);
  }
  const ctx = new Uint8Array(L.ctxSize);
  const view = new DataView(ctx.buffer);
  view.setUint32(L.iterationsOffset, iterations, true);
  testRun(progFd, ctx, `BPF_PROG_TEST_RUN(${what})`);
  const err = view.getInt32(L.errOffset, true);
  if (err !== 0) throw new RangeError(`${what}: the program failed with errno ${-err}`);
  return { ns: Number(view.getBigUint64(L.nsOffset, true)), sum: view.getBigUint64(L.sumOffset, true) };
}

/** Runs tld_trace_begin / tld_trace_end (fds from the bench object) on the calling thread. */
export function traceOnThisThread(progFd: number, which: 'begin'): void;
export function traceOnThisThread(progFd: number, which: 'end'): TraceResult;
export function traceOnThisThread(progFd: number, which: 'begin' | 'end'): TraceResult | undefined {
  const ctx = new Uint8Array(TraceLayout.ctxSize);
  const rc = testRun(progFd, ctx, `BPF_PROG_TEST_RUN(tld_trace_${which})`);
  if (rc !== 0) throw new RangeError(`tld_trace_${which} failed with ${rc}`);
  if (which === 'begin') return undefined;
  const view = new DataView(ctx.buffer);
  const ns = {} as Record<keyof typeof TraceStep, number>;
  const count = {} as Record<keyof typeof TraceStep, number>;
  for (const [step, i] of Object.entries(TraceStep) as [keyof typeof TraceStep, number][]) {
    ns[step] = Number(view.getBigUint64(TraceLayout.nsOffset + 8 * i, true));
    count[step] = view.getUint32(TraceLayout.countOffset + 4 * i, true);
  }
  return { ns, count };
}

/** Loads tld_bench.bpf.o (tld_data_map private by default). Throws BpfSyscallError when loading fails. */
export function loadBenchPrograms(options: { map?: MapPlacement } = {}): BenchPrograms {
  const obj = loadObject(objectPaths.bench, { [MAP_NAME]: options.map ?? 'private' });
  const beginFd = obj.progFd(names.traceBegin);
  const endFd = obj.progFd(names.traceEnd);
  return {
    mapFd: obj.mapFd(MAP_NAME),
    traceFds: Object.freeze({ begin: beginFd, end: endFd }),
    run(kind, keys, iterations) {
      const sizes: readonly number[] = BENCH_CONFIGS[kind] ?? [];
      if (!sizes.includes(keys)) throw new RangeError(`no benchmark program ${kind} with ${keys} keys`);
      const name = `${names.benchPrefix}${kind}_${keys}`;
      return runBench(obj.progFd(name), iterations, name);
    },
    attachTrace() {
      obj.attach(names.traceEnter);
      obj.attach(names.traceExit);
    },
    traceBegin: () => traceOnThisThread(beginFd, 'begin'),
    traceEnd: () => traceOnThisThread(endFd, 'end'),
    close() {
      obj.dispose();
    },
  };
}
