// Every thread registered in tld_data_map, as BPF sees it: the iter/task program tld_iter (tld_iter.bpf.c) writes
// a record per task with an element — its ids, and copies of its metadata and data pages — and this file decodes
// them. User space cannot read the pages itself: a lookup of a uptr map value returns the pointers zeroed
// (PROTOCOL.md §1). `tld dump`, `tld map show` and the lifecycle tests all read threads through this.
import { closeSync } from 'node:fs';
import {
  BpfSyscallError,
  DEFAULT_PIN_PATH,
  ProtocolErrorCode,
  TldError,
  TypedArrayMemory,
  checkMapValueSize,
  listKeys,
  type KeyInfo,
  type MapValueSize,
  mapValueRevision,
} from '@tld/protocol';
import { ContextFrom, IterRecordLayout } from './iter-layout.js';
import { ReaderStatus } from './reader-layout.js';
import { mapInfo, objGet } from './inspect.js';
import { type LoadedBpfObject, type MapPlacement, loadObject } from './loader.js';
import { iterObjectPath, names } from './objects.js';

/** Where the walk to a task's current async context took a key's value from (tld_get_context_data()). */
export type ContextSource = 'context' | 'page' | 'none';

/** One key of a registered task with its value's bytes. */
export interface TaskKey extends KeyInfo {
  /** The value's bytes in the data page; shorter than `size` (or empty) when it would end past the page. */
  readonly value: Uint8Array;
  /**
   * The value as the task's current async context sees it: `from` 'context' is the value of the run() the task
   * is in (its record), 'page' the page's (outside any run, or the run does not set this key), 'none' no value
   * (the walk failed: `contextStatus` of the task says why).
   */
  readonly context: { readonly from: ContextSource; readonly value: Uint8Array | undefined };
}

/** One task with an element in the map. */
export interface RegisteredTask {
  /** Kernel thread id (task->pid). */
  readonly tid: number;
  /** Process id (task->tgid). */
  readonly tgid: number;
  readonly comm: string;
  /** ReaderStatus bits: STORAGE always; DATA and META when the pointers are set. */
  readonly status: number;
  /** Both pointers set: BPF can read the task's keys. */
  readonly registered: boolean;
  /** The first 8 bytes of the data page: where 16-byte-value readers take `start` from. */
  readonly start: bigint;
  /** `start` carried by a 24-byte map value; undefined for the 16-byte value. */
  readonly valueStart: number | undefined;
  readonly metaCnt: number;
  readonly metaSize: number;
  /** Copy of the metadata page (sizeof struct tld_meta_u bytes), or undefined when its pointer is NULL. */
  readonly meta: Uint8Array | undefined;
  /** Copy of the data page from the registered address, or undefined when its pointer is NULL. */
  readonly data: Uint8Array | undefined;
  /**
   * The walk to the run() the task is in: ContextFrom.CONTEXT (1, a run's record was found), ContextFrom.PAGE (0,
   * outside any run or no walk published), or a negative errno (no value: -EFAULT, -EINVAL, -ESTALE, -EAGAIN).
   */
  readonly contextStatus: number;
  /** The published keys with this task's values, found at the `start` its map value's readers use. */
  readonly keys: readonly TaskKey[];
}

const utf8 = new TextDecoder();

/** A run record's values area and presence bitmap as the iterator copied them, with the walk's result. */
interface RecordCopy {
  readonly status: number;
  readonly values: Uint8Array;
  readonly present: Uint8Array;
}

/** What the walk gives for the key at `offset` of data[] (the same offset in the record's values area). */
function contextValue(key: KeyInfo, page: Uint8Array, record: RecordCopy): TaskKey['context'] {
  if (record.status < 0) return { from: 'none', value: undefined };
  const word = key.offset >> 3;
  const set =
    record.status === ContextFrom.CONTEXT &&
    key.offset + key.size <= record.values.length &&
    ((record.present[word >> 3] ?? 0) >> (word & 7)) & 1;
  if (set) return { from: 'context', value: record.values.slice(key.offset, key.offset + key.size) };
  return { from: 'page', value: page };
}

