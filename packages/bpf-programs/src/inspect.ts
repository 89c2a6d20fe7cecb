// Reading what attached programs collected (map elements, map and link info) and the handle of an attachment.
// JavaScript validates, the addon (native/inspect.cc) makes one bpf() call per function.
import type { MapInfo } from '@tld/native';
import { type NativeLoadedObject, addon, callNative } from './native.js';

/** `BPF_MAP_TYPE_*` values this package reads maps of (linux/bpf.h). */
export const MapType = Object.freeze({ HASH: 1, ARRAY: 2, PERCPU_HASH: 5, PERCPU_ARRAY: 6 });

/** What BPF_OBJ_GET_INFO_BY_FD says about a map (the kernel's name: at most 15 bytes, longer names are cut). */
export type { MapInfo };

function checkFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0) throw new TypeError('fd must be a file descriptor');
}

/** BPF_OBJ_GET_INFO_BY_FD of map `fd`. Throws TypeError, or BpfSyscallError (EBADF, EINVAL: not a map). */
export function mapInfo(fd: number): MapInfo {
  checkFd(fd);
  return callNative(`BPF_OBJ_GET_INFO_BY_FD(map fd ${fd})`, () => addon.mapInfo(fd));
}

/**
 * BPF_OBJ_GET: a new fd of the object pinned at `path`, which the caller closes (fs.closeSync). Throws TypeError,
 * or BpfSyscallError (ENOENT: nothing pinned there; EACCES: the pin's mode refuses this user).
 */
export function objGet(path: string): number {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError('path must be an absolute path');
  return callNative(`BPF_OBJ_GET(${path})`, () => addon.objGet(path));
}

/**
 * One `BPF_MAP_LOOKUP_ELEM`: copies the value stored under `key` into `value` (which must hold at least the map's
 * value_size bytes; no info lookup here, so the call stays one syscall). Returns false when there is no such
 * key. Throws TypeError for bad arguments, BpfSyscallError for other kernel errors.
 */
export function mapLookupElem(fd: number, key: Uint8Array, value: Uint8Array): boolean {
  checkFd(fd);
  if (!(key instanceof Uint8Array) || !(value instanceof Uint8Array)) {
    throw new TypeError('key and value must be Uint8Arrays');
  }
  return callNative(`BPF_MAP_LOOKUP_ELEM(fd ${fd})`, () => addon.mapLookupElem(fd, key, value));
}

/**
 * One `BPF_MAP_GET_NEXT_KEY`: writes the key that follows `key` (the first key when `key` is null) into `next`.
 * Returns false when there is none. Throws TypeError for bad arguments, BpfSyscallError for kernel errors.
 */
export function mapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  checkFd(fd);
  if ((key !== null && !(key instanceof Uint8Array)) || !(next instanceof Uint8Array)) {
    throw new TypeError('key must be a Uint8Array or null, next a Uint8Array');
  }
  return callNative(`BPF_MAP_GET_NEXT_KEY(fd ${fd})`, () => addon.mapGetNextKey(fd, key, next));
}

/**
 * Every [key, value] of a hash or array map, walked with BPF_MAP_GET_NEXT_KEY and BPF_MAP_LOOKUP_ELEM (buffers
 * sized from the map's info). Elements deleted during the walk are skipped. Throws RangeError for per-CPU maps
 * (their values are one copy per possible CPU), BpfSyscallError when the kernel refuses.
 */
export function mapEntries(fd: number): Array<[Uint8Array, Uint8Array]> {
  const info = mapInfo(fd);
  if (info.type === MapType.PERCPU_HASH || info.type === MapType.PERCPU_ARRAY) {
    throw new RangeError(`map ${info.name} is per-CPU: mapEntries() reads one value per key`);
  }
  const out: Array<[Uint8Array, Uint8Array]> = [];
  let key: Uint8Array | null = null;
  for (;;) {
    const next = new Uint8Array(info.keySize);
    if (!mapGetNextKey(fd, key, next)) return out;
    const value = new Uint8Array(info.valueSize);
    if (mapLookupElem(fd, next, value)) out.push([next, value]);
    key = next;
  }
}

/** A program attached by libbpf; destroy() detaches it. */
export interface BpfLink {
  /** The kernel's id of the link (`bpftool link show id <id>`). */
  readonly id: number;
  /** Id of the attached program (`bpftool prog show id <progId>`). */
  readonly progId: number;
  /** Whether destroy() ran (or the object that owns the link was closed). */
  readonly destroyed: boolean;
  /** Detaches: bpf_link__destroy() closes the link's fd (and a perf event link's event fd). Idempotent. */
  destroy(): void;
}

/** Wraps link `index` of `native` (which owns it: closing the object destroys the link too). */
export function wrapLink(native: NativeLoadedObject, index: number, what: string): BpfLink {
  const fd = native.linkFd(index);
  const info = callNative(`BPF_OBJ_GET_INFO_BY_FD(link of ${what})`, () => addon.linkInfo(fd));
  return {
    id: info.id,
    progId: info.progId,
    get destroyed() {
      return native.linkFd(index) < 0;
    },
    destroy() {
      native.destroyLink(index);
    },
  };
}
