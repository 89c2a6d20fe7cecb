// TaskLocalData: opens the task-local-data map, registers the calling thread (PROTOCOL.md §5) and hands out typed
// keys over the process's metadata page and this thread's data page. JavaScript decides, native does syscalls.
import {
  type AtomicMemory,
  DEFAULT_PIN_PATH,
  type KeyInfo,
  type Layout,
  createKey,
  dataPageOffset,
  layoutFor,
  listKeys,
  readDataStart,
} from '@tld/protocol';
import { type Entry, runWithValues } from './async-context.js';
import { closedError, syscallError, unknownKeyError } from './errors.js';
import { BytesKey, F64Key, I64Key, type Key, type Session, StringKey, U32Key, U64Key } from './keys.js';
import { checkMap, checkMapFd, openPinned } from './map.js';
import { MetaPageMemory } from './meta-memory.js';
import { native } from './native.js';
import { acquireRegistration, openPages, releaseUnusedPage } from './registration.js';

export interface OpenOptions {
  /** Path of the pinned map. Default DEFAULT_PIN_PATH. */
  readonly pinPath?: string;
  /** An open BPF map fd to use instead of a pin. The caller keeps ownership: open() and close() never close it. */
  readonly mapFd?: number;
}

/** One key of the metadata page. */
export interface KeyDescription {
  readonly name: string;
  readonly size: number;
  /** Offset of the value in data[]. */
  readonly offset: number;
}

export interface StringKeyOptions {
  /** set() cuts too-long values on a UTF-8 character boundary instead of throwing RangeError. */
  readonly truncate?: boolean;
}

function validateOptions(options: unknown): OpenOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new TypeError('TaskLocalData.open(options): options must be an object like { pinPath } or { mapFd }');
  }
  const { pinPath, mapFd } = options as Record<string, unknown>;
  if (pinPath !== undefined && mapFd !== undefined) {
    throw new TypeError('TaskLocalData.open(): give either pinPath or mapFd, not both');
  }
  if (pinPath !== undefined && (typeof pinPath !== 'string' || pinPath.length === 0 || pinPath.includes('\0'))) {
    throw new TypeError('TaskLocalData.open(): pinPath must be a non-empty path string without NUL');
  }
  if (mapFd !== undefined && (typeof mapFd !== 'number' || !Number.isInteger(mapFd) || mapFd < 0 || mapFd > 0x7fff_ffff)) {
    throw new TypeError('TaskLocalData.open(): mapFd must be a non-negative integer file descriptor');
  }
  return options as OpenOptions;
}

/** Values for run(): names of keys this TaskLocalData created, to values of each key's type. */
export type RunValues = Readonly<Record<string, bigint | number | string | Uint8Array>>;

type KeyKind = 'u64' | 'i64' | 'u32' | 'f64' | 'string' | 'bytes';

/**
 * Task-local data of the calling thread: typed keys whose values BPF programs read from this thread's page.
 * Each thread (main or worker) opens its own; keys of the same name share one slot and offset process-wide.
 */
export class TaskLocalData {
  /** Id of the map this thread is registered in. */
  readonly mapId: number;
  /** value_size of the map (16 or 24). */
  readonly valueSize: number;
  readonly #session: Session = { closed: false };
  readonly #registration: number;
  readonly #meta: AtomicMemory;
  readonly #data: ArrayBuffer;
  readonly #start: number;
  readonly #layout: Layout;
  readonly #keys = new Map<string, Key>();
  /** The first key handed out under each name: it decides how run() checks and encodes that name's value. */
  readonly #byName = new Map<string, Key>();

  private constructor(
    mapId: number,
    valueSize: number,
    registration: number,
    meta: ArrayBuffer,
    data: ArrayBuffer,
    layout: Layout,
  ) {
    this.mapId = mapId;
    this.valueSize = valueSize;
    this.#registration = registration;
    this.#meta = new MetaPageMemory(meta);
    this.#data = data;
    this.#start = readDataStart(new Uint8Array(data));
    this.#layout = layout;
  }

  /**
   * Opens the task-local-data map (default: pinned at /sys/fs/bpf/tld_data_map; or `{ pinPath }`, or
   * `{ mapFd }` which stays the caller's) and registers the calling thread in it.
   * Throws TypeError for bad options, TldError with code ERR_TLD_NO_BPFFS, ERR_TLD_NO_MAP, ERR_TLD_PERMISSION,
   * ERR_TLD_MAP_TYPE, ERR_TLD_VALUE_SIZE or ERR_TLD_BAD_FD, NotSupportedError (kernel or map without uptr
   * support, no PIDFD_THREAD) or BpfSyscallError; after a failure nothing is registered or held.
   */
  static open(options?: OpenOptions): TaskLocalData {
    const { pinPath, mapFd } = validateOptions(options);
    let fd: number;
    let source: string;
    if (mapFd !== undefined) {
      checkMapFd(mapFd);
      fd = mapFd;
      source = `mapFd ${mapFd}`;
    } else {
      const path = pinPath ?? DEFAULT_PIN_PATH;
      fd = openPinned(path);
      source = path;
    }
    try {
      const info = checkMap(fd, source);
      const layout = layoutFor(native.pageSize());
      const { meta, data } = openPages(layout);
      const registration = acquireRegistration(fd, info, source, data);
      return new TaskLocalData(info.id, info.valueSize, registration, meta, data, layout);
    } finally {
      // The registration keeps its own dup of the fd; a pin's fd is ours to close, a caller's mapFd is not.
      if (mapFd === undefined) native.close(fd);
    }
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#session.closed;
  }

