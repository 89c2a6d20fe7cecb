// What BPF reads of a thread's values through the walk to its current async context (tld_get_context_data() of
// tld.bpf.h; bpf/tld_context.bpf.c), for the tests that prove the walk: on the calling thread (tld_read_context), and for every thread of one process,
// sampled on the CPU clock and whenever a thread's event loop goes idle (tld_context_on_cpu, tld_context_on_idle).
// The keys are fixed at compile time: req_id (u64), route (a string of ContextLayout.routeBytes), weight (f64) and
// mark (u64).
import { decodeF64, decodeString } from '@tld/protocol';
import {
  type BpfLink,
  ContextFrom,
  type MapPlacement,
  loadObject,
  mapLookupElem,
  mapUpdateElem,
  names as bpfNames,
  onlineCpus,
  perfEventOpen,
  testRun,
} from '@tld/bpf-programs';
import { ContextLayout, ContextSampleKind } from './layout.js';
import { names, objectPaths } from './objects.js';

/** The keys the context readers read, in the order of `ret`. */
export const CONTEXT_KEYS = Object.freeze(['req_id', 'route', 'weight', 'mark'] as const);
export type ContextKey = (typeof CONTEXT_KEYS)[number];

/** What tld_get_context_data() returned for one key. */
export interface ContextKeyReading {
  /** ContextFrom.CONTEXT (1), ContextFrom.PAGE (0), or a negative errno (-ENOENT: no such key; others: no value). */
  readonly ret: number;
  /** Where the value came from; 'none' for a negative ret (the value is undefined then). */
  readonly from: 'context' | 'page' | 'none';
}

/** The four keys as one reader saw them; a value is undefined when its key gave no value. */
export interface ContextReading {
  readonly keys: Readonly<Record<ContextKey, ContextKeyReading>>;
  readonly req_id: bigint | undefined;
  readonly route: string | undefined;
  readonly weight: number | undefined;
  readonly mark: bigint | undefined;
}

function fromOf(ret: number): ContextKeyReading['from'] {
  if (ret === ContextFrom.CONTEXT) return 'context';
  if (ret === ContextFrom.PAGE) return 'page';
  return 'none';
}

/** Decodes a struct tld_context_values at `at` of `bytes`. */
function decodeValues(bytes: Uint8Array, at: number): ContextReading {
  const V = ContextLayout.values;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rets = CONTEXT_KEYS.map((_, i) => view.getInt32(at + V.retOffset + 4 * i, true));
  const keys = Object.fromEntries(
    CONTEXT_KEYS.map((name, i) => {
      const ret = rets[i] ?? -1;
      return [name, { ret, from: fromOf(ret) }];
    }),
  ) as Record<ContextKey, ContextKeyReading>;
  const ok = (name: ContextKey): boolean => keys[name].ret >= 0;
  const word = (offset: number): Uint8Array => bytes.subarray(at + offset, at + offset + 8);
  return {
    keys,
    req_id: ok('req_id') ? view.getBigUint64(at + V.reqIdOffset, true) : undefined,
    route: ok('route')
      ? decodeString(bytes.subarray(at + V.routeOffset, at + V.routeOffset + ContextLayout.routeBytes))
      : undefined,
    weight: ok('weight') ? decodeF64(word(V.weightOffset)) : undefined,
    mark: ok('mark') ? view.getBigUint64(at + V.markOffset, true) : undefined,
  };
}

/** What tld_read_context saw on the calling thread. */
export interface ContextResult extends ContextReading {
  /** tld_object_init(): 0, or -ENODATA (-61) for a thread that never registered (the keys are then unread). */
  readonly initErr: number;
  readonly tid: number;
  /**
   * User memory reads of one more walk to req_id on this thread (tld_read_context only): how many of the walk's
   * words its copies held. 0 when that walk gave no value from the run's record.
   */
  readonly walkReads: number;
}

/**
 * Runs tld_read_context (fd `progFd`; or tld_read_context_task, which reads with bpf_copy_from_user_task()) on the
 * calling thread. Throws BpfSyscallError when BPF_PROG_TEST_RUN fails.
 */
export function readContextOnThisThread(progFd: number): ContextResult {
  const L = ContextLayout;
  const ctx = new Uint8Array(L.ctxSize);
  const view = new DataView(ctx.buffer);
  testRun(progFd, ctx, 'BPF_PROG_TEST_RUN(tld_read_context)');
  return {
    ...decodeValues(ctx, L.readOffset),
    initErr: view.getInt32(L.initErrOffset, true),
    tid: view.getUint32(L.tidOffset, true),
    walkReads: view.getUint32(L.walkReadsOffset, true),
  };
}

