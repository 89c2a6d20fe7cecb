// The route profile of one process: the profiler labelled by the string key `route`, with `req_id` as the request
// key, both consumers attached (on-CPU time and CPU-clock samples), totals per route. What the demo measures.
import type { BpfLink, MapPlacement } from '@tld/bpf-programs';
import { decodeString } from '@tld/protocol';
import { loadProfiler } from './programs.js';

/** Size of the string key "route" the route profile reads (user space creates it with this size). */
export const ROUTE_KEY_BYTES = 32;

/** What a thread had published when BPF charged it. */
export type RouteBucketState = 'route' | 'idle' | 'none' | 'unreadable';

/** One bucket of the profile: a route, or one of the states in which a thread has none. */
export interface RouteTotal {
  /**
   * 'route': the thread was serving `route`; 'idle': registered, between requests (req_id 0 or route empty);
   * 'none': never registered, or its process never created the keys: it never set a route; 'unreadable': its
   * per-task key cache could not be allocated.
   */
  readonly state: RouteBucketState;
  /** The route for state 'route', else ''. */
  readonly route: string;
  /** On-CPU time charged at switch-out and at syscalls, in nanoseconds. */
  readonly cpuNs: number;
  /** Pieces of on-CPU time charged (a piece ends at a switch-out or a syscall). */
  readonly pieces: number;
  /** CPU-clock samples that found a thread in this bucket running. */
  readonly samples: number;
}

/** What the profile has collected so far. */
export interface RouteProfileReading {
  readonly totals: readonly RouteTotal[];
  /** Pieces of threads already on a CPU at attach: their start is unknown, so they were not charged. */
  readonly unstampedPieces: number;
  /** Charges dropped because the bucket map was full. */
  readonly droppedFull: number;
}

export interface RouteProfileOptions {
  /** The process whose threads are profiled (its pid). */
  readonly tgid: number;
  /** Where tld_data_map lives: private to the profiler (default) or pinned at / reused from a path. */
  readonly map?: MapPlacement;
  /** CPU-clock samples per second on each CPU; default 99. */
  readonly sampleHz?: number;
}

export interface RouteProfile {
  /** fd of tld_data_map: hand it to `TaskLocalData.open({ mapFd })` in the profiled process's threads. */
  readonly mapFd: number;
  /** The attachments (sched_switch, sys_enter, then one perf event per CPU), empty while detached. */
  readonly links: readonly BpfLink[];
  /** Pins this load created (removed by close()). */
  readonly createdPins: readonly string[];
  /** Attaches the on-CPU time consumers, then the sampler on every online CPU; undone on failure. */
  attach(): void;
  /** Destroys every link: the programs stop counting. Idempotent. */
  detach(): void;
  /** The per-route totals and counters (attached or detached). */
  read(): RouteProfileReading;
  /** Detaches, closes the object and removes the pins it created. Idempotent. */
  close(): void;
}

/**
 * Loads the profiler for process `tgid`, labelled by `route` (nothing is attached until attach()). Throws
 * TypeError for a bad tgid, TldError for a bad frequency, BpfSyscallError when loading fails.
 */
export function loadRouteProfile(options: RouteProfileOptions): RouteProfile {
  const { tgid, map = 'private', sampleHz = 99 } = options;
  if (!Number.isInteger(tgid) || tgid <= 0 || tgid > 0x7fff_ffff) throw new TypeError('tgid must be a process id');
  const profiler = loadProfiler({
    labels: [{ name: 'route', size: ROUTE_KEY_BYTES }],
    requestKey: 'req_id',
    pids: [tgid],
    map,
    sampleHz,
  });
  return {
    mapFd: profiler.mapFd,
    links: profiler.links,
    createdPins: profiler.createdPins,
    attach() {
      profiler.attachTime();
      try {
        profiler.attachSampler();
      } catch (error) {
        profiler.detach();
        throw error;
      }
    },
    detach: () => profiler.detach(),
    close: () => profiler.close(),
    read() {
      const reading = profiler.read();
      const totals = new Map<string, { -readonly [K in keyof RouteTotal]: RouteTotal[K] }>();
      for (const b of reading.buckets) {
        const route = b.labels[0] ? decodeString(b.labels[0]) : '';
        // A request without a route (or an empty one) is between requests for this profile, as before.
        const state: RouteBucketState = b.state === 'set' ? (route === '' ? 'idle' : 'route') : b.state;
        const id = `${state}\0${state === 'route' ? route : ''}`;
        const t = totals.get(id) ?? { state, route: state === 'route' ? route : '', cpuNs: 0, pieces: 0, samples: 0 };
        t.cpuNs += b.cpuNs;
        t.pieces += b.pieces;
        t.samples += b.samples;
        totals.set(id, t);
      }
      return {
        totals: [...totals.values()],
        unstampedPieces: reading.unstampedPieces,
        droppedFull: reading.droppedFull,
      };
    },
  };
}
