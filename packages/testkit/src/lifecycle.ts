// Watching threads come and go (tld_lifecycle.bpf.c): a BPF writer that keeps storing a canary into every
// registered page that has the canary key, a record of every data page seen registered until it is unmapped, and
// a count of threads unmapping their page while still registered. For tests of the writers' lifecycle; the key
// names and the canary come from tld_testkit.h.
import { LifecycleLayout } from './layout.js';
import { type MapPlacement, loadObject, testRun } from '@tld/bpf-programs';
import { MAP_NAME } from '@tld/protocol';
import { names, objectPaths } from './objects.js';

/** The counters of the watchers since they were attached. */
export interface LifecycleStats {
  /** Canaries tld_canary_writer stored. */
  readonly canaryWrites: bigint;
  /** Data pages seen registered, by the address their thread published in LifecycleLayout.pageKey. */
  readonly pagesSeen: bigint;
  /** ... and unmapped since: pagesSeen − pagesUnmapped pages are still mapped. */
  readonly pagesUnmapped: bigint;
  /** munmap() of its data page by a thread still registered with it: must stay 0. */
  readonly unmapViolations: bigint;
}

export interface LifecycleWatch {
  /** Reads the counters on the calling thread. Throws BpfSyscallError. */
  stats(): LifecycleStats;
  /** Detaches both watchers, closes the object and removes pins it created. Idempotent. */
  close(): void;
}

/**
 * Loads tld_lifecycle.bpf.o over the map placed by `map` and attaches both watchers (they run on every context
 * switch and every munmap() of the host until close()). tld_pages_seen stays private. Throws BpfSyscallError when loading or attaching fails.
 */
export function watchLifecycle(options: { map: MapPlacement }): LifecycleWatch {
  const obj = loadObject(objectPaths.lifecycle, { [MAP_NAME]: options.map });
  try {
    obj.attach(names.canaryWriterProgram);
    obj.attach(names.unmapCheckProgram);
  } catch (error) {
    obj.dispose();
    throw error;
  }
  const statsFd = obj.progFd(names.lifecycleStatsProgram);
  return {
    stats() {
      const L = LifecycleLayout;
      const ctx = new Uint8Array(L.ctxSize);
      testRun(statsFd, ctx, 'BPF_PROG_TEST_RUN(tld_lifecycle_stats)');
      const view = new DataView(ctx.buffer);
      return {
        canaryWrites: view.getBigUint64(L.canaryWritesOffset, true),
        pagesSeen: view.getBigUint64(L.pagesSeenOffset, true),
        pagesUnmapped: view.getBigUint64(L.pagesUnmappedOffset, true),
        unmapViolations: view.getBigUint64(L.unmapViolationsOffset, true),
      };
    },
    close() {
      obj.dispose();
    },
  };
}
