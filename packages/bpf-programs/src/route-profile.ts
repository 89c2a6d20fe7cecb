// The route profiler (tld_route_profile.bpf.c) from user space: load it for one process, attach its two consumers
// (on-CPU time: sched_switch + sys_enter; samples: a CPU-clock perf event on every online CPU), read the per-route
// totals, detach.
import { closeSync } from 'node:fs';
import { decodeString } from '@tld/protocol';
import { type BpfLink, mapEntries, mapLookupElem } from './inspect.js';
import { type MapPlacement, loadObject, mapUpdateElem } from './loader.js';
import { names, objectPaths } from './objects.js';
import { onlineCpus, perfEventOpen } from './perf.js';
import { ProfileCounter, ProfileLayout, RouteState } from './profile-layout.js';

/** What a thread had published when BPF charged it. */
export type RouteBucketState = 'route' | 'idle' | 'none' | 'unreadable';

const STATE_NAMES: Readonly<Record<number, RouteBucketState>> = {
  [RouteState.SET]: 'route',
  [RouteState.IDLE]: 'idle',
  [RouteState.NONE]: 'none',
  [RouteState.UNREADABLE]: 'unreadable',
};

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

/** What the profiler has collected so far. */
export interface RouteProfileReading {
  readonly totals: readonly RouteTotal[];
  /** Pieces of threads already on a CPU at attach: their start is unknown, so they were not charged. */
  readonly unstampedPieces: number;
  /** Charges dropped because the per-route map was full (more than ProfileLayout.maxRoutes buckets). */
  readonly droppedFull: number;
}

export interface RouteProfileOptions {
  /** The process whose threads are profiled (its pid). */
  readonly tgid: number;
  /** Where tld_data_map lives: private to the profiler (default) or pinned at / reused from a path. */
  readonly map?: MapPlacement;
  /** CPU-clock samples per second on each CPU; default 99 (off the beat of periodic timers). */
  readonly sampleHz?: number;
}

export interface RouteProfile {
  /** fd of tld_data_map: hand it to `TaskLocalData.open({ mapFd })` in the profiled process's threads. */
  readonly mapFd: number;
  /** The attachments (sched_switch, sys_enter, then one perf event per CPU), empty while detached. */
  readonly links: readonly BpfLink[];
  /** Pins this load created (removed by close()). */
  readonly createdPins: readonly string[];
  /**
   * Attaches on_sched_switch, on_syscall and, on every online CPU, a CPU-clock perf event with on_cpu_sample. On
   * failure whatever was attached is detached again. Throws BpfSyscallError (EACCES from perf_event_open without
   * root).
   */
  attach(): void;
  /** Destroys every link: the programs stop counting. Idempotent. */
  detach(): void;
  /** The per-route totals and counters, read from the maps (works attached and detached). */
  read(): RouteProfileReading;
  /** Detaches, closes the object and removes the pins it created. Idempotent. */
  close(): void;
}

const u64 = (view: DataView, offset: number): number => Number(view.getBigUint64(offset, true));

/**
 * Loads tld_route_profile.bpf.o for process `tgid` (nothing is attached until attach()). Throws TypeError or
 * RangeError for bad options, BpfSyscallError when loading fails.
 */
export function loadRouteProfile(options: RouteProfileOptions): RouteProfile {
  const { tgid, map = 'private', sampleHz = 99 } = options;
  if (!Number.isInteger(tgid) || tgid <= 0 || tgid > 0x7fff_ffff) throw new TypeError('tgid must be a process id');
  if (!Number.isInteger(sampleHz) || sampleHz < 1 || sampleHz > 10_000) {
    throw new RangeError('sampleHz must be an integer in 1 .. 10000');
  }
  const obj = loadObject(objectPaths.routeProfile, { [names.dataMap]: map });
  const links: BpfLink[] = [];
  try {
    const config = new Uint8Array(ProfileLayout.config.size);
    new DataView(config.buffer).setUint32(ProfileLayout.config.tgidOffset, tgid, true);
    mapUpdateElem(obj.mapFd(names.profileConfigMap), new Uint8Array(4), config);
  } catch (error) {
    obj.dispose();
    throw error;
  }

  // In reverse order of attaching: sched_switch goes last, so on_syscall never runs on a thread whose switch-in
  // was not stamped (and attach() starts with it, for the same reason).
  const detach = (): void => {
    for (const link of links.splice(0).reverse()) link.destroy();
  };

  const attach = (): void => {
    if (links.length > 0) return;
    try {
      links.push(obj.attach(names.switchProgram), obj.attach(names.syscallProgram));
      for (const cpu of onlineCpus()) {
        const pfd = perfEventOpen({ sampleFreq: sampleHz, cpu });
        try {
          links.push(obj.attachPerfEvent(names.sampleProgram, pfd));
        } catch (error) {
          closeSync(pfd);
          throw error;
        }
      }
    } catch (error) {
      detach();
      throw error;
    }
  };

  const counter = (index: number): number => {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, index, true);
    const value = new Uint8Array(8);
    return mapLookupElem(obj.mapFd(names.profileCountersMap), key, value) ? u64(new DataView(value.buffer), 0) : 0;
  };

  const read = (): RouteProfileReading => {
    const K = ProfileLayout.routeKey;
    const V = ProfileLayout.routeStats;
    const totals = mapEntries(obj.mapFd(names.routeStatsMap)).map(([key, value]): RouteTotal => {
      const state = new DataView(key.buffer).getUint32(K.stateOffset, true);
      const v = new DataView(value.buffer);
      return {
        state: STATE_NAMES[state] ?? 'unreadable',
        route: state === RouteState.SET ? decodeString(key.subarray(K.routeOffset, K.routeOffset + ProfileLayout.routeBytes)) : '',
        cpuNs: u64(v, V.cpuNsOffset),
        pieces: u64(v, V.piecesOffset),
        samples: u64(v, V.samplesOffset),
      };
    });
    return { totals, unstampedPieces: counter(ProfileCounter.UNSTAMPED), droppedFull: counter(ProfileCounter.MAP_FULL) };
  };

  let closed = false;
  return {
    mapFd: obj.mapFd(names.dataMap),
    links,
    createdPins: obj.createdPins,
    attach,
    detach,
    read,
    close() {
      if (closed) return;
      closed = true;
      detach();
      obj.dispose();
    },
  };
}
