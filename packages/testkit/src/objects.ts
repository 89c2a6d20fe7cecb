// Where testkit's compiled BPF objects are, and the names of the programs and maps inside them.
import { fileURLToPath } from 'node:url';

/** The objects are built into dist/bpf/ (`../dist` also resolves from src/). */
function built(name: string): string {
  return fileURLToPath(new URL(`../dist/bpf/${name}`, import.meta.url));
}

/** Absolute paths of the compiled test-side objects. */
export const objectPaths = Object.freeze({
  /**
   * Maps only, each right or wrong for tld_data_map in one way: `tld_data_map` (16-byte value), `tld_data_map_v2`
   * (24-byte), `plain_map` (16 bytes of plain numbers, no uptr), `small_map` (8 bytes), `wide_map` (32 bytes),
   * `tld_wrong_map_type` (a hash map); one program `noop`, so that bpftool can load and pin it.
   */
  fixtures: built('tld_fixtures.bpf.o'),
  /** Benchmarks: programs `tld_bench_*` (reads timed in the kernel) and the `tld_trace_*` system call timers. */
  bench: built('tld_bench.bpf.o'),
  /** Programs `tld_canary_writer`, `tld_unmap_check` and `tld_lifecycle_stats` for lifecycle tests. */
  lifecycle: built('tld_lifecycle.bpf.o'),
  /**
   * The context readers: `tld_read_context` and `tld_read_context_task` (SEC("syscall")) read req_id, route, weight
   * and mark through tld_get_context_data() on the calling thread; `tld_context_on_cpu` (perf_event) and
   * `tld_context_on_idle` (tp_btf/sys_enter of epoll waits) record readings of one process's threads.
   */
  context: built('tld_context.bpf.o'),
  /** The OTEP 4947 reader: `tld_read_otel_header` (SEC("syscall")) reads the lead-in of the current run's record. */
  otelHeader: built('tld_otel_header.bpf.o'),
});

/** Names of programs and maps inside the objects. */
export const names = Object.freeze({
  canaryWriterProgram: 'tld_canary_writer',
  unmapCheckProgram: 'tld_unmap_check',
  lifecycleStatsProgram: 'tld_lifecycle_stats',
  wrongValueSizeMap: 'wide_map',
  wrongMapTypeMap: 'tld_wrong_map_type',
  /** tld_bench_<kind>_<keys>: see BENCH_CONFIGS */
  benchPrefix: 'tld_bench_',
  traceBegin: 'tld_trace_begin',
  traceEnd: 'tld_trace_end',
  traceEnter: 'tld_trace_enter',
  traceExit: 'tld_trace_exit',
  contextProgram: 'tld_read_context',
  contextTaskProgram: 'tld_read_context_task',
  contextCpuProgram: 'tld_context_on_cpu',
  contextIdleProgram: 'tld_context_on_idle',
  contextConfigMap: 'tld_context_config',
  contextSamplesMap: 'tld_context_samples',
  otelHeaderProgram: 'tld_read_otel_header',
});
