// Loading BPF objects through libbpf: place each map (private, or pinned at a path), load, hand out fds, attach
// programs; plus the map element commands and BPF_PROG_TEST_RUN. JavaScript validates, the addon calls libbpf.
import { existsSync, unlinkSync } from 'node:fs';
import { BpfSyscallError } from '@tld/protocol';
import { type BpfLink, wrapLink } from './inspect.js';
import { addon, callNative } from './native.js';

/**
 * Where a map of a loaded object lives: private to the object, pinned at (or reused from) a bpffs path, or an
 * existing map reused through an open fd (e.g. another loaded object's map; the caller keeps the fd).
 */
export type MapPlacement = 'private' | { pinPath: string } | { mapFd: number };

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
  /**
   * Attaches program `name` the way its SEC() says (`tp_btf/<event>`, ...) with bpf_program__attach(). The object
   * owns the link: close() detaches it. Throws RangeError for an unknown program, BpfSyscallError when libbpf or
   * the kernel refuses (libbpf's log in the message).
   */
  attach(program: string): BpfLink;
  /**
   * Attaches SEC("perf_event") program `name` to the perf event `perfFd` (perfEventOpen()). On success the link
   * owns `perfFd` and closes it when destroyed; on failure `perfFd` is still the caller's to close.
   */
  attachPerfEvent(program: string, perfFd: number): BpfLink;
  /** Removes the pins this load created (those still present). */
  unpinCreated(): void;
  /**
   * close(), then unpinCreated(), on the first call only: a pin someone else creates at the same path later is
   * left alone. What an owner of a loaded object calls when done. Idempotent.
   */
  dispose(): void;
  /**
   * Runs the iter program `name` once and returns everything it wrote. A task iterator visits every task of the
   * host, or only the threads of process `pid`. Throws RangeError for an unknown program, BpfSyscallError when
   * attaching or reading fails.
   */
  iterate(name: string, options?: { pid?: number }): Uint8Array;
  /** Destroys every link (detaching its program) and closes every fd of the object. Idempotent. */
  close(): void;
}

/** What loadObject() does besides placing maps. */
export interface LoadOptions {
  /**
   * Contents of internal maps before the load, by section name (`.rodata`, `.data`, a custom `.rodata.<name>`);
   * each exactly the section's size. A read-only section is frozen with them, so the verifier sees constants:
   * settings chosen at run time, such as key names for bpf_strncmp().
   */
  readonly initialValues?: Readonly<Record<string, Uint8Array>>;
}

/**
 * Opens and loads the BPF object at `path`. Maps named in `placement` are pinned at / reused from the given path
 * (new pins get mode 0600); every other map is private, so the host's `/sys/fs/bpf/tld_data_map` is untouched.
 * Throws TypeError for bad arguments, BpfSyscallError (with libbpf's log in `log` and the message) when the file
 * is missing, a section of `initialValues` is missing (ENOENT) or of another size (EINVAL), or libbpf or the
 * kernel refuses the object.
 */
export function loadObject(
  path: string,
  placement: Readonly<Record<string, MapPlacement>> = {},
  options: LoadOptions = {},
): LoadedBpfObject {
  if (typeof path !== 'string' || path === '') throw new TypeError('path must be a non-empty string');
  const initial = options.initialValues ?? {};
  if (!Object.values(initial).every((v) => v instanceof Uint8Array))
    throw new TypeError('initialValues must be Uint8Arrays');
  const pins: Record<string, string | number | null> = {};
  for (const [name, where] of Object.entries(placement)) {
    if (where === 'private') pins[name] = null;
    else if (
      typeof where === 'object' &&
      'pinPath' in where &&
      typeof where.pinPath === 'string' &&
      where.pinPath.startsWith('/')
    ) {
      pins[name] = where.pinPath;
    } else if (typeof where === 'object' && 'mapFd' in where && Number.isInteger(where.mapFd) && where.mapFd >= 0) {
      pins[name] = where.mapFd;
    } else
      throw new TypeError(`placement of map ${name} must be 'private', { pinPath: absolute path } or { mapFd: fd }`);
  }
  if (!existsSync(path)) {
    throw new BpfSyscallError(
      'open',
      2,
      'ENOENT',
      `BPF object ${path} does not exist: for this package's objects, reinstall @tld/bpf-programs (it ships them in ` +
        'dist/bpf; in its repository, `pnpm build` makes them)',
    );
  }
  const native = callNative(`loading ${path}`, () => new addon.LoadedObject(path, pins, initial));
  const maps = Object.freeze(native.maps());
  const progs = Object.freeze(native.progs());
  const createdPins = Object.freeze(native.createdPins());
  let disposed = false;
  const progFd = (name: string): number => {
    const fd = progs[name];
    if (fd === undefined) throw new RangeError(`no program ${name} in ${path}`);
    return fd;
  };
  return {
    maps,
    progs,
    createdPins,
    mapFd(name) {
      const fd = maps[name];
      if (fd === undefined) throw new RangeError(`no map ${name} in ${path} (has: ${Object.keys(maps).join(', ')})`);
      return fd;
    },
    progFd,
    attach(program) {
      progFd(program);
      return wrapLink(
        native,
        callNative(`attaching ${program}`, () => native.attach(program)),
        program,
      );
    },
    attachPerfEvent(program, perfFd) {
      progFd(program);
      if (!Number.isInteger(perfFd) || perfFd < 0) throw new TypeError('perfFd must be a file descriptor');
      return wrapLink(
        native,
        callNative(`attaching ${program} to perf event fd ${perfFd}`, () => native.attachPerfEvent(program, perfFd)),
        program,
      );
    },
    unpinCreated() {
      for (const pin of createdPins) unpin(pin);
    },
    iterate(name, options = {}) {
      const fd = progFd(name);
      const pid = options.pid ?? 0;
      if (!Number.isInteger(pid) || pid < 0 || pid > 0x7fff_ffff) throw new TypeError('pid must be a process id');
      return callNative(`iterating with ${name}`, () => addon.iterRead(fd, pid));
    },
    close() {
      native.close();
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      native.close();
      for (const pin of createdPins) unpin(pin);
    },
  };
}

