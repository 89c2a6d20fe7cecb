// The reader programs run on the calling thread: tld_read (run-time key names, tld_reader.bpf.c) and
// tld_read_cached (tld_get_data() with its per-task key cache, tld_cached.bpf.c). They show what BPF sees of the
// calling thread's task local data; the demo, the CLI and the tests use them.
import { NAME_MAX_BYTES, decodeString } from '@tld/protocol';
import { CachedFound, CachedLayout, ReaderLayout, ReaderStatus } from './reader-layout.js';
import { type MapPlacement, loadObject, testRun } from './loader.js';
import { names, objectPaths } from './objects.js';

/** What BPF saw for one key. */
export interface KeyReading {
  found: boolean;
  /** The key's size as published in the metadata page (0 when not found). */
  size: number;
  /** `start + off` of the value in the data page when found; else -(slots searched). */
  offset: number;
  /** The first min(size, 64) bytes of the value; undefined when not found. */
  value: Uint8Array | undefined;
}

/** What tld_read returned for the calling thread. */
export interface ReadResult {
  /** The thread has an element in the map with non-NULL data and metadata pointers. */
  registered: boolean;
  /** ReaderStatus bits (STORAGE | DATA | META). */
  status: number;
  /** task->pid as BPF saw it: the kernel thread id of the caller. */
  tid: number;
  tgid: number;
  /** `start` read from the data page (8 for a v1 writer; 0 when unregistered). */
  start: bigint;
  metaCnt: number;
  metaSize: number;
  /** Value bytes by key name; undefined for keys BPF did not find. */
  values: Record<string, Uint8Array | undefined>;
  keys: Record<string, KeyReading>;
}

const utf8 = new TextEncoder();

function checkNames(keyNames: readonly string[]): Uint8Array[] {
  if (!Array.isArray(keyNames)) throw new TypeError('names must be an array of strings');
  if (keyNames.length > ReaderLayout.maxKeys) {
    throw new RangeError(`at most ${ReaderLayout.maxKeys} names per read, got ${keyNames.length}`);
  }
  return keyNames.map((name) => {
    if (typeof name !== 'string') throw new TypeError('names must be strings');
    const bytes = utf8.encode(name);
    if (bytes.length === 0 || bytes.length > NAME_MAX_BYTES || bytes.includes(0)) {
      throw new RangeError(`key name ${JSON.stringify(name)} must be 1..${NAME_MAX_BYTES} UTF-8 bytes without NUL`);
    }
    return bytes;
  });
}

/**
 * Runs program `tld_read` (fd `progFd`) on the calling thread for `keyNames` and decodes what it saw. Works on
 * any thread of the process, e.g. a worker using an fd the main thread loaded. Throws RangeError/TypeError for
 * bad names, BpfSyscallError when BPF_PROG_TEST_RUN fails.
 */
export function readOnThisThread(progFd: number, keyNames: readonly string[]): ReadResult {
  const encoded = checkNames(keyNames);
  const L = ReaderLayout;
  const ctx = new Uint8Array(L.ctxSize);
  const view = new DataView(ctx.buffer);
  view.setUint32(L.nrKeysOffset, encoded.length, true);
  encoded.forEach((bytes, i) => ctx.set(bytes, L.keysOffset + i * L.keySize + L.key.nameOffset));

  testRun(progFd, ctx, 'BPF_PROG_TEST_RUN(tld_read)');

  const status = view.getUint32(L.statusOffset, true);
  const result: ReadResult = {
    registered: (status & ReaderStatus.REGISTERED) === ReaderStatus.REGISTERED,
    status,
    tid: view.getUint32(L.tidOffset, true),
    tgid: view.getUint32(L.tgidOffset, true),
    start: view.getBigUint64(L.startOffset, true),
    metaCnt: view.getUint16(L.metaCntOffset, true),
    metaSize: view.getUint16(L.metaSizeOffset, true),
    values: {},
    keys: {},
  };
  keyNames.forEach((name, i) => {
    const base = L.keysOffset + i * L.keySize;
    const found = ctx[base + L.key.foundOffset] === 1;
    const size = view.getUint16(base + L.key.sizeOffset, true);
    const valueStart = base + L.key.valueOffset;
    const value = found ? ctx.slice(valueStart, valueStart + Math.min(size, L.valueBytes)) : undefined;
    result.keys[name] = { found, size, offset: view.getInt32(base + L.key.offsetOffset, true), value };
    result.values[name] = value;
  });
  return result;
}

