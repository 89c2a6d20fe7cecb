// Where this package's compiled BPF objects are, and the names of the programs and maps inside them.
import { MAP_NAME } from '@tld/protocol';

function built(name: string): string {
  return decodeURIComponent(new URL(`../build/bpf/${name}`, import.meta.url).pathname);
}

/** Absolute paths of the compiled objects (present after `pnpm --filter @tld/bpf-programs build`). */
export const objectPaths = Object.freeze({
  /** Program `tld_read` (SEC("syscall")): run-time key names in, the calling thread's values out. */
  reader: built('tld_reader.bpf.o'),
  /** Program `tld_read_cached` (SEC("syscall")): keys "req_id" and "route" through the cached tld_get_data(). */
  cached: built('tld_cached.bpf.o'),
  /** Maps `tld_wrong_value_size` (task storage, value 32 bytes) and `tld_wrong_map_type` (hash); no programs. */
  fixtures: built('tld_fixtures.bpf.o'),
  /** Program `tld_iter` (iter/task): a record per task registered in tld_data_map (16-byte value). */
  iter: built('tld_iter.bpf.o'),
  /** The same program for a tld_data_map with the 24-byte value. */
  iterV2: built('tld_iter_v2.bpf.o'),
  /** Programs `tld_canary_writer`, `tld_unmap_check` and `tld_lifecycle_stats` for lifecycle tests. */
  lifecycle: built('tld_lifecycle.bpf.o'),
  /** The README example (examples/req_trace.bpf.c): tp_btf/sys_enter program `on_sys_enter`. */
  example: built('examples/req_trace.bpf.o'),
});

/** Names of programs and maps inside the objects. */
export const names = Object.freeze({
  dataMap: MAP_NAME,
  keyMap: 'tld_key_map',
  /** Per task: the pages tld_key_map's offsets were computed from (reset on re-registration). */
  keyOwnerMap: 'tld_key_owner',
  readerProgram: 'tld_read',
  cachedProgram: 'tld_read_cached',
  iterProgram: 'tld_iter',
  canaryWriterProgram: 'tld_canary_writer',
  unmapCheckProgram: 'tld_unmap_check',
  lifecycleStatsProgram: 'tld_lifecycle_stats',
  wrongValueSizeMap: 'tld_wrong_value_size',
  wrongMapTypeMap: 'tld_wrong_map_type',
});
