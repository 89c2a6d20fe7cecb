// TaskLocalData: opens the task-local-data map, registers the calling thread (PROTOCOL.md §5) and hands out typed
// keys over the process's metadata page and this thread's data page. JavaScript decides, native does syscalls.
import { readlinkSync, statSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  type AtomicMemory,
  DEFAULT_PIN_PATH,
  type KeyInfo,
  type Layout,
  ProtocolErrorCode,
  TldError,
  checkMapValueSize,
  createKey,
  dataPageOffset,
  decodeMapValue,
  encodeMapValue,
  layoutFor,
  listKeys,
  readDataStart,
} from '@tld/protocol';
import { BpfSyscallError, NotSupportedError, UserspaceErrorCode, closedError, syscallError } from './errors.js';
import { BytesKey, F64Key, I64Key, type Key, type Session, StringKey, U32Key, U64Key } from './keys.js';
import { MetaPageMemory } from './meta-memory.js';
import { type MapInfo, native } from './native.js';

/** statfs f_type of bpffs (include/uapi/linux/magic.h BPF_FS_MAGIC). */
const BPF_FS_MAGIC = 0xcafe4a11;
/** What /proc/self/fd/N links to for a BPF map fd (fs/anon_inodes.c name "bpf-map"). */
const BPF_MAP_FD_LINK = 'anon_inode:bpf-map';

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

/** BPF_OBJ_GET checks the pin like a file: read and write permission on it, from its mode and owner. */
function pinPermissionError(pinPath: string, cause: unknown): TldError {
  let pin = '';
  try {
    const { mode, uid, gid } = statSync(pinPath);
    pin = ` (mode 0${(mode & 0o777).toString(8)}, owner uid ${uid}, gid ${gid})`;
  } catch {
    // the pin's directory is not searchable by us either: the message below still holds
  }
  return new TldError(
    UserspaceErrorCode.PERMISSION,
    `opening the pinned map ${pinPath}: permission denied. Opening a pin needs read and write permission on the ` +
      `pin file${pin} and search permission on its directories: run as the pin's owner, or have its owner grant ` +
      'access (chown/chmod, keeping it closed to untrusted users: whoever can open it can point any task\'s storage ' +
      'at memory of their choosing). When the mode allows it, a security module (SELinux, AppArmor) denied it',
    { cause },
  );
}

function deniedError(what: string, cause: unknown): TldError {
  return new TldError(
    UserspaceErrorCode.PERMISSION,
    `${what}: permission denied by the kernel, which lets any process use an open map's fd for these calls, ` +
      'so a seccomp filter or a security module (SELinux, AppArmor, lockdown) is denying this process: allow bpf() ' +
      'and pidfd_open() for it',
    { cause },
  );
}

function isErrno(error: unknown, ...codes: string[]): error is BpfSyscallError {
  return error instanceof BpfSyscallError && codes.includes(error.errnoCode);
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

/** Throws ERR_TLD_NO_BPFFS unless the directory of `pinPath` is on a bpffs mount. */
function checkBpffs(pinPath: string): void {
  const dir = dirname(pinPath);
  let type: number;
  try {
    type = statfsSync(dir).type;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw pinPermissionError(pinPath, error);
    throw new TldError(
      UserspaceErrorCode.NO_BPFFS,
      `${dir} does not exist (${code ?? String(error)}), so nothing can be pinned at ${pinPath}: ` +
        'mount bpffs with `mount -t bpf bpf /sys/fs/bpf` and pin the map there',
      { cause: error },
    );
  }
  if (type !== BPF_FS_MAGIC) {
    throw new TldError(
      UserspaceErrorCode.NO_BPFFS,
      `${dir} is not a bpffs mount (filesystem type 0x${type.toString(16)}), so ${pinPath} cannot be a pinned map: ` +
        'mount bpffs with `mount -t bpf bpf /sys/fs/bpf` and use a pin path inside it',
    );
  }
}

/** BPF_OBJ_GET of the pin with typed errors; the returned fd is the caller's to close. */
function openPinned(pinPath: string): number {
  checkBpffs(pinPath);
  let fd: number;
  try {
    fd = native.objGet(pinPath);
  } catch (raw) {
    const error = syscallError(raw, `opening the pinned map ${pinPath}`);
    if (isErrno(error, 'ENOENT')) {
      throw new TldError(
        UserspaceErrorCode.NO_MAP,
        `nothing is pinned at ${pinPath}: load a BPF program that declares tld_data_map pinned by name ` +
          '(__uint(pinning, LIBBPF_PIN_BY_NAME)), or create the map with `pnpm tld map create` in the task-local-data repository',
        { cause: error },
      );
    }
    if (isErrno(error, 'EPERM', 'EACCES')) throw pinPermissionError(pinPath, error);
    throw error;
  }
  try {
    if (readlinkSync(`/proc/self/fd/${fd}`) !== BPF_MAP_FD_LINK) {
      throw new TldError(
        UserspaceErrorCode.MAP_TYPE,
        `${pinPath} is a pinned BPF object but not a map: pin the task-local-data map (tld_data_map) there`,
      );
    }
    warnOnLoosePinMode(pinPath);
  } catch (error) {
    native.close(fd);
    throw error;
  }
  return fd;
}

/** A pin that group or others may open lets them point any task's storage at their own memory. */
function warnOnLoosePinMode(pinPath: string): void {
  const mode = statSync(pinPath).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    process.emitWarning(
      `${pinPath} has mode 0${mode.toString(8)}: users other than its owner can open the task-local-data map and ` +
        "point any task's storage at memory of their choosing. Restrict it with `chmod 600 " +
        pinPath +
        '`',
      { type: 'TldSecurityWarning', code: 'TLD_LOOSE_PIN_MODE' },
    );
  }
}