function decodeKeys(meta: Uint8Array, data: Uint8Array, start: number, record: RecordCopy): TaskKey[] {
  // listKeys stops at the page's slot count; a copy too short for one slot has no keys.
  const memory = new TypedArrayMemory(meta.buffer, meta.byteOffset, meta.byteLength & ~1);
  return listKeys(memory).map((key) => {
    const from = Math.min(start + key.offset, data.length);
    const value = data.slice(from, Math.min(from + key.size, data.length));
    return { ...key, value, context: contextValue(key, value, record) };
  });
}

/**
 * Decodes what tld_iter wrote, for a map whose value is `valueSize` bytes (16 or 24). Throws RangeError when the
 * bytes end inside a record.
 */
export function decodeTaskRecords(bytes: Uint8Array, valueSize: MapValueSize = 16): RegisteredTask[] {
  checkMapValueSize(valueSize);
  // Where the map value carries `start`, the iterator copied it into the record.
  const carriesStart = mapValueRevision(valueSize)?.startOffset !== undefined;
  const L = IterRecordLayout;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tasks: RegisteredTask[] = [];
  for (let at = 0; at < bytes.length;) {
    if (at + L.size > bytes.length) throw new RangeError(`tld_iter output ends inside a record at byte ${at}`);
    const metaBytes = view.getUint32(at + L.metaBytesOffset, true);
    const dataBytes = view.getUint32(at + L.dataBytesOffset, true);
    const ctxBytes = view.getUint32(at + L.ctxBytesOffset, true);
    const dataEnd = at + L.size + metaBytes + dataBytes;
    const end = dataEnd + ctxBytes;
    if (end > bytes.length) throw new RangeError(`tld_iter output ends inside the pages of the record at byte ${at}`);
    const status = view.getUint32(at + L.statusOffset, true);
    const comm = bytes.subarray(at + L.commOffset, at + L.commOffset + L.commBytes);
    const nul = comm.indexOf(0);
    const meta = metaBytes > 0 ? bytes.slice(at + L.size, at + L.size + metaBytes) : undefined;
    const data = dataBytes > 0 ? bytes.slice(at + L.size + metaBytes, dataEnd) : undefined;
    const record: RecordCopy = {
      status: view.getInt32(at + L.ctxStatusOffset, true),
      values: bytes.slice(dataEnd, end),
      present: bytes.slice(at + L.ctxPresentOffset, at + L.ctxPresentOffset + L.presentBytes),
    };
    const start = view.getBigUint64(at + L.startOffset, true);
    const valueStart = carriesStart ? view.getUint32(at + L.valueStartOffset, true) : undefined;
    const dataStart = valueStart ?? Number(start);
    tasks.push({
      tid: view.getUint32(at + L.tidOffset, true),
      tgid: view.getUint32(at + L.tgidOffset, true),
      comm: utf8.decode(nul === -1 ? comm : comm.subarray(0, nul)),
      status,
      registered: (status & ReaderStatus.REGISTERED) === ReaderStatus.REGISTERED,
      start,
      valueStart,
      metaCnt: view.getUint16(at + L.metaCntOffset, true),
      metaSize: view.getUint16(at + L.metaSizeOffset, true),
      meta,
      data,
      contextStatus: record.status,
      keys: meta && data ? decodeKeys(meta, data, dataStart, record) : [],
    });
    at = end;
  }
  return tasks;
}

