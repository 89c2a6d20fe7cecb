// The ctx structs of the SEC("syscall") reader programs (bpf/tld_reader.bpf.c, bpf/tld_cached.bpf.c), described
// once: include/tld_reader.h declares them (reader-header.ts) and readers.ts uses the offsets computed here.
import { SLOT_NAME_SIZE } from '@tld/protocol';
import { type Define, at, define, struct } from './ctx-layout.js';

export const readerDefines: readonly Define[] = [
  { name: 'TLD_READER_MAX_KEYS', value: 16, comment: 'keys one run of tld_read looks up' },
  {
    name: 'TLD_READER_NAME_BYTES',
    value: Math.ceil(SLOT_NAME_SIZE / 8) * 8,
    comment: 'TLD_NAME_LEN rounded up to whole 8-byte words',
  },
  {
    name: 'TLD_READER_VALUE_BYTES',
    value: 64,
    comment: 'bytes of each value copied out; the rest of a longer one is not',
  },
  { name: 'TLD_CACHED_ROUTE_BYTES', value: 32, comment: 'size of the key "route" that tld_read_cached reads' },
];

/** tld_reader_ctx.status bits (tld_iter_record.status too). */
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

/** tld_cached_ctx.found bits. */
export const CachedFound = Object.freeze({ REQ_ID: 0x1, ROUTE: 0x2 });

export const readerKey = struct(
  'tld_reader_key',
  [
    { name: 'name', type: 'char', count: 'TLD_READER_NAME_BYTES', comment: 'in: NUL-padded key name' },
    {
      name: 'value',
      type: '__u8',
      count: 'TLD_READER_VALUE_BYTES',
      comment: 'out: first min(size, 64) bytes of the value; the rest zero',
    },
    { name: 'offset', type: '__s32', comment: 'out: start + off when found, else -(slots searched)' },
    { name: 'size', type: '__u16', comment: "out: the key's size when found, else 0" },
    { name: 'found', type: '__u8', comment: 'out: 1 when found' },
    { name: 'bad_name', type: '__u8', comment: 'out: 1 when name is empty or has no NUL in TLD_NAME_LEN bytes' },
  ],
  readerDefines,
);

export const readerCtx = struct(
  'tld_reader_ctx',
  [
    { name: 'nr_keys', type: '__u32', comment: 'in: keys[0 .. nr_keys-1] are looked up (at most TLD_READER_MAX_KEYS)' },
    { name: 'status', type: '__u32', comment: 'out: TLD_READER_* bits' },
    { name: 'tid', type: '__u32', comment: 'out: task->pid of the calling thread as BPF saw it' },
    { name: 'tgid', type: '__u32', comment: 'out: task->tgid' },
    { name: 'start', type: '__u64', comment: 'out: `start` read from the data page' },
    { name: 'meta_cnt', type: '__u16', comment: 'out: meta.cnt' },
    { name: 'meta_size', type: '__u16', comment: 'out: meta.size' },
    { name: '__pad', type: '__u32' },
    { name: 'keys', type: readerKey, count: 'TLD_READER_MAX_KEYS' },
  ],
  readerDefines,
);

export const cachedCtx = struct(
  'tld_cached_ctx',
  [
    { name: 'init_err', type: '__s32', comment: 'out: tld_object_init() result (0, -ENODATA, -ENOMEM)' },
    { name: 'found', type: '__u32', comment: 'out: TLD_CACHED_FOUND_* bits' },
    { name: 'req_id', type: '__u64', comment: 'out: value of "req_id" (u64)' },
    { name: 'route', type: 'char', count: 'TLD_CACHED_ROUTE_BYTES', comment: 'out: value of "route" (a string key)' },
    {
      name: 'req_id_cache_before',
      type: '__s32',
      comment: "out: tld_key_map's cached position of req_id before the lookup",
    },
    { name: 'req_id_cache_after', type: '__s32', comment: 'out: ... and after it' },
    { name: 'route_cache_before', type: '__s32', comment: 'out: the same for route' },
    { name: 'route_cache_after', type: '__s32' },
    { name: 'tid', type: '__u32', comment: 'out: task->pid' },
    { name: '__pad', type: '__u32' },
  ],
  readerDefines,
);

/** struct tld_reader_ctx / struct tld_reader_key (include/tld_reader.h), as offsets. */
export const ReaderLayout = Object.freeze({
  maxKeys: define('TLD_READER_MAX_KEYS', readerDefines),
  nameBytes: define('TLD_READER_NAME_BYTES', readerDefines),
  valueBytes: define('TLD_READER_VALUE_BYTES', readerDefines),
  /** sizeof(struct tld_reader_ctx): ctx_size_in must cover every offset the program touches */
  ctxSize: readerCtx.size,
  nrKeysOffset: at(readerCtx, 'nr_keys'),
  statusOffset: at(readerCtx, 'status'),
  tidOffset: at(readerCtx, 'tid'),
  tgidOffset: at(readerCtx, 'tgid'),
  startOffset: at(readerCtx, 'start'),
  metaCntOffset: at(readerCtx, 'meta_cnt'),
  metaSizeOffset: at(readerCtx, 'meta_size'),
  keysOffset: at(readerCtx, 'keys'),
  /** sizeof(struct tld_reader_key) */
  keySize: readerKey.size,
  key: Object.freeze({
    nameOffset: at(readerKey, 'name'),
    valueOffset: at(readerKey, 'value'),
    offsetOffset: at(readerKey, 'offset'),
    sizeOffset: at(readerKey, 'size'),
    foundOffset: at(readerKey, 'found'),
    badNameOffset: at(readerKey, 'bad_name'),
  }),
});

/** struct tld_cached_ctx (include/tld_reader.h), as offsets. */
export const CachedLayout = Object.freeze({
  ctxSize: cachedCtx.size,
  initErrOffset: at(cachedCtx, 'init_err'),
  foundOffset: at(cachedCtx, 'found'),
  reqIdOffset: at(cachedCtx, 'req_id'),
  routeOffset: at(cachedCtx, 'route'),
  routeBytes: define('TLD_CACHED_ROUTE_BYTES', readerDefines),
  reqIdCacheBeforeOffset: at(cachedCtx, 'req_id_cache_before'),
  reqIdCacheAfterOffset: at(cachedCtx, 'req_id_cache_after'),
  routeCacheBeforeOffset: at(cachedCtx, 'route_cache_before'),
  routeCacheAfterOffset: at(cachedCtx, 'route_cache_after'),
  tidOffset: at(cachedCtx, 'tid'),
});