/** Throws ERR_TLD_BAD_FD unless `fd` is an open BPF map fd of this process. */
function checkMapFd(fd: number): void {
  let link: string;
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch (error) {
    throw new TldError(
      UserspaceErrorCode.BAD_FD,
      `mapFd ${fd} is not an open file descriptor: pass the fd of the task-local-data map (e.g. bpf_map__fd())`,
      { cause: error },
    );
  }
  if (link !== BPF_MAP_FD_LINK) {
    throw new TldError(
      UserspaceErrorCode.BAD_FD,
      `mapFd ${fd} is ${link}, not a BPF map: pass the fd of the task-local-data map (e.g. bpf_map__fd())`,
    );
  }
}

/** Reads the map's info and throws ERR_TLD_MAP_TYPE / ERR_TLD_VALUE_SIZE unless it is a task-local-data map. */
function checkMap(fd: number, source: string): MapInfo {
  let info: MapInfo;
  try {
    info = native.objGetInfoByFd(fd);
  } catch (raw) {
    const error = syscallError(raw, `reading the map info of ${source}`);
    if (isErrno(error, 'EBADF', 'EBADFD', 'EINVAL')) {
      throw new TldError(UserspaceErrorCode.BAD_FD, `${source} is not an open BPF map fd: pass the task-local-data map's fd`, {
        cause: error,
      });
    }
    throw error;
  }
  const { BPF_MAP_TYPE_TASK_STORAGE } = native.constants;
  if (info.type !== BPF_MAP_TYPE_TASK_STORAGE) {
    throw new TldError(
      UserspaceErrorCode.MAP_TYPE,
      `${source} (map ${JSON.stringify(info.name)}, id ${info.id}) has map type ${info.type}, not ` +
        `BPF_MAP_TYPE_TASK_STORAGE (${BPF_MAP_TYPE_TASK_STORAGE}): point at the task-local-data map (tld_data_map)`,
    );
  }
  try {
    checkMapValueSize(info.valueSize);
  } catch (error) {
    throw new TldError(
      UserspaceErrorCode.VALUE_SIZE,
      `${source} (map ${JSON.stringify(info.name)}, id ${info.id}) has value_size ${info.valueSize}; a task-local-data ` +
        'map value is 16 or 24 bytes (struct tld_map_value): create the map from the generated tld_layout.h',
      { cause: error },
    );
  }
  return info;
}

/** This thread's pidfd as a map key; the caller closes the pidfd. */
function openOwnPidfd(): { pidfd: number; key: Uint8Array } {
  let pidfd: number;
  try {
    pidfd = native.pidfdOpen(native.gettid(), native.constants.PIDFD_THREAD);
  } catch (raw) {
    throw translateRegistrationError(syscallError(raw, "opening this thread's pidfd"));
  }
  const key = new Uint8Array(4);
  new DataView(key.buffer).setInt32(0, pidfd, true);
  return { pidfd, key };
}

