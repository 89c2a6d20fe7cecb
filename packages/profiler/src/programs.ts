// The profiler's BPF programs (bpf/tld_profiler.bpf.c) from user space: write the key names into the read-only
// settings, load, follow some processes or every registered thread, attach the on-CPU time consumers
// (sched_switch + sys_enter) and/or the CPU-clock sampler (one perf event per online CPU), read the buckets and
// the stacks, detach.
import { closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  type BpfLink,
  type MapPlacement,
  loadObject,
  mapEntries,
  mapLookupElem,
  mapUpdateElem,
  onlineCpus,
  perfEventOpen,
} from '@tld/bpf-programs';
import { MAP_NAME, SLOT_NAME_SIZE, TldError } from '@tld/protocol';
import { BucketState, ProfCounter, ProfLayout } from './layout.js';

/** The compiled object, shipped in dist/bpf (`../dist` also resolves from src/, where the tests import this). */
export const profilerObjectPath = fileURLToPath(new URL('../dist/bpf/tld_profiler.bpf.o', import.meta.url));

/** Names inside tld_profiler.bpf.o. */
export const profilerNames = Object.freeze({
  settingsSection: '.rodata.settings',
  switchProgram: 'on_sched_switch',
  syscallProgram: 'on_syscall',
  sampleProgram: 'on_cpu_sample',
  targetsMap: 'prof_targets',
  bucketsMap: 'prof_buckets',
  stacksMap: 'prof_stacks',
  countersMap: 'prof_counters',
  dataMap: MAP_NAME,
});

/** Codes of the TldErrors this package throws. */
export const ProfilerErrorCode = Object.freeze({
  /** a label or request key name that cannot be a key (empty, too long, NUL inside) */
  BAD_KEY_NAME: 'ERR_TLD_PROFILE_BAD_KEY_NAME',
  /** more labels than TLD_PROF_MAX_LABELS, or the same key twice */
  TOO_MANY_LABELS: 'ERR_TLD_PROFILE_TOO_MANY_LABELS',
  /** more processes than TLD_PROF_MAX_TARGETS, or a bad pid */
  BAD_TARGETS: 'ERR_TLD_PROFILE_BAD_TARGETS',
  /** a sampling frequency out of range */
  BAD_FREQUENCY: 'ERR_TLD_PROFILE_BAD_FREQUENCY',
});

/** A key the buckets are labelled by. */
export interface LabelSpec {
  /** The key's name, as user space created it. */
  readonly name: string;
  /** Bytes of its value kept (its size; at most ProfLayout.labelBytes, the default). */
  readonly size?: number;
}

export interface ProfilerOptions {
  /** Keys whose values label each bucket (at most ProfLayout.maxLabels). */
  readonly labels: readonly (string | LabelSpec)[];
  /**
   * A u64 key holding the current request (0 between requests): a thread whose value is 0 is charged to the IDLE
   * bucket, and each new value seen counts one request. Without it every registered thread is SET.
   */
  readonly requestKey?: string;
  /** The processes followed (all their threads, registered or not); omitted: every registered thread of the host. */
  readonly pids?: readonly number[];
  /** Where tld_data_map lives: private to the profiler (default, for tests), or the host's pin. */
  readonly map?: MapPlacement;
  /** Samples record user and kernel stacks (for profiles); default false (for totals only). */
  readonly stacks?: boolean;
  /** CPU-clock samples per second on each CPU; default 99 (off the beat of periodic timers). */
  readonly sampleHz?: number;
}

/** What a thread had published when BPF looked. */
export type BucketStateName = 'set' | 'idle' | 'none' | 'unreadable';

const STATE_NAMES: Readonly<Record<number, BucketStateName>> = {
  [BucketState.SET]: 'set',
  [BucketState.IDLE]: 'idle',
  [BucketState.NONE]: 'none',
  [BucketState.UNREADABLE]: 'unreadable',
};

/** One bucket: a process, what its thread published, and (with stacks) where it was. */
export interface Bucket {
  readonly tgid: number;
  /**
   * 'set': registered and serving a request (or no request key named); 'idle': the request key was 0 (between
   * requests); 'none': not registered, or its process has no request key; 'unreadable': no memory for the key cache.
   */
  readonly state: BucketStateName;
  /** Per label: its value's bytes (the label's size), or undefined when the thread has no such key. Empty unless 'set'. */
  readonly labels: readonly (Uint8Array | undefined)[];
  /** Stack ids in the stack map; negative (an errno) when there is none. */
  readonly userStack: number;
  readonly kernelStack: number;
  /** On-CPU time charged at switch-out and at syscalls, in nanoseconds. */
  readonly cpuNs: number;
  /** Pieces of on-CPU time charged. */
  readonly pieces: number;
  /** CPU-clock samples. */
  readonly samples: number;
  /** Request values seen in a thread that had not been seen among its last 8 (run() interleaves requests). */
  readonly requests: number;
}

