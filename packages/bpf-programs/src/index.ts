/// <reference types="node" />
// Paths of the BPF objects this package builds, and the TypeScript mirror of include/tld_reader.h (the ctx structs
// of the syscall programs). The offsets are the C compiler's, so they cannot come from @tld/protocol:
// test/layout-btf.test.ts checks every number below against the built objects' BTF, test/layout.test.ts against
// a host build of the header.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAP_NAME, SLOT_NAME_SIZE } from '@tld/protocol';

function built(name: string): string {
  return fileURLToPath(new URL(`../build/bpf/${name}`, import.meta.url));
}

/** Absolute paths of the compiled objects (present after `pnpm --filter @tld/bpf-programs build`). */
export const objectPaths = Object.freeze({
  /** Program `tld_read` (SEC("syscall")): run-time key names in, the calling thread's values out. */
  reader: built('tld_reader.bpf.o'),
  /** Program `tld_read_cached` (SEC("syscall")): keys "req_id" and "route" through the cached tld_get_data(). */
  cached: built('tld_cached.bpf.o'),
  /** Maps `tld_wrong_value_size` (task storage, value 32 bytes) and `tld_wrong_map_type` (hash); no programs. */
  fixtures: built('tld_fixtures.bpf.o'),
  /** The README example (examples/req_trace.bpf.c): tp_btf/sys_enter program `on_sys_enter`. */
  example: built('examples/req_trace.bpf.o'),
});

/**
 * Include directories for a BPF program using tld.bpf.h: this package's include/ and @tld/protocol's (for the
 * generated tld_layout.h), resolved from where this package is installed, whatever the package manager's layout.
 */
export const includeDirs: readonly string[] = Object.freeze([
  fileURLToPath(new URL('../include', import.meta.url)),
  join(dirname(createRequire(import.meta.url).resolve('@tld/protocol')), '..', 'include'),
]);

/** Names of programs and maps inside the objects. */
export const names = Object.freeze({
  dataMap: MAP_NAME,
  keyMap: 'tld_key_map',
  /** Per task: the pages tld_key_map's offsets were computed from (reset on re-registration). */
  keyOwnerMap: 'tld_key_owner',
  readerProgram: 'tld_read',
  cachedProgram: 'tld_read_cached',
  wrongValueSizeMap: 'tld_wrong_value_size',
  wrongMapTypeMap: 'tld_wrong_map_type',
});

/** Where tld.bpf.h pins tld_data_map (LIBBPF_PIN_BY_NAME under libbpf's default root). */
export { DEFAULT_PIN_PATH } from '@tld/protocol';

/** struct tld_reader_ctx / struct tld_reader_key (include/tld_reader.h). */
export const ReaderLayout = Object.freeze({
  /** TLD_READER_MAX_KEYS */
  maxKeys: 16,
  /** TLD_READER_NAME_BYTES: the NUL-padded name field, TLD_NAME_LEN rounded up to whole 8-byte words */
  nameBytes: Math.ceil(SLOT_NAME_SIZE / 8) * 8,
  /** TLD_READER_VALUE_BYTES: bytes of each value copied out */
  valueBytes: 64,
  /** sizeof(struct tld_reader_ctx): ctx_size_in must cover every offset the program touches */
  ctxSize: 2208,
  nrKeysOffset: 0,
  statusOffset: 4,
  tidOffset: 8,
  tgidOffset: 12,
  startOffset: 16,
  metaCntOffset: 24,
  metaSizeOffset: 26,
  keysOffset: 32,
  /** sizeof(struct tld_reader_key) */
  keySize: 136,
  key: Object.freeze({
    nameOffset: 0,
    valueOffset: 64,
    offsetOffset: 128,
    sizeOffset: 132,
    foundOffset: 134,
    badNameOffset: 135,
  }),
});

/** tld_reader_ctx.status bits. */
export const ReaderStatus = Object.freeze({
  /** the thread has an element in tld_data_map */
  STORAGE: 0x1,
  /** ... whose data pointer is non-NULL */
  DATA: 0x2,
  /** ... whose metadata pointer is non-NULL */
  META: 0x4,
  /** all three: BPF can read the thread's keys */
  REGISTERED: 0x7,
});

/** struct tld_cached_ctx (include/tld_reader.h). */
export const CachedLayout = Object.freeze({
  ctxSize: 72,
  initErrOffset: 0,
  foundOffset: 4,
  reqIdOffset: 8,
  routeOffset: 16,
  /** TLD_CACHED_ROUTE_BYTES: size of key "route" */
  routeBytes: 32,
  reqIdCacheBeforeOffset: 48,
  reqIdCacheAfterOffset: 52,
  routeCacheBeforeOffset: 56,
  routeCacheAfterOffset: 60,
  tidOffset: 64,
});

/** tld_cached_ctx.found bits. */
export const CachedFound = Object.freeze({ REQ_ID: 0x1, ROUTE: 0x2 });

/** Key names and sizes tld_cached.bpf.c reads. */
export const CACHED_KEYS = Object.freeze({
  reqId: Object.freeze({ name: 'req_id', size: 8 }),
  route: Object.freeze({ name: 'route', size: 32 }),
});
