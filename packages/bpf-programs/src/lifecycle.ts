// Watching threads come and go (tld_lifecycle.bpf.c): a BPF writer that keeps storing a canary into every
// registered page that has the canary key, and a check that counts a thread unmapping its data page while it is
// still registered. For tests of the writers' lifecycle; the key names and the canary come from tld_reader.h.
import { LifecycleLayout } from './ctx-layout.js';
import { type MapPlacement, loadObject, testRun } from './loader.js';
import { names, objectPaths } from './objects.js';

/** The counters of the watchers since they were attached. */
export interface LifecycleStats {
  /** Canaries tld_canary_writer stored. */
  readonly canaryWrites: bigint;
  /** munmap() calls by registered threads that published their page address in LifecycleLayout.pageKey. */
  readonly unmapChecks: bigint;
  /** ... that unmapped that very page while the thread was still registered: must stay 0. */
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
 * switch and every munmap() of the host until close()). Throws BpfSyscallError when loading or attaching fails.
 */
export function watchLifecycle(options: { map: MapPlacement }): LifecycleWatch {
  const obj = loadObject(objectPaths.lifecycle, { [names.dataMap]: options.map });
  try {
    obj.attach(names.canaryWriterProgram);
    obj.attach(names.unmapCheckProgram);
  } catch (error) {
    obj.close();
    obj.unpinCreated();
    throw error;
  }
  const statsFd = obj.progFd(names.lifecycleStatsProgram);
  let closed = false;
  return {
    stats() {
      const L = LifecycleLayout;
      const ctx = new Uint8Array(L.ctxSize);
      testRun(statsFd, ctx, 'BPF_PROG_TEST_RUN(tld_lifecycle_stats)');
      const view = new DataView(ctx.buffer);
      return {
        canaryWrites: view.getBigUint64(L.canaryWritesOffset, true),
        unmapChecks: view.getBigUint64(L.unmapChecksOffset, true),
        unmapViolations: view.getBigUint64(L.unmapViolationsOffset, true),
      };
    },
    close() {
      if (closed) return;
      closed = true;
      obj.close();
      obj.unpinCreated();
    },
  };
}