export interface ProfilerReading {
  readonly buckets: readonly Bucket[];
  /** Pieces of threads already on a CPU at attach: their start is unknown, so they were not charged. */
  readonly unstampedPieces: number;
  /** Charges dropped because the bucket map was full. */
  readonly droppedFull: number;
  /** Samples whose user stack could not be stored. */
  readonly stacksLost: number;
}

export interface Profiler {
  /** fd of tld_data_map (a private one: hand it to `TaskLocalData.open({ mapFd })`). */
  readonly mapFd: number;
  /** The labels, in bucket order. */
  readonly labels: readonly Required<LabelSpec>[];
  /** The attachments, empty while detached. */
  readonly links: readonly BpfLink[];
  /** Pins this load created (removed by close()). */
  readonly createdPins: readonly string[];
  /** Attaches on_sched_switch and on_syscall: on-CPU time by bucket. Undone on failure. */
  attachTime(): void;
  /**
   * Attaches on_cpu_sample to a CPU-clock perf event on every online CPU. Undone on failure. Throws
   * BpfSyscallError (EACCES from perf_event_open without root).
   */
  attachSampler(): void;
  /** Destroys every link: the programs stop counting. Idempotent. */
  detach(): void;
  /** The buckets and counters (attached or detached). */
  read(): ProfilerReading;
  /** The instruction pointers of stack `id`, innermost first; empty when there is no such stack. */
  stack(id: number): bigint[];
  /** Detaches, closes the object and removes the pins it created. Idempotent. */
  close(): void;
}

const encoder = new TextEncoder();
const u64 = (view: DataView, offset: number): number => Number(view.getBigUint64(offset, true));

function checkName(name: string, what: string): Uint8Array {
  const bytes = encoder.encode(name);
  if (typeof name !== 'string' || bytes.length === 0 || bytes.length >= SLOT_NAME_SIZE || bytes.includes(0)) {
    throw new TldError(
      ProfilerErrorCode.BAD_KEY_NAME,
      `${what} ${JSON.stringify(name)} cannot be a key name: give 1 to ${SLOT_NAME_SIZE - 1} bytes without NUL`,
    );
  }
  return bytes;
}

/** The bytes of section .rodata.settings for these options. */
export function encodeSettings(
  labels: readonly Required<LabelSpec>[],
  requestKey: string | undefined,
  allTasks: boolean,
  stacks: boolean,
): Uint8Array {
  const S = ProfLayout.settings;
  const bytes = new Uint8Array(S.size);
  const view = new DataView(bytes.buffer);
  labels.forEach((label, i) => {
    bytes.set(checkName(label.name, 'label'), S.namesOffset + i * ProfLayout.nameStride);
    view.setUint32(S.labelSizeOffset + 4 * i, label.size, true);
  });
  if (requestKey !== undefined) {
    bytes.set(checkName(requestKey, 'request key'), S.namesOffset + ProfLayout.requestSlot * ProfLayout.nameStride);
  }
  view.setUint32(S.nrLabelsOffset, labels.length, true);
  view.setUint32(S.requestOffset, requestKey === undefined ? 0 : 1, true);
  view.setUint32(S.allTasksOffset, allTasks ? 1 : 0, true);
  view.setUint32(S.stacksOffset, stacks ? 1 : 0, true);
  return bytes;
}

function normalizeLabels(labels: readonly (string | LabelSpec)[]): Required<LabelSpec>[] {
  if (labels.length > ProfLayout.maxLabels) {
    throw new TldError(ProfilerErrorCode.TOO_MANY_LABELS, `give at most ${ProfLayout.maxLabels} label keys`);
  }
  const out = labels.map((l) => {
    const spec = typeof l === 'string' ? { name: l } : l;
    const size = spec.size ?? ProfLayout.labelBytes;
    if (!Number.isInteger(size) || size < 1 || size > ProfLayout.labelBytes) {
      throw new RangeError(`label ${spec.name}: size must be 1 .. ${ProfLayout.labelBytes}`);
    }
    checkName(spec.name, 'label');
    return { name: spec.name, size };
  });
  if (new Set(out.map((l) => l.name)).size !== out.length) {
    throw new TldError(ProfilerErrorCode.TOO_MANY_LABELS, 'a label key is named twice: name each key once');
  }
  return out;
}

/**
 * Loads tld_profiler.bpf.o with these keys (nothing is attached until attachTime()/attachSampler()). Throws
 * TldError (ProfilerErrorCode) or RangeError for bad options, BpfSyscallError when loading fails.
 */
