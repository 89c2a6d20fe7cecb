// Every thread on the host registered in a task-local-data map, with its keys and values, as the kernel sees them:
// the task iterator tld_dump (tld_dump.bpf.c) copies each registered task's pages; this file decodes its output.
// A user-space map lookup cannot do this: it returns a uptr value's pointers zeroed (PROTOCOL.md §1).
import { existsSync } from 'node:fs';
import { BpfSyscallError, TypedArrayMemory, decodePages, layoutFor, readMetaHeader } from '@tld/protocol';
import { DumpLayout, ReaderStatus } from './ctx-layout.js';
import { loadObject, type MapPlacement } from './loader.js';
import { addon, callNative } from './native.js';
import { names, objectPaths } from './objects.js';

/** One key of a dumped thread: its slot in the metadata page and its value's bytes in the thread's data page. */
export interface DumpedKey {
  readonly name: string;
  readonly size: number;
  /** Offset of the value in data[]. */
  readonly offset: number;
  /** The value's bytes (fewer than `size` only when the data page ends first). */
  readonly bytes: Uint8Array;
}

/** One task with an element in the map. */
export interface DumpedThread {
  readonly tid: number;
  /** The process (thread group) id. */
  readonly tgid: number;
  /** task->comm: the thread's name. */
  readonly comm: string;
  /** ReaderStatus bits: which of the element, the data page and the metadata page the task has. */
  readonly status: number;
  /** The task has an element with both pages (BPF programs can read its keys). */
  readonly registered: boolean;
  /** meta.cnt and meta.size of the process's metadata page; undefined without one. */
  readonly meta: { readonly cnt: number; readonly size: number } | undefined;
  /** `start` of the data page; undefined without one. */
  readonly start: number | undefined;
  /** Published keys in slot order with this thread's values; empty unless registered. */
  readonly keys: readonly DumpedKey[];
}

const ascii = new TextDecoder();

function decodeComm(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return ascii.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/**
 * Decodes tld_dump's output: records of struct tld_dump_record, each followed by its pages. Throws RangeError when
 * the output ends inside a record (it cannot: the kernel writes each task's output whole or not at all).
 */
export function decodeDump(output: Uint8Array): DumpedThread[] {
  const L = DumpLayout;
  const view = new DataView(output.buffer, output.byteOffset, output.byteLength);
  const threads: DumpedThread[] = [];
  let at = 0;
  while (at < output.length) {
    if (at + L.recordSize > output.length) throw new RangeError(`dump output ends inside a record at byte ${at}`);
    const status = view.getUint32(at + L.statusOffset, true);
    const metaBytes = view.getUint32(at + L.metaBytesOffset, true);
    const dataBytes = view.getUint32(at + L.dataBytesOffset, true);
    const metaAt = at + L.recordSize;
    const dataAt = metaAt + metaBytes;
    const end = dataAt + dataBytes;
    if (end > output.length) throw new RangeError(`dump output ends inside the pages of the record at byte ${at}`);
    const meta = metaBytes > 0 ? new TypedArrayMemory(output.slice(metaAt, dataAt).buffer) : undefined;
    const data = dataBytes > 0 ? output.slice(dataAt, end) : undefined;
    const registered = (status & ReaderStatus.REGISTERED) === ReaderStatus.REGISTERED && !!meta && !!data;
    threads.push({
      tid: view.getUint32(at + L.tidOffset, true),
      tgid: view.getUint32(at + L.tgidOffset, true),
      comm: decodeComm(output.subarray(at + L.commOffset, at + L.commOffset + L.commBytes)),
      status,
      registered,
      meta: meta ? readMetaHeader(meta) : undefined,
      start: data ? Number(new DataView(data.buffer).getBigUint64(0, true)) : undefined,
      keys:
        registered && meta && data
          ? decodePages(meta, data, layoutFor(data.length)).map(({ name, size, offset, bytes }) => ({
              name,
              size,
              offset,
              bytes,
            }))
          : [],
    });
    at = end;
  }
  return threads;
}

/** A loaded tld_dump program over one map. */
export interface Dumper {
  /** fd of the map the iterator reads (the pinned map when loaded with `{ pinPath }`). */
  readonly mapFd: number;
  /** Runs the iterator: every task in the map, or only the threads of process `pid`. */
  read(options?: { pid?: number }): DumpedThread[];
  /** Closes the program and its map fd (a pin stays). Idempotent. */
  close(): void;
}

/**
 * Loads tld_dump.bpf.o with tld_data_map reused from `{ pinPath }`, or private. Throws BpfSyscallError when
 * nothing is pinned there (ENOENT), the pin is not a compatible map, or loading fails.
 */
export function loadDumper(map: MapPlacement): Dumper {
  if (typeof map === 'object' && 'pinPath' in map && !existsSync(map.pinPath)) {
    throw new BpfSyscallError('BPF_OBJ_GET', 2, 'ENOENT', `nothing is pinned at ${map.pinPath}`);
  }
  const obj = loadObject(objectPaths.dump, { [names.dataMap]: map });
  const progFd = obj.progFd(names.dumpProgram);
  let closed = false;
  return {
    mapFd: obj.mapFd(names.dataMap),
    read(options = {}) {
      const pid = options.pid ?? 0;
      if (!Number.isInteger(pid) || pid < 0 || pid > 0x7fff_ffff) throw new TypeError('pid must be a process id');
      if (closed) throw new Error('the dumper is closed');
      return decodeDump(callNative('reading the tld_dump task iterator', () => addon.iterRead(progFd, pid)));
    },
    close() {
      if (closed) return;
      closed = true;
      obj.close();
    },
  };
}

/** The libbpf the loader addon runs with, e.g. "v1.1". */
export function libbpfVersion(): string {
  return addon.libbpfVersion();
}
