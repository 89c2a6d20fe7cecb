// Byte layout of task-local-data protocol v1 (PROTOCOL.md §2).
// This file is the only place in the project where a byte offset is written by hand: everything else,
// the generated C header included, derives from these numbers.

/** Page size of x86-64 Linux; use the real one from the system where it matters (PROTOCOL.md §2). */
export const DEFAULT_PAGE_SIZE = 4096;

/** Every value starts on an 8-byte boundary: offset_i = Σ roundup(size_j, 8) (PROTOCOL.md §2). */
export const VALUE_ALIGN = 8;

// ---- the map (PROTOCOL.md §1) ----
/** Name of the task-storage map; BPF objects declare it pinned by name, so every consumer on a host shares it. */
export const MAP_NAME = 'tld_data_map';
/** Where libbpf pins a map declared LIBBPF_PIN_BY_NAME, and where user space looks for it by default. */
export const DEFAULT_PIN_PATH = `/sys/fs/bpf/${MAP_NAME}`;

// ---- map value: struct tld_map_value (PROTOCOL.md §2, "Map value") ----
/** `data`: user address of the thread's data page. */
export const MAP_VALUE_DATA_OFFSET = 0;
/** `meta`: user address of the process's metadata page. */
export const MAP_VALUE_META_OFFSET = 8;

/** One upstream revision of struct tld_map_value: its size, and where it carries `start` (a u16), if it does. */
export interface MapValueRevision {
  /** 1 for the value Linux 6.18 ships; the C struct of revision n > 1 is `tld_map_value_v<n>`. */
  readonly revision: number;
  readonly struct: string;
  /** Stable name for tools' JSON output. */
  readonly name: string;
  /** For people: the fields, and which header declares it. */
  readonly description: string;
  /** value_size of a map of this revision. */
  readonly size: number;
  /** Offset of the `start` field repeating tld_data_u.start; undefined when the value has none. */
  readonly startOffset: number | undefined;
}

/**
 * Every map value the protocol accepts, oldest first: a new upstream revision is a row here (and the BPF side).
 * The accepted value sizes, their encoding, the generated structs and the choice of iterator build follow it.
 */
export const MAP_VALUE_REVISIONS = Object.freeze([
  Object.freeze({
    revision: 1,
    struct: 'tld_map_value',
    name: 'selftests-6.18',
    description: '16-byte value { data, meta }: the Linux 6.18 selftest revision (start in the data page)',
    size: 16,
    startOffset: undefined,
  }),
  Object.freeze({
    revision: 2,
    struct: 'tld_map_value_v2',
    name: 'start-in-value',
    description: '24-byte value { data, meta, start }: the later upstream revision (start in the value)',
    size: 24,
    startOffset: 16,
  }),
] as const satisfies readonly MapValueRevision[]);

/** value_size of the map value as Linux 6.18 ships it. */
export const MAP_VALUE_SIZE_V1 = MAP_VALUE_REVISIONS[0].size;
/** value_size of the later upstream revision with a trailing `u16 start` (+ 6 bytes of padding). */
export const MAP_VALUE_SIZE_V2 = MAP_VALUE_REVISIONS[1].size;
/** `start` (u16) of the later 24-byte revision of the map value. */
export const MAP_VALUE_START_OFFSET = MAP_VALUE_REVISIONS[1].startOffset;
/** Every accepted value_size, oldest revision first. */
export const MAP_VALUE_SIZES: readonly MapValueSize[] = Object.freeze(MAP_VALUE_REVISIONS.map((r) => r.size));
export type MapValueSize = (typeof MAP_VALUE_REVISIONS)[number]['size'];

// ---- metadata page: struct tld_meta_u (PROTOCOL.md §2, "Metadata page") ----
/** `cnt` (u16, atomic): number of claimed slots. */
export const META_CNT_OFFSET = 0;
/** `size` (u16): bytes of per-thread data available to dynamically created keys. */
export const META_SIZE_OFFSET = 2;
/** First slot (struct tld_metadata) follows the two u16 header fields. */
export const META_SLOTS_OFFSET = 4;
/** sizeof(struct tld_metadata). */
export const SLOT_SIZE = 64;
/** `name` field of a slot: NUL-padded, at most NAME_MAX_BYTES bytes + NUL. */
export const SLOT_NAME_OFFSET = 0;
export const SLOT_NAME_SIZE = 62;
export const NAME_MAX_BYTES = SLOT_NAME_SIZE - 1;
/** `size` field of a slot (u16, atomic): unrounded value size; 0 = claimed, not yet published. */
export const SLOT_VALUE_SIZE_OFFSET = 62;

// ---- data page: struct tld_data_u (PROTOCOL.md §2, "Data page") ----
/** `start` (u64): offset of data[] from the registered address. */
export const DATA_START_FIELD_OFFSET = 0;
/** v1 always places data[] right after the `start` field (PROTOCOL.md §2, last paragraph). */
export const DATA_START = 8;

/** Everything that depends on the page size, computed once per page size. */
export interface Layout {
  readonly pageSize: number;
  /** MAX_KEYS = P/64 − 1: the metadata header takes the room of one slot. */
  readonly maxKeys: number;
  /** sizeof(struct tld_meta_u) = 4 + 64 · maxKeys. */
  readonly metaStructSize: number;
  /** sizeof(struct tld_data_u) = P: `start` plus data[P − 8]. */
  readonly dataStructSize: number;
  /** Bytes of data[]: P − 8. Also the largest single value and the `meta.size` our library sets. */
  readonly dataBytes: number;
}

const layouts = new Map<number, Layout>();

/**
 * The layout for a page size: a power of two from 4096 to 65536 (meta.size and slot sizes are u16, so larger
 * pages cannot be described). Throws RangeError for anything else.
 */
export function layoutFor(pageSize: number = DEFAULT_PAGE_SIZE): Layout {
  let layout = layouts.get(pageSize);
  if (layout) return layout;
  if (!Number.isInteger(pageSize) || pageSize < 4096 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    throw new RangeError(`page size must be a power of two from 4096 to 65536, got ${String(pageSize)}`);
  }
  const maxKeys = pageSize / SLOT_SIZE - 1;
  layout = Object.freeze({
    pageSize,
    maxKeys,
    metaStructSize: META_SLOTS_OFFSET + SLOT_SIZE * maxKeys,
    dataStructSize: pageSize,
    dataBytes: pageSize - DATA_START,
  });
  layouts.set(pageSize, layout);
  return layout;
}

/** The revision of a map value of `size` bytes; undefined for a size no revision has. */
export function mapValueRevision(size: number): MapValueRevision | undefined {
  return MAP_VALUE_REVISIONS.find((r) => r.size === size);
}

/** Offset of slot i in the metadata page. */
export function slotOffset(index: number): number {
  return META_SLOTS_OFFSET + SLOT_SIZE * index;
}

/** Offset of slot i's `size` field in the metadata page. */
export function slotValueSizeOffset(index: number): number {
  return slotOffset(index) + SLOT_VALUE_SIZE_OFFSET;
}

/** roundup(size, 8): the room one value takes in data[]. */
export function roundUpValueSize(size: number): number {
  return (size + VALUE_ALIGN - 1) & ~(VALUE_ALIGN - 1);
}

/** Byte offset, from the start of the data page, of a value whose key offset is `keyOffset`. */
export function dataPageOffset(keyOffset: number, start: number = DATA_START): number {
  return start + keyOffset;
}