export function loadProfiler(options: ProfilerOptions): Profiler {
  const { requestKey, pids, map = 'private', stacks = false, sampleHz = 99 } = options;
  const labels = normalizeLabels(options.labels);
  if (requestKey !== undefined) checkName(requestKey, 'request key');
  if (pids !== undefined) {
    if (pids.length === 0 || pids.length > ProfLayout.maxTargets) {
      throw new TldError(
        ProfilerErrorCode.BAD_TARGETS,
        `give 1 to ${ProfLayout.maxTargets} process ids, or none for every registered thread`,
      );
    }
    for (const pid of pids) {
      if (!Number.isInteger(pid) || pid <= 0 || pid > 0x3fff_ffff) {
        throw new TldError(ProfilerErrorCode.BAD_TARGETS, `${String(pid)} is not a process id`);
      }
    }
  }
  if (!Number.isInteger(sampleHz) || sampleHz < 1 || sampleHz > 10_000) {
    throw new TldError(ProfilerErrorCode.BAD_FREQUENCY, 'the sampling frequency must be an integer from 1 to 10000 Hz');
  }
  const settings = encodeSettings(labels, requestKey, pids === undefined, stacks);
  const obj = loadObject(
    profilerObjectPath,
    { [profilerNames.dataMap]: map },
    {
      initialValues: { [profilerNames.settingsSection]: settings },
    },
  );
  const links: BpfLink[] = [];
  try {
    for (const pid of pids ?? []) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, pid, true);
      mapUpdateElem(obj.mapFd(profilerNames.targetsMap), key, new Uint8Array([1]));
    }
  } catch (error) {
    obj.dispose();
    throw error;
  }

  // In reverse order of attaching: sched_switch goes last, so on_syscall never runs on a thread whose switch-in
  // was not stamped (and attachTime() starts with it, for the same reason).
  const detach = (): void => {
    for (const link of links.splice(0).reverse()) link.destroy();
  };
  const attaching = (fn: () => void): void => {
    const before = links.length;
    try {
      fn();
    } catch (error) {
      for (const link of links.splice(before).reverse()) link.destroy();
      throw error;
    }
  };
  const attachTime = (): void =>
    attaching(() => {
      links.push(obj.attach(profilerNames.switchProgram), obj.attach(profilerNames.syscallProgram));
    });
  const attachSampler = (): void =>
    attaching(() => {
      for (const cpu of onlineCpus()) {
        const pfd = perfEventOpen({ sampleFreq: sampleHz, cpu });
        try {
          links.push(obj.attachPerfEvent(profilerNames.sampleProgram, pfd));
        } catch (error) {
          closeSync(pfd);
          throw error;
        }
      }
    });

  const counter = (index: number): number => {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, index, true);
    const value = new Uint8Array(8);
    return mapLookupElem(obj.mapFd(profilerNames.countersMap), key, value) ? u64(new DataView(value.buffer), 0) : 0;
  };

  const decode = (key: Uint8Array, value: Uint8Array): Bucket => {
    const K = ProfLayout.key;
    const V = ProfLayout.stats;
    const k = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const state = STATE_NAMES[k.getUint32(K.stateOffset, true)] ?? 'unreadable';
    const present = k.getUint32(K.presentOffset, true);
    return {
      tgid: k.getUint32(K.tgidOffset, true),
      state,
      labels: labels.map((label, i) => {
        if (state !== 'set' || (present & (1 << i)) === 0) return undefined;
        const at = K.labelsOffset + i * ProfLayout.labelBytes;
        return key.slice(at, at + label.size);
      }),
      userStack: k.getInt32(K.userStackOffset, true),
      kernelStack: k.getInt32(K.kernelStackOffset, true),
      cpuNs: u64(v, V.cpuNsOffset),
      pieces: u64(v, V.piecesOffset),
      samples: u64(v, V.samplesOffset),
      requests: u64(v, V.requestsOffset),
    };
  };

  let closed = false;
  return {
    mapFd: obj.mapFd(profilerNames.dataMap),
    labels,
    links,
    createdPins: obj.createdPins,
    attachTime,
    attachSampler,
    detach,
    read() {
      return {
        buckets: mapEntries(obj.mapFd(profilerNames.bucketsMap)).map(([key, value]) => decode(key, value)),
        unstampedPieces: counter(ProfCounter.UNSTAMPED),
        droppedFull: counter(ProfCounter.MAP_FULL),
        stacksLost: counter(ProfCounter.STACK_LOST),
      };
    },
    stack(id) {
      if (id < 0) return [];
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, id, true);
      const value = new Uint8Array(ProfLayout.stackDepth * 8);
      if (!mapLookupElem(obj.mapFd(profilerNames.stacksMap), key, value)) return [];
      const view = new DataView(value.buffer);
      const ips: bigint[] = [];
      for (let i = 0; i < ProfLayout.stackDepth; i++) {
        const ip = view.getBigUint64(i * 8, true);
        if (ip === 0n) break;
        ips.push(ip);
      }
      return ips;
    },
    close() {
      if (closed) return;
      closed = true;
      detach();
      obj.dispose();
    },
  };
}
