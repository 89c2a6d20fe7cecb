// Where this package's compiled BPF objects are, and the names of the programs and maps inside them.
import { fileURLToPath } from 'node:url';
import { MAP_NAME, type MapValueSize, mapValueRevision } from '@tld/protocol';

/** The objects ship in dist/bpf/ (`../dist` also resolves from src/, where the tests import this module). */
function built(name: string): string {
  return fileURLToPath(new URL(`../dist/bpf/${name}`, import.meta.url));
}

/** Absolute paths of the compiled objects, which the package ships (CO-RE: they load on any kernel with BTF). */
export const objectPaths = Object.freeze({
  /** Program `tld_read` (SEC("syscall")): run-time key names in, the calling thread's values out. */
  reader: built('tld_reader.bpf.o'),
  /** Program `tld_read_cached` (SEC("syscall")): keys "req_id" and "route" through the cached tld_get_data(). */
  cached: built('tld_cached.bpf.o'),
  /**
   * Program `tld_iter` (iter.s/task): a record per task with an element in tld_data_map (16-byte value), with
   * copies of its metadata and data pages and of the values of the run() it is in (src/iter.ts decodes them).
   */
  iter: built('tld_iter.bpf.o'),
  /** The same program for a tld_data_map with the 24-byte value. */
  iterV2: built('tld_iter_v2.bpf.o'), // iterObjectPath(24)
  /** The README example (examples/req_trace.bpf.c): tp_btf/sys_enter program `on_sys_enter`. */
  example: built('examples/req_trace.bpf.o'),
  /** The bpftool example (examples/sock_req_id.bpf.c): cgroup/sock_create program `sock_req_id`, map `req_ids`. */
  bpftoolExample: built('examples/sock_req_id.bpf.o'),
  /** The README example of tld_get_context_data() (examples/route_sample.bpf.c): perf_event program `on_sample`. */
  routeSample: built('examples/route_sample.bpf.o'),
});

/**
 * The build of tld_iter for a map whose value is `valueSize` bytes: tld_iter.bpf.o for revision 1 of the map value,
 * tld_iter_v<n>.bpf.o (bpf/tld_iter_v<n>.bpf.c) for revision n of @tld/protocol's MAP_VALUE_REVISIONS.
 */
export function iterObjectPath(valueSize: MapValueSize): string {
  const revision = mapValueRevision(valueSize)?.revision;
  if (revision === undefined) throw new RangeError(`no map value revision is ${valueSize} bytes`);
  return built(revision === 1 ? 'tld_iter.bpf.o' : `tld_iter_v${revision}.bpf.o`);
}

/** Names of programs and maps inside the objects. */
export const names = Object.freeze({
  dataMap: MAP_NAME,
  keyMap: 'tld_key_map',
  /** Per task: the pages tld_key_map's offsets were computed from (reset on re-registration). */
  keyOwnerMap: 'tld_key_owner',
  readerProgram: 'tld_read',
  cachedProgram: 'tld_read_cached',
  iterProgram: 'tld_iter',
});