/** A loaded reader program with its tld_data_map. */
interface LoadedProgram {
  /** fd of tld_data_map: hand it to `TaskLocalData.open({ mapFd })` (the reader keeps ownership). */
  readonly mapFd: number;
  readonly progFd: number;
  /** Pins this load created (removed by close()). */
  readonly createdPins: readonly string[];
  /** Closes the object's fds and removes pins it created. Idempotent. */
  close(): void;
}

function loadProgram(path: string, program: string, map: MapPlacement | undefined): LoadedProgram {
  const obj = loadObject(path, { [names.dataMap]: map ?? 'private' });
  return {
    mapFd: obj.mapFd(names.dataMap),
    progFd: obj.progFd(program),
    createdPins: obj.createdPins,
    close() {
      obj.dispose();
    },
  };
}

/** A loaded `tld_read` program. */
export interface Reader extends LoadedProgram {
  /** readOnThisThread(progFd, names). */
  read(keyNames: readonly string[]): ReadResult;
}

/**
 * Loads tld_reader.bpf.o with tld_data_map private (default) or pinned at / reused from `{ pinPath }`.
 * Throws BpfSyscallError when loading fails.
 */
export function loadReader(options: { map?: MapPlacement } = {}): Reader {
  const program = loadProgram(objectPaths.reader, names.readerProgram, options.map);
  return { ...program, read: (keyNames) => readOnThisThread(program.progFd, keyNames) };
}

/** What tld_read_cached saw, with the per-task cache entries (tld_key_t.off) before and after the lookup. */
export interface CachedResult {
  /** tld_object_init(): 0, or -ENODATA (-61) for a thread that never registered. */
  initErr: number;
  reqId: bigint | undefined;
  route: string | undefined;
  reqIdCache: { before: number; after: number };
  routeCache: { before: number; after: number };
  tid: number;
}

/** Key names and sizes tld_cached.bpf.c reads. */
export const CACHED_KEYS = Object.freeze({
  reqId: Object.freeze({ name: 'req_id', size: 8 }),
  route: Object.freeze({ name: 'route', size: CachedLayout.routeBytes }),
});

/** Runs tld_read_cached (fd `progFd`) on the calling thread. Throws BpfSyscallError when BPF_PROG_TEST_RUN fails. */
export function runCachedOnThisThread(progFd: number): CachedResult {
  const L = CachedLayout;
  const ctx = new Uint8Array(L.ctxSize);
  const view = new DataView(ctx.buffer);
  testRun(progFd, ctx, 'BPF_PROG_TEST_RUN(tld_read_cached)');
  const found = view.getUint32(L.foundOffset, true);
  return {
    initErr: view.getInt32(L.initErrOffset, true),
    reqId: found & CachedFound.REQ_ID ? view.getBigUint64(L.reqIdOffset, true) : undefined,
    route:
      found & CachedFound.ROUTE ? decodeString(ctx.subarray(L.routeOffset, L.routeOffset + L.routeBytes)) : undefined,
    reqIdCache: {
      before: view.getInt32(L.reqIdCacheBeforeOffset, true),
      after: view.getInt32(L.reqIdCacheAfterOffset, true),
    },
    routeCache: {
      before: view.getInt32(L.routeCacheBeforeOffset, true),
      after: view.getInt32(L.routeCacheAfterOffset, true),
    },
    tid: view.getUint32(L.tidOffset, true),
  };
}

/** A loaded `tld_read_cached` program; its tld_key_map (the per-task cache) is always private. */
export interface CachedReader extends LoadedProgram {
  run(): CachedResult;
}

/** Loads tld_cached.bpf.o (tld_data_map private by default). Throws BpfSyscallError when loading fails. */
export function loadCachedReader(options: { map?: MapPlacement } = {}): CachedReader {
  const program = loadProgram(objectPaths.cached, names.cachedProgram, options.map);
  return { ...program, run: () => runCachedOnThisThread(program.progFd) };
}
