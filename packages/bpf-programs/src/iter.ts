// Every thread registered in tld_data_map, as BPF sees it: the iter/task program tld_iter (tld_iter.bpf.c) writes
// a record per task with an element — its ids, and copies of its metadata and data pages — and this file decodes
// them. Counting registered threads and dumping their values both use it.
import { MAP_VALUE_SIZE_V2, type KeyInfo, type MapValueSize, TypedArrayMemory, checkMapValueSize, listKeys } from '@tld/protocol';
import { IterRecordLayout, ReaderStatus } from './ctx-layout.js';
import { type MapPlacement, loadObject } from './loader.js';
import { names, objectPaths } from './objects.js';

/** One key of a registered task with its value's bytes. */
export interface TaskKey extends KeyInfo {
  /** The value's bytes; shorter than `size` (or empty) when the value would end past the data page. */
  readonly value: Uint8Array;
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
  /** The published keys with this task's values, found at the `start` its map value's readers use. */
  readonly keys: readonly TaskKey[];
}

const utf8 = new TextDecoder();

function decodeKeys(meta: Uint8Array, data: Uint8Array, start: number): TaskKey[] {
  // listKeys stops at the page's slot count; a copy too short for one slot has no keys.
  const memory = new TypedArrayMemory(meta.buffer, meta.byteOffset, meta.byteLength & ~1);
  return listKeys(memory).map((key) => {
    const from = Math.min(start + key.offset, data.length);
    return { ...key, value: data.slice(from, Math.min(from + key.size, data.length)) };
  });
}

/**
 * Decodes what tld_iter wrote, for a map whose value is `valueSize` bytes (16 or 24). Throws RangeError when the
 * bytes end inside a record.
 */
export function decodeTaskRecords(bytes: Uint8Array, valueSize: MapValueSize = 16): RegisteredTask[] {
  checkMapValueSize(valueSize);
  const L = IterRecordLayout;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tasks: RegisteredTask[] = [];
  for (let at = 0; at < bytes.length; ) {
    if (at + L.size > bytes.length) throw new RangeError(`tld_iter output ends inside a record header at byte ${at}`);
    const metaBytes = view.getUint32(at + L.metaBytesOffset, true);
    const dataBytes = view.getUint32(at + L.dataBytesOffset, true);
    const end = at + L.size + metaBytes + dataBytes;
    if (end > bytes.length) throw new RangeError(`tld_iter output ends inside the record at byte ${at}`);
    const status = view.getUint32(at + L.statusOffset, true);
    const comm = bytes.subarray(at + L.commOffset, at + L.commOffset + L.commBytes);
    const nul = comm.indexOf(0);
    const meta = metaBytes > 0 ? bytes.slice(at + L.size, at + L.size + metaBytes) : undefined;
    const data = dataBytes > 0 ? bytes.slice(at + L.size + metaBytes, end) : undefined;
    const start = view.getBigUint64(at + L.startOffset, true);
    const valueStart = valueSize === MAP_VALUE_SIZE_V2 ? view.getUint32(at + L.valueStartOffset, true) : undefined;
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
      keys: meta && data ? decodeKeys(meta, data, dataStart) : [],
    });
    at = end;
  }
  return tasks;
}

/** A loaded tld_iter program over one tld_data_map. */
export interface TaskIterator {
  /** Value size of the map this iterator reads. */
  readonly valueSize: MapValueSize;
  /** Every task registered in the map, or only the threads of process `pid`. Throws BpfSyscallError. */
  readTasks(options?: { pid?: number }): RegisteredTask[];
  /** Closes the object's fds and removes pins it created. Idempotent. */
  close(): void;
}

/**
 * Loads tld_iter for the map placed by `map` (default: the host's pin, /sys/fs/bpf/tld_data_map, which must
 * exist) with a `valueSize`-byte value (default 16). Throws BpfSyscallError when loading fails, e.g. when the
 * map's value size is not `valueSize`.
 */
export function loadTaskIterator(options: { map?: MapPlacement; valueSize?: MapValueSize } = {}): TaskIterator {
  const valueSize = options.valueSize ?? 16;
  checkMapValueSize(valueSize);
  const path = valueSize === MAP_VALUE_SIZE_V2 ? objectPaths.iterV2 : objectPaths.iter;
  const obj = loadObject(path, { [names.dataMap]: options.map ?? { pinPath: `/sys/fs/bpf/${names.dataMap}` } });
  let closed = false;
  return {
    valueSize,
    readTasks: (readOptions) => decodeTaskRecords(obj.iterate(names.iterProgram, readOptions), valueSize),
    close() {
      if (closed) return;
      closed = true;
      obj.close();
      obj.unpinCreated();
    },
  };
}
