// Test helpers that load task-local-data BPF programs through libbpf (our small addon in native/) and run them on
// the calling thread, so a test can check that BPF sees exactly what TypeScript wrote.
import { existsSync, statSync, unlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { release } from 'node:os';
import { TldError, NAME_MAX_BYTES } from '@tld/protocol';
import {
  CachedLayout,
  ReaderLayout,
  ReaderStatus,
  names as objectNames,
  objectPaths,
} from '@tld/bpf-programs';
import { NotSupportedError } from '@tld/userspace';

interface NativeLoadedObject {
  maps(): Record<string, number>;
  progs(): Record<string, number>;
  createdPins(): string[];
  close(): void;
}
interface NativeAddon {
  LoadedObject: new (path: string, pins: Record<string, string | null>) => NativeLoadedObject;
  testRun(progFd: number, ctx: Uint8Array): number;
  gettid(): number;
  mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
}
const addon = createRequire(import.meta.url)('../build/Release/tld_testkit.node') as NativeAddon;

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** A bpf()/libbpf call failed. `errno` is positive; the message carries libbpf's log (verifier output included). */
export class BpfError extends TldError<'ERR_TLD_SYSCALL'> {
  override name = 'BpfError';
  constructor(
    message: string,
    readonly errno: number,
    readonly syscall: string,
    readonly libbpfLog: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_TLD_SYSCALL', message, options);
  }
}

// The kernel or the process lacks a feature the tests need: tests may skip on this error only.
export { NotSupportedError };

function wrapNative<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as Error & { errno?: number; syscall?: string; libbpfLog?: string };
    if (typeof e.errno === 'number') {
      throw new BpfError(`${what}: ${e.message}`, e.errno, e.syscall ?? what, e.libbpfLog ?? '', { cause: err });
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Loading objects

/** Where a map of a loaded object lives: private to the object, or pinned at (or reused from) a bpffs path. */
export type MapPlacement = 'private' | { pinPath: string };

/** A loaded BPF object; its fds stay open until close(). */
export interface LoadedBpfObject {
  /** Map fds by map name (libbpf's names for internal maps such as `.data`). */
  readonly maps: Readonly<Record<string, number>>;
  /** Program fds by function name. */
  readonly progs: Readonly<Record<string, number>>;
  /** Pins this load created (they did not exist before); close() does not remove them, unpinCreated() does. */
  readonly createdPins: readonly string[];
  /** The fd of map `name`; throws RangeError when the object has no such map. */
  mapFd(name: string): number;
  /** The fd of program `name`; throws RangeError when the object has no such program. */
  progFd(name: string): number;
  /** Removes the pins this load created (those still present). */
  unpinCreated(): void;
  /** Closes every fd of the object. Idempotent. */
  close(): void;
}

/**
 * Opens and loads the BPF object at `path`. Maps named in `placement` are pinned at / reused from the given path
 * (new pins get mode 0600); every other map is private, so the host's `/sys/fs/bpf/tld_data_map` is untouched.
 * Throws BpfError (with libbpf's log) when libbpf or the kernel refuses the object.
 */
export function loadObject(path: string, placement: Record<string, MapPlacement> = {}): LoadedBpfObject {
  if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
  const pins: Record<string, string | null> = {};
  for (const [name, where] of Object.entries(placement)) {
    if (where === 'private') pins[name] = null;
    else if (typeof where === 'object' && typeof where.pinPath === 'string' && where.pinPath.startsWith('/')) {
      pins[name] = where.pinPath;
    } else throw new TypeError(`placement of map ${name} must be 'private' or { pinPath: absolute path }`);
  }
  if (!existsSync(path)) {
    throw new BpfError(`BPF object ${path} does not exist: run \`pnpm --filter @tld/bpf-programs build\``, 2,
      'open', '');
  }
  const native = wrapNative(`loading ${path}`, () => new addon.LoadedObject(path, pins));
  const maps = Object.freeze(native.maps());
  const progs = Object.freeze(native.progs());
  const createdPins = Object.freeze(native.createdPins());
  return {
    maps,
    progs,
    createdPins,
    mapFd(name) {
      const fd = maps[name];
      if (fd === undefined) throw new RangeError(`no map ${name} in ${path} (has: ${Object.keys(maps).join(', ')})`);
      return fd;
    },
    progFd(name) {
      const fd = progs[name];
      if (fd === undefined) throw new RangeError(`no program ${name} in ${path}`);
      return fd;
    },
    unpinCreated() {
      for (const pin of createdPins) unpin(pin);
    },
    close() {
      native.close();
    },
  };
}

/** Removes a bpffs pin if present (pins are files: unlink). */
export function unpin(path: string): void {
  if (!path.startsWith('/sys/fs/bpf/')) throw new RangeError(`refusing to unlink ${path}: not under /sys/fs/bpf/`);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

let pinCounter = 0;
/** A fresh path `/sys/fs/bpf/tld-test-<pid>-<n>-<tag>` for a test's own pin (nothing is created). */
export function uniquePinPath(tag = 'map'): string {
  pinCounter += 1;
  return `/sys/fs/bpf/tld-test-${process.pid}-${pinCounter}-${tag.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** Kernel thread id of the calling thread (what BPF reports as task->pid). */
export function gettid(): number {
  return addon.gettid();
}

// ---------------------------------------------------------------------------------------------------------------
// The run-time name reader (tld_reader.bpf.c, program tld_read)

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

function checkNames(names: readonly string[]): Uint8Array[] {
  if (!Array.isArray(names)) throw new TypeError('names must be an array of strings');
  if (names.length > ReaderLayout.maxKeys) {
    throw new RangeError(`at most ${ReaderLayout.maxKeys} names per read, got ${names.length}`);
  }
  return names.map((name) => {
    if (typeof name !== 'string') throw new TypeError('names must be strings');
    const bytes = utf8.encode(name);
    if (bytes.length === 0 || bytes.length > NAME_MAX_BYTES || bytes.includes(0)) {
      throw new RangeError(`key name ${JSON.stringify(name)} must be 1..${NAME_MAX_BYTES} UTF-8 bytes without NUL`);
    }
    return bytes;
  });
}

/**
 * Runs program `tld_read` (fd `progFd`) on the calling thread for `names` and decodes what it saw. Works on any
 * thread of the process, e.g. a worker using an fd the main thread loaded. Throws RangeError/TypeError for bad
 * names, BpfError when BPF_PROG_TEST_RUN fails.
 */
export function readOnThisThread(progFd: number, names: readonly string[]): ReadResult {
  if (!Number.isInteger(progFd) || progFd < 0) throw new TypeError('progFd must be a file descriptor');
  const encoded = checkNames(names);
  const L = ReaderLayout;
  const ctx = new Uint8Array(L.ctxSize);
  const view = new DataView(ctx.buffer);
  view.setUint32(L.nrKeysOffset, encoded.length, true);
  encoded.forEach((bytes, i) => ctx.set(bytes, L.keysOffset + i * L.keySize + L.key.nameOffset));

  wrapNative('BPF_PROG_TEST_RUN(tld_read)', () => addon.testRun(progFd, ctx));

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
  names.forEach((name, i) => {
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

/** A loaded `tld_read` program with its tld_data_map. */
export interface Reader {
  /** fd of tld_data_map: hand it to `TaskLocalData.open({ mapFd })` (the reader keeps ownership). */
  readonly mapFd: number;
  readonly progFd: number;
  /** Pins this reader created (removed by close()). */
  readonly createdPins: readonly string[];
  /** readOnThisThread(progFd, names). */
  read(names: readonly string[]): ReadResult;
  /** Closes the object's fds and removes pins it created. Idempotent. */
  close(): void;
}

function dataMapPlacement(map: MapPlacement | undefined): Record<string, MapPlacement> {
  return { [objectNames.dataMap]: map ?? 'private' };
}

/**
 * Loads tld_reader.bpf.o with tld_data_map private (default) or pinned at / reused from `{ pinPath }`.
 * Throws BpfError when loading fails.
 */
export function loadReader(options: { map?: MapPlacement } = {}): Reader {
  const obj = loadObject(objectPaths.reader, dataMapPlacement(options.map));
  const progFd = obj.progFd(objectNames.readerProgram);
  let closed = false;
  return {
    mapFd: obj.mapFd(objectNames.dataMap),
    progFd,
    createdPins: obj.createdPins,
    read: (names) => readOnThisThread(progFd, names),
    close() {
      if (closed) return;
      closed = true;
      obj.close();
      obj.unpinCreated();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The cached reader (tld_cached.bpf.c, program tld_read_cached: keys "req_id" u64 and "route" 32 bytes)

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

/** Runs tld_read_cached (fd `progFd`) on the calling thread. Throws BpfError when BPF_PROG_TEST_RUN fails. */
export function runCachedOnThisThread(progFd: number): CachedResult {
  if (!Number.isInteger(progFd) || progFd < 0) throw new TypeError('progFd must be a file descriptor');
  const L = CachedLayout;
  const ctx = new Uint8Array(L.ctxSize);
  const view = new DataView(ctx.buffer);
  wrapNative('BPF_PROG_TEST_RUN(tld_read_cached)', () => addon.testRun(progFd, ctx));
  const found = view.getUint32(L.foundOffset, true);
  return {
    initErr: view.getInt32(L.initErrOffset, true),
    reqId: found & 1 ? view.getBigUint64(L.reqIdOffset, true) : undefined,
    route: found & 2 ? decodeString(ctx.subarray(L.routeOffset, L.routeOffset + L.routeBytes)) : undefined,
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
export interface CachedReader {
  readonly mapFd: number;
  readonly progFd: number;
  run(): CachedResult;
  close(): void;
}

/** Loads tld_cached.bpf.o (tld_data_map private by default). Throws BpfError when loading fails. */
export function loadCachedReader(options: { map?: MapPlacement } = {}): CachedReader {
  const obj = loadObject(objectPaths.cached, dataMapPlacement(options.map));
  const progFd = obj.progFd(objectNames.cachedProgram);
  let closed = false;
  return {
    mapFd: obj.mapFd(objectNames.dataMap),
    progFd,
    run: () => runCachedOnThisThread(progFd),
    close() {
      if (closed) return;
      closed = true;
      obj.close();
      obj.unpinCreated();
    },
  };
}

/** Maps that are wrong for tld_data_map in one way each (tld_fixtures.bpf.o). */
export interface Fixtures {
  /** Task storage with value_size 32. */
  readonly wrongValueSizeFd: number;
  /** Hash map with value_size 16. */
  readonly wrongMapTypeFd: number;
  /** Pin paths requested through `pins` (removed by close()). */
  readonly createdPins: readonly string[];
  close(): void;
}

/** Loads the error-path fixture maps, optionally pinning them (at fresh paths: uniquePinPath()). */
export function loadFixtures(pins: { wrongValueSize?: string; wrongMapType?: string } = {}): Fixtures {
  const placement: Record<string, MapPlacement> = {};
  if (pins.wrongValueSize) placement[objectNames.wrongValueSizeMap] = { pinPath: pins.wrongValueSize };
  if (pins.wrongMapType) placement[objectNames.wrongMapTypeMap] = { pinPath: pins.wrongMapType };
  const obj = loadObject(objectPaths.fixtures, placement);
  let closed = false;
  return {
    wrongValueSizeFd: obj.mapFd(objectNames.wrongValueSizeMap),
    wrongMapTypeFd: obj.mapFd(objectNames.wrongMapTypeMap),
    createdPins: obj.createdPins,
    close() {
      if (closed) return;
      closed = true;
      obj.close();
      obj.unpinCreated();
    },
  };
}

/** `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`: the flags of BPF_MAP_UPDATE_ELEM (linux/bpf.h). */
export const MapUpdateFlags = Object.freeze({ ANY: 0, NOEXIST: 1, EXIST: 2 });

/**
 * One `BPF_MAP_UPDATE_ELEM` (libbpf's bpf_map_update_elem) on map `fd`: stores `value` under `key`. A thin
 * wrapper for benchmarks that measure what a syscall per update costs. `key` and `value` must hold at least the
 * map's key_size and value_size bytes: the kernel reads that many from them and cannot see a shorter buffer (no
 * info lookup here, so the call stays one syscall). Returns nothing; throws TypeError for bad argument types and BpfError
 * with the kernel's errno when the update fails (EBADF: not a map fd; EINVAL: wrong sizes or flags; E2BIG: map
 * full; EEXIST/ENOENT: BPF_NOEXIST/BPF_EXIST not met).
 */
export function mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number = MapUpdateFlags.ANY): void {
  if (!Number.isInteger(fd) || fd < 0) throw new TypeError('fd must be a file descriptor');
  if (!(key instanceof Uint8Array) || !(value instanceof Uint8Array)) {
    throw new TypeError('key and value must be Uint8Arrays');
  }
  if (!Number.isInteger(flags) || flags < 0) throw new TypeError('flags must be a non-negative integer (BPF_ANY = 0)');
  try {
    addon.mapUpdateElem(fd, key, value, flags);
  } catch (err) {
    const e = err as Error & { errno?: number };
    if (typeof e.errno === 'number') {
      throw new BpfError(`BPF_MAP_UPDATE_ELEM(fd ${fd}): ${e.message}`, e.errno, 'bpf_map_update_elem', '', {
        cause: err,
      });
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Decoders for value bytes (little-endian, as user space stored them)

function need(bytes: Uint8Array | undefined, n: number, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what}: no bytes (key not found?)`);
  if (bytes.length < n) throw new RangeError(`${what} needs ${n} bytes, got ${bytes.length}`);
  return bytes;
}
function dv(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
/** u64 from the first 8 bytes. Throws when fewer bytes or undefined. */
export function decodeU64(bytes: Uint8Array | undefined): bigint {
  return dv(need(bytes, 8, 'u64')).getBigUint64(0, true);
}
/** i64 from the first 8 bytes. */
export function decodeI64(bytes: Uint8Array | undefined): bigint {
  return dv(need(bytes, 8, 'i64')).getBigInt64(0, true);
}
/** u32 from the first 4 bytes. */
export function decodeU32(bytes: Uint8Array | undefined): number {
  return dv(need(bytes, 4, 'u32')).getUint32(0, true);
}
/** f64 from the first 8 bytes. */
export function decodeF64(bytes: Uint8Array | undefined): number {
  return dv(need(bytes, 8, 'f64')).getFloat64(0, true);
}
/** UTF-8 string up to the first NUL (or the end). */
export function decodeString(bytes: Uint8Array | undefined): string {
  const b = need(bytes, 0, 'string');
  const nul = b.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? b : b.subarray(0, nul));
}

// ---------------------------------------------------------------------------------------------------------------
// Whether the tests can run here

/** True when env TLD_REQUIRE_BPF=1: tests needing BPF must fail, never skip. */
export function bpfRequired(): boolean {
  return process.env['TLD_REQUIRE_BPF'] === '1';
}

/** uptr fields in task storage (the kernel pins user pages) arrived in Linux 6.13. */
export const UPTR_MIN_KERNEL = '6.13';

function kernelAtLeast(min: string, rel = release()): boolean {
  const have = rel.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  const want = min.split('.').map((p) => Number.parseInt(p, 10));
  for (let i = 0; i < want.length; i++) {
    const h = have[i] ?? 0;
    const w = want[i] ?? 0;
    if (Number.isNaN(h)) return false;
    if (h !== w) return h > w;
  }
  return true;
}

/** Classifies a failure to load the reader: NotSupportedError only when the machine really lacks the feature. */
function classify(err: unknown): NotSupportedError | undefined {
  if (!(err instanceof BpfError)) return undefined;
  if (err.errno === 1 /* EPERM */ || err.errno === 13 /* EACCES */) {
    return new NotSupportedError('bpf() permission', undefined,
      'bpf() was refused: run as root or with CAP_BPF + CAP_PERFMON (and CAP_SYS_ADMIN for BPF_PROG_TEST_RUN ' +
      'of syscall programs)', { cause: err });
  }
  if (err.errno === 38 /* ENOSYS */) {
    return new NotSupportedError('bpf() syscall', undefined, 'this kernel has no bpf() syscall', { cause: err });
  }
  if (!existsSync('/sys/kernel/btf/vmlinux')) {
    return new NotSupportedError('kernel BTF', UPTR_MIN_KERNEL,
      'the kernel has no BTF (/sys/kernel/btf/vmlinux): build it with CONFIG_DEBUG_INFO_BTF=y', { cause: err });
  }
  // A kernel that should support uptr but refused it is a bug to report, not a reason to skip.
  if (!kernelAtLeast(UPTR_MIN_KERNEL)) {
    return new NotSupportedError('uptr in task storage', UPTR_MIN_KERNEL,
      `kernel ${release()} predates uptr support (Linux ${UPTR_MIN_KERNEL}): ${err.message}`, { cause: err });
  }
  return undefined;
}

let probed: { supported: true } | { supported: false; reason: NotSupportedError } | undefined;

/**
 * Loads the reader once to see whether BPF task local data works here. Returns `{ supported: true }`, or
 * `{ supported: false, reason }` with a NotSupportedError tests may skip on. Throws that NotSupportedError when
 * TLD_REQUIRE_BPF=1, and rethrows any other failure (a broken build or a kernel that should have worked).
 */
export function bpfSupport(): { supported: true } | { supported: false; reason: NotSupportedError } {
  if (!probed) {
    try {
      loadReader().close();
      probed = { supported: true };
    } catch (err) {
      const reason = classify(err);
      if (!reason) throw err;
      probed = { supported: false, reason };
    }
  }
  if (!probed.supported && bpfRequired()) throw probed.reason;
  return probed;
}

/** Reads a file mode (permission bits) — for asserting pins are 0600. */
export function fileMode(path: string): number {
  return statSync(path).mode & 0o7777;
}
