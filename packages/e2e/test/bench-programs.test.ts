// The benchmark programs of tld_bench.bpf.c read what they claim to read: every configuration's sum equals the
// iterations times the values of the keys it reads, so the timings tools/bench reports are of real reads. Also:
// a program reading 16 keys through tld_get_data() passes the verifier, and a cold lookup walks to slot 63.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData } from '@tld/userspace';
import { BENCH_CONFIGS, BENCH_KEY_NAMES, type BenchPrograms, bpfSupport, loadBenchPrograms } from '@tld/testkit';

const support = bpfSupport();
const ITERATIONS = 10;
/** Value of the key in slot i: distinct per slot, with high bits set so a truncated load would show. */
const valueOf = (i: number): bigint => (BigInt(i + 1) << 40n) | BigInt(i + 1);
const sumOf = (slots: number[]): bigint => slots.reduce((acc, i) => acc + valueOf(i), 0n);
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe.skipIf(!support.supported)('tld_bench.bpf.o', () => {
  let programs: BenchPrograms;
  let tld: TaskLocalData;
  beforeAll(() => {
    programs = loadBenchPrograms();
    // The page mechanism: the 63 keys need every slot (the walk's facts would take one).
    tld = TaskLocalData.open({ mapFd: programs.mapFd, asyncContext: 'page' });
    BENCH_KEY_NAMES.forEach((name, i) => tld.u64(name).set(valueOf(i)));
  });
  afterAll(() => {
    tld?.close();
    programs?.close();
  });

  it('fixed-offset and cached reads of 1, 4 and 16 keys sum the values of those keys', () => {
    for (const kind of ['fixed', 'cached'] as const) {
      for (const keys of BENCH_CONFIGS[kind]) {
        const run = programs.run(kind, keys, ITERATIONS);
        expect(run.sum, `${kind} ${keys}`).toBe(BigInt(ITERATIONS) * sumOf(range(keys)));
        expect(run.ns).toBeGreaterThan(0);
      }
    }
  });

  it('a cold read finds the key in slot 1, 16 or 63 after the cache entry is cleared', () => {
    for (const keys of BENCH_CONFIGS.cold) {
      expect(programs.run('cold', keys, ITERATIONS).sum).toBe(BigInt(ITERATIONS) * valueOf(keys - 1));
    }
  });

  it("the context read refuses a value that did not come through the walk (ENOMSG for the page's)", () => {
    // No walk published here: tld_get_context_data() gives the page's value, which context_1 must not time.
    expect(() => programs.run('context', 1, ITERATIONS)).toThrow(/errno 42/);
    // user_1 needs the facts too (the CPED slot they name): ENOENT without them.
    expect(() => programs.run('user', 1, ITERATIONS)).toThrow(/errno 2\b/);
  });

  it('refuses a configuration it has no program for, and bpf_loop iteration counts it cannot run', () => {
    expect(() => programs.run('cached', 2, 1)).toThrow(RangeError);
    expect(() => programs.run('fixed', 1, 0)).toThrow(RangeError);
  });

  it('the system call timers count what the traced thread did, and only between begin and end', () => {
    programs.attachTrace();
    programs.traceBegin();
    programs.run('empty', 1, 1); // one bpf() system call that is not a map update
    const traced = programs.traceEnd();
    expect(traced.count.BPF_OTHER).toBe(1);
    expect(traced.count.MAP_UPDATE).toBe(0);
    expect(traced.ns.BPF_OTHER).toBeGreaterThan(0);
    programs.run('empty', 1, 1);
    expect(programs.traceEnd().count.BPF_OTHER).toBe(0);
  });
});
