// Perf events for SEC("perf_event") programs, the CPUs to open them on, and the calling thread's CPU clock.
import { readFileSync } from 'node:fs';
import { addon, callNative } from './native.js';

/** `perf_event_attr.type` values (linux/perf_event.h). */
export const PerfType = Object.freeze({ HARDWARE: 0, SOFTWARE: 1 });

/** `perf_event_attr.config` values of PerfType.SOFTWARE events (linux/perf_event.h). */
export const SoftwareEvent = Object.freeze({ CPU_CLOCK: 0, TASK_CLOCK: 1 });

/** What perfEventOpen() opens. */
export interface PerfEventOptions {
  /** PerfType value; default SOFTWARE. */
  readonly type?: number;
  /** Event of that type; default SoftwareEvent.CPU_CLOCK. */
  readonly config?: number;
  /** Samples per second (perf_event_attr.freq = 1). */
  readonly sampleFreq: number;
  /** CPU to count on; with pid -1 (the default) every task that runs there is sampled. */
  readonly cpu: number;
  /** Task to follow, -1 for all (needs root or perf_event_paranoid <= 0). */
  readonly pid?: number;
}

/**
 * perf_event_open() of a sampling event, opened disabled and close-on-exec; attaching a program
 * (LoadedBpfObject.attachPerfEvent) enables it. Returns the event's fd. Throws TypeError/RangeError for bad
 * options, BpfSyscallError with perf_event_open's errno (EACCES/EPERM: not allowed by perf_event_paranoid; ENODEV:
 * no such CPU; ENOENT: no such event; EINVAL: a frequency above kernel.perf_event_max_sample_rate).
 */
export function perfEventOpen(options: PerfEventOptions): number {
  const { type = PerfType.SOFTWARE, config = SoftwareEvent.CPU_CLOCK, sampleFreq, cpu, pid = -1 } = options;
  for (const [name, v] of Object.entries({ type, config, sampleFreq, cpu })) {
    if (!Number.isSafeInteger(v) || v < 0) throw new TypeError(`perf event ${name} must be a non-negative integer`);
  }
  if (sampleFreq === 0) throw new RangeError('sampleFreq must be at least 1 Hz');
  if (!Number.isInteger(pid) || pid < -1) throw new TypeError('pid must be -1 (all tasks) or a task id');
  return callNative(`perf_event_open(type ${type}, config ${config}, ${sampleFreq} Hz, cpu ${cpu})`, () =>
    addon.perfEventOpen(type, config, sampleFreq, pid, cpu),
  );
}

/** Parses a kernel CPU list such as "0-3,8,10-11". Throws RangeError for text that is not one. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new RangeError(`not a CPU list: ${JSON.stringify(text)}`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The online CPUs (/sys/devices/system/cpu/online), to open one perf event on each. */
export function onlineCpus(): number[] {
  return parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
}

/**
 * CPU time of the calling thread in nanoseconds: clock_gettime(CLOCK_THREAD_CPUTIME_ID), the scheduler's runtime
 * of the thread, for an application to time its own work on any thread (Node 20 has no per-thread CPU usage call).
 */
export function threadCpuTimeNs(): number {
  return callNative('clock_gettime(CLOCK_THREAD_CPUTIME_ID)', () => addon.threadCpuTimeNs());
}