/** Removes a bpffs pin if present (pins are files: unlink). Throws RangeError for a path outside /sys/fs/bpf/. */
export function unpin(path: string): void {
  if (!path.startsWith('/sys/fs/bpf/')) throw new RangeError(`refusing to unlink ${path}: not under /sys/fs/bpf/`);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The libbpf the loader addon runs with, e.g. "v1.1". */
export function libbpfVersion(): string {
  return addon.libbpfVersion();
}

/** Kernel thread id of the calling thread (what BPF reports as task->pid). */
export function gettid(): number {
  return addon.gettid();
}

/** `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`: the flags of BPF_MAP_UPDATE_ELEM (linux/bpf.h). */
export const MapUpdateFlags = Object.freeze({ ANY: 0, NOEXIST: 1, EXIST: 2 });

function checkElemArgs(fd: number, ...buffers: Uint8Array[]): void {
  if (!Number.isInteger(fd) || fd < 0) throw new TypeError('fd must be a file descriptor');
  if (!buffers.every((b) => b instanceof Uint8Array)) throw new TypeError('key and value must be Uint8Arrays');
}

/**
 * One `BPF_MAP_UPDATE_ELEM` on map `fd`: stores `value` under `key`. `key` and `value` must hold at least the
 * map's key_size and value_size bytes (the kernel reads that many; no info lookup here, so the call stays one
 * syscall). Throws TypeError for bad argument types and BpfSyscallError with the kernel's errno (EBADF: not a map
 * fd; EINVAL: wrong sizes or flags; E2BIG: map full; EEXIST/ENOENT: BPF_NOEXIST/BPF_EXIST not met).
 */
export function mapUpdateElem(
  fd: number,
  key: Uint8Array,
  value: Uint8Array,
  flags: number = MapUpdateFlags.ANY,
): void {
  checkElemArgs(fd, key, value);
  if (!Number.isInteger(flags) || flags < 0) throw new TypeError('flags must be a non-negative integer (BPF_ANY = 0)');
  callNative(`BPF_MAP_UPDATE_ELEM(fd ${fd})`, () => addon.mapUpdateElem(fd, key, value, flags));
}

/** One `BPF_MAP_DELETE_ELEM` on map `fd`. Throws TypeError, or BpfSyscallError (ENOENT: no such element). */
export function mapDeleteElem(fd: number, key: Uint8Array): void {
  checkElemArgs(fd, key);
  callNative(`BPF_MAP_DELETE_ELEM(fd ${fd})`, () => addon.mapDeleteElem(fd, key));
}

/**
 * Runs a SEC("syscall") program on the calling thread with `ctx` as its context; the kernel writes the program's
 * changes back into `ctx`. Returns the program's return value; throws BpfSyscallError when the run fails.
 */
export function testRun(progFd: number, ctx: Uint8Array, what = 'BPF_PROG_TEST_RUN'): number {
  if (!Number.isInteger(progFd) || progFd < 0) throw new TypeError('progFd must be a file descriptor');
  return callNative(what, () => addon.testRun(progFd, ctx));
}