/** A loaded tld_iter program over one tld_data_map. */
export interface TaskIterator {
  /** fd of the map the iterator reads (a private map's only fd: register threads in it with `{ mapFd }`). */
  readonly mapFd: number;
  /** Value size of the map this iterator reads: which build of tld_iter was loaded. */
  readonly valueSize: MapValueSize;
  /**
   * Every task registered in the map, or only the threads of process `pid`. Throws TypeError for a bad pid, Error
   * after close(), BpfSyscallError when the kernel refuses.
   */
  readTasks(options?: { pid?: number }): RegisteredTask[];
  /** Closes the program and its map fd (a pin stays). Idempotent. */
  close(): void;
}

function checkValueSize(found: number, wanted: MapValueSize | undefined, where: string): MapValueSize {
  checkMapValueSize(found);
  if (wanted !== undefined && wanted !== found) {
    throw new TldError(
      ProtocolErrorCode.BAD_LAYOUT,
      `${where} holds ${found}-byte values, not ${wanted}: leave valueSize out to read the map as it is`,
    );
  }
  return found;
}

/** An fd of the map pinned at `pinPath`, with its value size; throws BpfSyscallError ENOENT when nothing is there. */
function openPin(pinPath: string, wanted: MapValueSize | undefined): { fd: number; valueSize: MapValueSize } {
  let fd: number;
  try {
    fd = objGet(pinPath);
  } catch (error) {
    if (!(error instanceof BpfSyscallError) || error.errnoCode !== 'ENOENT') throw error;
    throw new BpfSyscallError(
      error.syscall,
      error.errno,
      error.errnoCode,
      `nothing is pinned at ${pinPath}: pin a tld_data_map there first (npx tld map create --pin ${pinPath})`,
      { cause: error },
    );
  }
  try {
    return { fd, valueSize: checkValueSize(mapInfo(fd).valueSize, wanted, pinPath) };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/**
 * Loads tld_iter over the map `map` places (default: the host's pin, /sys/fs/bpf/tld_data_map). The build of the
 * program is chosen by the map's value size: read from the pin or fd, or `valueSize` (default 16) for a 'private'
 * map it creates. A pin must exist: nothing is ever pinned. Throws BpfSyscallError (ENOENT when nothing is pinned
 * at `pinPath`; libbpf's log when loading fails), TldError ERR_TLD_BAD_LAYOUT when the map's values are not 16 or
 * 24 bytes or not the `valueSize` given.
 */
export function loadTaskIterator(options: { map?: MapPlacement; valueSize?: MapValueSize } = {}): TaskIterator {
  const map = options.map ?? { pinPath: DEFAULT_PIN_PATH };
  if (options.valueSize !== undefined) checkMapValueSize(options.valueSize);
  // The pin is opened once and the object reuses that fd: libbpf never creates a pin, even if the path goes away.
  let pinned: { fd: number; valueSize: MapValueSize } | undefined;
  let valueSize: MapValueSize;
  let placement: MapPlacement = map;
  if (typeof map === 'object' && 'pinPath' in map) {
    pinned = openPin(map.pinPath, options.valueSize);
    valueSize = pinned.valueSize;
    placement = { mapFd: pinned.fd };
  } else if (typeof map === 'object' && 'mapFd' in map) {
    valueSize = checkValueSize(mapInfo(map.mapFd).valueSize, options.valueSize, `map fd ${map.mapFd}`);
  } else {
    valueSize = options.valueSize ?? 16;
  }
  const path = iterObjectPath(valueSize);
  let loaded: LoadedBpfObject;
  try {
    loaded = loadObject(path, { [names.dataMap]: placement });
  } finally {
    if (pinned) closeSync(pinned.fd); // the object holds its own duplicate (bpf_map__reuse_fd)
  }
  let closed = false;
  return {
    mapFd: loaded.mapFd(names.dataMap),
    valueSize,
    readTasks(readOptions) {
      if (closed) throw new Error('the task iterator is closed');
      return decodeTaskRecords(loaded.iterate(names.iterProgram, readOptions), valueSize);
    },
    close() {
      if (closed) return;
      closed = true;
      loaded.close();
    },
  };
}
