// Readers and writers for the two pages and the map value (PROTOCOL.md §2).
import type { AtomicMemory } from './atomic-memory.js';
import { ProtocolErrorCode, TldError } from './errors.js';
import {
  DATA_START,
  DATA_START_FIELD_OFFSET,
  type Layout,
  MAP_VALUE_DATA_OFFSET,
  MAP_VALUE_META_OFFSET,
  MAP_VALUE_SIZE_V1,
  MAP_VALUE_SIZES,
  type MapValueRevision,
  type MapValueSize,
  META_CNT_OFFSET,
  META_SIZE_OFFSET,
  layoutFor,
  mapValueRevision,
} from './layout.js';
import { type KeyInfo, listKeys } from './keys.js';

/**
 * Prepare a zero-filled page as a metadata page created by this library: no keys, and the whole data[] of
 * every thread's page available to dynamic keys (meta.size = P − 8, PROTOCOL.md §3).
 */
export function initMetaPage(mem: AtomicMemory, layout: Layout = layoutFor()): void {
  mem.store16(META_SIZE_OFFSET, layout.dataBytes);
  mem.store16(META_CNT_OFFSET, 0);
}

/** meta.cnt and meta.size of a metadata page. */
export function readMetaHeader(mem: AtomicMemory): { cnt: number; size: number } {
  return { cnt: mem.load16(META_CNT_OFFSET), size: mem.load16(META_SIZE_OFFSET) };
}

/** Prepare a zero-filled data page: data[] right after the `start` field. */
export function initDataPage(page: Uint8Array): void {
  new DataView(page.buffer, page.byteOffset, page.byteLength).setBigUint64(
    DATA_START_FIELD_OFFSET,
    BigInt(DATA_START),
    true,
  );
}

/** The `start` field of a data page: where data[] begins, from the registered address. */
export function readDataStart(page: Uint8Array): number {
  return Number(
    new DataView(page.buffer, page.byteOffset, page.byteLength).getBigUint64(DATA_START_FIELD_OFFSET, true),
  );
}

/** The fields of a map value; `start` exists only in revisions that carry it (the 24-byte one). */
export interface MapValue {
  readonly data: bigint;
  readonly meta: bigint;
  readonly start?: number;
}

/** The revision of a map value of `valueSize` bytes; throws TldError(BAD_LAYOUT) for a size no revision has. */
function revisionOf(valueSize: number): MapValueRevision {
  const revision = mapValueRevision(valueSize);
  if (revision === undefined) {
    throw new TldError(
      ProtocolErrorCode.BAD_LAYOUT,
      `map value size ${valueSize} is not a task-local-data map value (expected ${MAP_VALUE_SIZES.join(' or ')} bytes): ` +
        'the map was not created from the task-local-data header',
    );
  }
  return revision;
}

/** Throws TldError(BAD_LAYOUT) unless valueSize is one the protocol knows (MAP_VALUE_SIZES: 16 or 24). */
export function checkMapValueSize(valueSize: number): asserts valueSize is MapValueSize {
  revisionOf(valueSize);
}

/** Encode a map value of `valueSize` bytes; a revision with `start` gets value.start (default DATA_START). */
export function encodeMapValue(value: MapValue, valueSize: number = MAP_VALUE_SIZE_V1): Uint8Array {
  const { startOffset } = revisionOf(valueSize);
  const bytes = new Uint8Array(valueSize);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(MAP_VALUE_DATA_OFFSET, value.data, true);
  view.setBigUint64(MAP_VALUE_META_OFFSET, value.meta, true);
  if (startOffset !== undefined) view.setUint16(startOffset, value.start ?? DATA_START, true);
  return bytes;
}

/** Decode a map value of any revision (16 or 24 bytes). */
export function decodeMapValue(bytes: Uint8Array): MapValue {
  const { startOffset } = revisionOf(bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = view.getBigUint64(MAP_VALUE_DATA_OFFSET, true);
  const meta = view.getBigUint64(MAP_VALUE_META_OFFSET, true);
  return startOffset === undefined ? { data, meta } : { data, meta, start: view.getUint16(startOffset, true) };
}

/** One key with the bytes of its value in one thread's data page. */
export interface DecodedKey extends KeyInfo {
  readonly bytes: Uint8Array;
}

/** Every published key of a metadata page with its value's bytes (a copy) from a data page. */
export function decodePages(meta: AtomicMemory, dataPage: Uint8Array, layout: Layout = layoutFor()): DecodedKey[] {
  const start = readDataStart(dataPage);
  return listKeys(meta, layout).map((key) => ({
    ...key,
    bytes: dataPage.slice(start + key.offset, start + key.offset + key.size),
  }));
}