  /** Get or create an unsigned 64-bit key (8 bytes). Throws the TldErrors of createKey, or ERR_TLD_CLOSED. */
  u64(name: string): U64Key {
    return this.#key('u64', name, 8, (info, at) => new U64Key(this.#session, info, this.#data, at));
  }

  /** Get or create a signed 64-bit key (8 bytes). */
  i64(name: string): I64Key {
    return this.#key('i64', name, 8, (info, at) => new I64Key(this.#session, info, this.#data, at));
  }

  /** Get or create an unsigned 32-bit key (4 bytes). */
  u32(name: string): U32Key {
    return this.#key('u32', name, 4, (info, at) => new U32Key(this.#session, info, this.#data, at));
  }

  /** Get or create a float64 key (8 bytes). */
  f64(name: string): F64Key {
    return this.#key('f64', name, 8, (info, at) => new F64Key(this.#session, info, this.#data, at));
  }

  /**
   * Get or create a UTF-8 string key of `size` bytes (values up to size − 1 bytes, NUL-terminated).
   * `{ truncate: true }` makes set() cut too-long values instead of throwing.
   */
  string(name: string, size: number, options?: StringKeyOptions): StringKey {
    const truncate = options?.truncate ?? false;
    if (typeof truncate !== 'boolean') throw new TypeError('string key options: truncate must be a boolean');
    return this.#key(`string`, name, size, (info, at) => new StringKey(this.#session, info, this.#data, at, truncate));
  }

  /** Get or create a raw bytes key of `size` bytes. */
  bytes(name: string, size: number): BytesKey {
    return this.#key('bytes', name, size, (info, at) => new BytesKey(this.#session, info, this.#data, at));
  }

  /** Every published key of the process in slot order. Throws ERR_TLD_CLOSED after close(). */
  keys(): KeyDescription[] {
    this.#checkOpen();
    return listKeys(this.#meta, this.#layout).map(({ name, size, offset }) => ({ name, size, offset }));
  }

  /**
   * Runs `fn` with `values` as this thread's task local data while `fn`, and every async continuation created
   * inside it (await, timers, I/O callbacks), runs on this thread; returns what `fn` returns (its promise for an
   * async `fn`). A nested run() merges its values over the enclosing run's (inner wins); inside a run, set()
   * changes the run's value and get() reads it; keys no run gives keep the thread's own value. Between callbacks
   * the page holds the thread's own values. The first call installs async hooks for this thread (see
   * async-context.ts); a thread that never calls run() has none.
   * Throws TypeError for a `values` that is not an object or an `fn` that is not a function, ERR_TLD_UNKNOWN_KEY
   * for a name no key of this TaskLocalData has, the TypeError/RangeError set() throws for a bad value, and
   * ERR_TLD_CLOSED after close(): always before anything is written or installed.
   */
  run<R>(values: RunValues, fn: () => R): R {
    this.#checkOpen();
    if (values === null || typeof values !== 'object' || Array.isArray(values)) {
      throw new TypeError('run(values, fn): values must be an object from key names to values, like { req_id: 42n }');
    }
    if (typeof fn !== 'function') throw new TypeError('run(values, fn): fn must be a function');
    const entries: Entry[] = [];
    for (const name of Object.keys(values)) {
      const key = this.#byName.get(name);
      if (key === undefined) throw unknownKeyError(name, [...this.#byName.keys()]);
      entries.push({ at: key.pageWord, value: key.encode(values[name]) });
    }
    return runWithValues(this.#data, entries, fn);
  }

  /**
   * Unregisters this thread from the map (when no other TaskLocalData of this thread uses it) and releases the
   * thread's page when nothing else in the thread uses it. Idempotent. Keys throw ERR_TLD_CLOSED afterwards.
   * Throws BpfSyscallError when the kernel refuses the delete; the TaskLocalData then stays open (retry close()).
   */
  close(): void {
    if (this.#session.closed) return;
    try {
      native.unregisterThread(this.#registration);
    } catch (raw) {
      throw syscallError(raw, `unregistering this thread from map ${this.mapId}`);
    }
    this.#session.closed = true;
    this.#keys.clear();
    this.#byName.clear();
    releaseUnusedPage();
  }

  #checkOpen(): void {
    if (this.#session.closed) throw closedError('TaskLocalData');
  }

  #key<K extends Key>(kind: KeyKind, name: string, size: number, make: (info: KeyInfo, byteOffset: number) => K): K {
    this.#checkOpen();
    const cacheKey = `${kind}:${size}:${name}`;
    const cached = this.#keys.get(cacheKey);
    if (cached) return cached as K;
    // A data page installed by other native code may end before meta.size does: refuse before claiming a slot.
    const dataLimit = this.#data.byteLength - this.#start;
    const info = createKey(this.#meta, name, size, { layout: this.#layout, dataLimit });
    const key = make(info, dataPageOffset(info.offset, this.#start));
    this.#keys.set(cacheKey, key);
    if (!this.#byName.has(name)) this.#byName.set(name, key);
    return key;
  }
}