/** A loaded tld_context.bpf.o. */
export interface ContextReader {
  /** fd of tld_data_map: hand it to `TaskLocalData.open({ mapFd })` (the reader keeps ownership). */
  readonly mapFd: number;
  /** fd of tld_read_context, for readContextOnThisThread() on any thread of the process (e.g. a worker). */
  readonly progFd: number;
  /** fd of tld_read_context_task (tld_get_context_data_task(): bpf_copy_from_user_task()). */
  readonly taskProgFd: number;
  /** readContextOnThisThread() of tld_read_context, or of tld_read_context_task with `remote`. */
  read(options?: { remote?: boolean }): ContextResult;
  /**
   * Starts sampling the threads of process `tgid`: a CPU-clock perf event of `sampleHz` on every online CPU, and
   * a reading at every entry of an epoll wait. Throws BpfSyscallError; whatever was attached is detached again.
   */
  watch(options: { tgid: number; sampleHz: number }): void;
  /** Stops sampling (the readings stay). Idempotent. */
  unwatch(): void;
  /** Readings taken so far (at most ContextLayout.maxSamples: the ring keeps the latest), oldest first. */
  samples(): ContextSample[];
  /** Detaches, closes the object and removes pins it created. Idempotent. */
  close(): void;
}

/** One reading of the sampler. */
export interface ContextSample extends ContextReading {
  /** bpf_ktime_get_ns(): CLOCK_MONOTONIC, the clock of process.hrtime.bigint(). */
  readonly ns: bigint;
  readonly tid: number;
  /** 'cpu': the thread was running (a CPU-clock sample); 'idle': its event loop was entering epoll_wait. */
  readonly kind: 'cpu' | 'idle';
}

/**
 * Loads tld_context.bpf.o with tld_data_map private (default), pinned at / reused from `{ pinPath }`, or `{ mapFd }`.
 * Throws BpfSyscallError when loading fails.
 */
export function loadContextReader(options: { map?: MapPlacement } = {}): ContextReader {
  const obj = loadObject(objectPaths.context, { [bpfNames.dataMap]: options.map ?? 'private' });
  const progFd = obj.progFd(names.contextProgram);
  const taskProgFd = obj.progFd(names.contextTaskProgram);
  const configFd = obj.mapFd(names.contextConfigMap);
  const C = ContextLayout.config;
  let links: BpfLink[] = [];
  const zero = new Uint8Array(4);

  const setConfig = (tgid: number): void => {
    const config = new Uint8Array(C.size);
    new DataView(config.buffer).setUint32(C.tgidOffset, tgid, true);
    mapUpdateElem(configFd, zero, config);
  };
  const unwatch = (): void => {
    for (const link of links.reverse()) link.destroy();
    links = [];
  };
  return {
    mapFd: obj.mapFd(bpfNames.dataMap),
    progFd,
    taskProgFd,
    read: (readOptions) => readContextOnThisThread(readOptions?.remote === true ? taskProgFd : progFd),
    watch({ tgid, sampleHz }) {
      if (!Number.isSafeInteger(tgid) || tgid <= 0) throw new TypeError('tgid must be a process id');
      if (links.length > 0) throw new Error('the context sampler is already watching');
      setConfig(tgid);
      try {
        links.push(obj.attach(names.contextIdleProgram));
        for (const cpu of onlineCpus()) {
          links.push(obj.attachPerfEvent(names.contextCpuProgram, perfEventOpen({ sampleFreq: sampleHz, cpu })));
        }
      } catch (error) {
        unwatch();
        throw error;
      }
    },
    unwatch,
    samples() {
      const config = new Uint8Array(C.size);
      if (!mapLookupElem(configFd, zero, config)) return [];
      const taken = new DataView(config.buffer).getBigUint64(C.nextOffset, true);
      const max = BigInt(ContextLayout.maxSamples);
      const first = taken > max ? taken - max : 0n;
      const S = ContextLayout.sample;
      const fd = obj.mapFd(names.contextSamplesMap);
      const out: ContextSample[] = [];
      const key = new Uint8Array(4);
      const value = new Uint8Array(S.size);
      const view = new DataView(value.buffer);
      for (let i = first; i < taken; i++) {
        new DataView(key.buffer).setUint32(0, Number(i % max), true);
        if (!mapLookupElem(fd, key, value)) continue;
        const kind = view.getUint32(S.kindOffset, true);
        out.push({
          ...decodeValues(value, S.readOffset),
          ns: view.getBigUint64(S.nsOffset, true),
          tid: view.getUint32(S.tidOffset, true),
          kind: kind === ContextSampleKind.IDLE ? 'idle' : 'cpu',
        });
      }
      return out;
    },
    close() {
      unwatch();
      obj.dispose();
    },
  };
}