function translateRegistrationError(error: unknown): unknown {
  if (error instanceof BpfSyscallError) {
    if (error.syscall === 'pidfd_open' && error.errnoCode === 'EINVAL') {
      return new NotSupportedError('PIDFD_THREAD', '6.9', `pidfd_open(gettid(), PIDFD_THREAD) failed with EINVAL: thread pidfds need Linux 6.9 or later`, {
        cause: error,
      });
    }
    if (error.syscall === 'pidfd_open' && error.errnoCode === 'ENOSYS') {
      return new NotSupportedError('pidfd_open', '5.3', 'pidfd_open is not available: it needs Linux 5.3 or later', { cause: error });
    }
    if (error.errnoCode === 'EPERM' || error.errnoCode === 'EACCES') {
      return deniedError(`${error.syscall} while registering this thread`, error);
    }
    if (error.syscall === 'BPF_MAP_UPDATE_ELEM' && (error.errnoCode === 'EFAULT' || error.errnoCode === 'EOPNOTSUPP')) {
      // PROTOCOL.md §1: EFAULT for a read-only or unmapped page, EOPNOTSUPP for a struct spanning two pages.
      // Our own pages are neither, so the pages came from other native code through tld_meta_p / tld_data_p.
      return new TldError(
        ProtocolErrorCode.BAD_LAYOUT,
        `the kernel cannot pin this thread's pages (${error.errnoCode}): ` +
          (error.errnoCode === 'EFAULT'
            ? 'a page installed by other native code as tld_meta_p or tld_data_p is read-only or unmapped'
            : 'a page installed by other native code as tld_meta_p or tld_data_p is not contained in one page') +
          ': install writable, page-aligned pages (PROTOCOL.md §2, §4)',
        { cause: error },
      );
    }
    if (error.errnoCode === 'ENOMEM') {
      return new BpfSyscallError(
        error.syscall,
        error.errno,
        error.errnoCode,
        `${error.message}: the kernel ran out of memory for this thread's task storage or for pinning its pages; ` +
          'free memory, or close TaskLocalData on threads that no longer need it',
      );
    }
  }
  return error;
}

/**
 * Checks that the kernel treats the map value's pointers as uptrs: a user-space lookup then returns them
 * zeroed (PROTOCOL.md §1). Seeing our own addresses means the map's BTF lacks the "uptr" tag.
 */
function verifyUptr(fd: number, valueSize: number, source: string): void {
  const { pidfd, key } = openOwnPidfd();
  let value: Uint8Array;
  try {
    value = native.mapLookupElem(fd, key, valueSize);
  } catch (raw) {
    throw syscallError(raw, `looking up this thread's element in ${source}`);
  } finally {
    native.close(pidfd);
  }
  const { data, meta } = decodeMapValue(value);
  if (data !== 0n || meta !== 0n) {
    throw new NotSupportedError(
      'uptr fields in BPF_MAP_TYPE_TASK_STORAGE values',
      '6.13',
      `${source} stores the page addresses as plain numbers instead of pinning the pages: the kernel is older than ` +
        "6.13 or the map's BTF does not tag struct tld_map_value's pointers as __uptr (clang emits the pointee as a " +
        'forward declaration unless the BPF object uses it: add globals `struct tld_data_u tld_data_dummy; ' +
        'struct tld_meta_u tld_meta_dummy;` to the object that declares the map)',
    );
  }
}

/** Frees this thread's data page when no map registers it (the addon decides; it holds the registrations). */
function releaseUnusedPage(): void {
  native.releaseThreadDataPage();
}

/**
 * Registers this thread in the map (once per map per thread; later opens share it) and returns the handle.
 * On any failure nothing stays registered and a page nobody uses is released.
 */
function acquireRegistration(fd: number, info: MapInfo, source: string, dataPage: ArrayBuffer): number {
  const value = encodeMapValue(
    {
      data: native.threadDataPageAddress(),
      meta: native.metaPageAddress(),
      start: readDataStart(new Uint8Array(dataPage)),
    },
    info.valueSize,
  );
  let handle: number;
  try {
    const registration = native.registerThread(fd, info.id, value);
    if (!registration.created) return registration.handle;
    handle = registration.handle;
  } catch (raw) {
    releaseUnusedPage();
    throw translateRegistrationError(syscallError(raw, `registering this thread in ${source}`));
  }
  try {
    verifyUptr(fd, info.valueSize, source);
  } catch (error) {
    try {
      native.unregisterThread(handle);
      releaseUnusedPage();
    } catch {
      // The element could not be deleted: the addon keeps the page (never freed while registered) and retries
      // at thread exit.
    }
    throw error;
  }
  return handle;
}

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
      const meta = native.metaPage();
      const data = native.threadDataPage();
      checkDataPage(data, layout);
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
    return key;
  }
}

/** Values are 8-aligned only if data[] is: refuse a foreign data page whose `start` breaks that. */
function checkDataPage(data: ArrayBuffer, layout: Layout): void {
  const start = readDataStart(new Uint8Array(data));
  if (start % 8 !== 0 || start >= data.byteLength || data.byteLength > layout.pageSize) {
    releaseUnusedPage();
    throw new TldError(
      ProtocolErrorCode.BAD_LAYOUT,
      `this thread's data page (tld_data_p, set by other native code) has start ${start}: data[] must begin at an ` +
        '8-byte aligned offset inside the page (PROTOCOL.md §2)',
    );
  }
}
