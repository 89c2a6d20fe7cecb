// The pages the calling thread registers (PROTOCOL.md §2, §4): ours, or pages other native code installed through
// tld_meta_p / tld_data_p. Everything about a foreign page is checked before a slot is claimed or the thread is
// registered, and no key is ever handed out past the thread's data[], on our side or on a native library's.
import {
  type AtomicMemory,
  DATA_START,
  type Layout,
  META_SIZE_OFFSET,
  type MapValue,
  ProtocolErrorCode,
  TldError,
  TypedArrayMemory,
  initDataPage,
  initMetaPage,
  mapValueRevision,
  readDataStart,
  readMetaHeader,
  roundUpValueSize,
  slotValueSizeOffset,
} from '@tld/protocol';
import { native } from './native.js';

/** What this thread registers, and where its keys may live. */
export interface ThreadPages {
  /** The process's metadata page. */
  readonly meta: ArrayBuffer;
  /** The metadata page is the one this addon created: its header is ours to repair (checkMetaPage). */
  readonly metaOwned: boolean;
  /** This thread's data block: from tld_data_p to the end of its page. */
  readonly data: ArrayBuffer;
  /** Offset of data[] in `data`. */
  readonly dataStart: number;
  /** Bytes of data[] a key may end within on this thread. */
  readonly dataLimit: number;
  /** The map value: `data` is the block's page base, `start` the offset of data[] from it (PROTOCOL.md §2, §7). */
  readonly value: MapValue;
  /** tld_data_p was installed by other native code, which may have registered it itself. */
  readonly adopted: boolean;
  /** This call mapped the data page: nothing else can have seen it yet, so a failing open() frees it. */
  readonly createdHere: boolean;
}

function badLayout(message: string): TldError {
  return new TldError(ProtocolErrorCode.BAD_LAYOUT, message);
}

/** Why a metadata page's header cannot be trusted, or undefined when it is consistent. */
function metaHeaderProblem(mem: AtomicMemory, layout: Layout): string | undefined {
  const { cnt, size } = readMetaHeader(mem);
  if (cnt > layout.maxKeys) return `cnt is ${cnt}, but a page holds ${layout.maxKeys} slots`;
  if (size > layout.dataBytes) return `size is ${size}, past the ${layout.dataBytes} bytes of a data page's data[]`;
  let total = 0;
  for (let i = 0; i < cnt; i++) {
    const slotSize = mem.load16(slotValueSizeOffset(i));
    if (slotSize === 0) break; // claimed, not yet published: later offsets are not known yet
    total += roundUpValueSize(slotSize);
    if (total > layout.dataBytes) {
      return `its keys up to slot ${i} need ${total} bytes of data[], past the ${layout.dataBytes} a data page holds`;
    }
  }
  return undefined;
}

/**
 * Makes sure no creator can hand out a key past data[]. On our own page, a native library's static keys raise
 * `meta.size` past P − 8 (upstream adds each static key's size to it, PROTOCOL.md §7): lower it back with a
 * compare-exchange, so the library's dynamic keys are bounded by the page again; a `cnt` past the slots is
 * refused with BAD_LAYOUT (only corruption makes one). A page other code created is
 * refused with BAD_LAYOUT when its header is inconsistent; it is never written. Cheap: called by open() and
 * before every key creation.
 */
export function checkMetaPage(mem: AtomicMemory, layout: Layout, owned: boolean): void {
  if (owned) {
    // Nothing we or the protocol write makes cnt exceed the slots (a claim past the last slot is refused), so a
    // larger cnt means other code wrote into our page; key creation would wait for slots nobody will publish.
    const { cnt } = readMetaHeader(mem);
    if (cnt > layout.maxKeys) {
      throw badLayout(
        `the metadata page @tld/userspace created (tld_meta_p) is corrupted: cnt is ${cnt}, but a page holds ` +
          `${layout.maxKeys} slots (PROTOCOL.md §2). Nothing was changed. Native code in this process wrote into ` +
          'it: find the library that writes through tld_meta_p (or past a buffer next to it) and fix it; keys ' +
          'cannot be created in this process until it restarts',
      );
    }
    for (let size = mem.load16(META_SIZE_OFFSET); size > layout.dataBytes; size = mem.load16(META_SIZE_OFFSET)) {
      if (mem.compareExchange16(META_SIZE_OFFSET, size, layout.dataBytes) === size) return;
    }
    return;
  }
  const problem = metaHeaderProblem(mem, layout);
  if (problem !== undefined) {
    throw badLayout(
      `the metadata page other native code installed as tld_meta_p is inconsistent: ${problem} (PROTOCOL.md §2). ` +
        'Nothing was changed. Fix the library that created it, or load @tld/userspace before that library so the ' +
        'process uses a metadata page created by @tld/userspace',
    );
  }
}

/**
 * Describes a data block installed by other native code. Upstream's C library mallocs the block, so it is often
 * not page-aligned: its map value names the page base, and `start` — written into the block's first 8 bytes, or
 * carried only by a 24-byte map value in a later revision (0 in the block) — counts from that base.
 */
function foreignBlock(data: ArrayBuffer, address: bigint, layout: Layout, valueSize: number, metaSize: number) {
  const P = layout.pageSize;
  const offset = Number(address % BigInt(P));
  const where = `this thread's data block (tld_data_p, installed by other native code) at page offset ${offset}`;
  if (offset % 8 !== 0) throw badLayout(`${where} is not 8-byte aligned, so no value in it would be (PROTOCOL.md §2)`);
  if (P - offset < 2 * DATA_START) throw badLayout(`${where} leaves no room for data[] before the end of its page`);
  const raw = readDataStart(new Uint8Array(data));
  const start = raw === 0 ? offset + DATA_START : raw;
  if (start % 8 !== 0 || start < offset + DATA_START || start >= P) {
    throw badLayout(
      `${where} has start ${raw}: start counts from the block's page base, so it must be a multiple of 8 from ` +
        `${offset + DATA_START} to ${P - 8} (PROTOCOL.md §2). Fix the library that installed it`,
    );
  }
  // A value without `start` (the 16-byte one) leaves readers to take it from the page the value names.
  if (mapValueRevision(valueSize)?.startOffset === undefined && (offset !== 0 || raw === 0)) {
    throw badLayout(
      `${where} cannot be read through a map with the 16-byte value: its readers take start from the first 8 ` +
        `bytes of the page the value names, ${offset !== 0 ? "which are not the block's" : 'where the block leaves 0'}, so ` +
        "BPF would not find this thread's values (PROTOCOL.md §7). Fix: have the library allocate page-aligned " +
        'blocks (TLD_DATA_USE_ALIGNED_ALLOC), or use a map with the 24-byte value, where start travels in the value, ' +
        'or load @tld/userspace before the library so it uses our page-aligned page',
    );
  }
  return {
    dataStart: start - offset,
    // The block's true length is unknown: upstream sizes it from meta.size when it allocates.
    dataLimit: Math.min(P - start, metaSize),
    value: { data: address - BigInt(offset), start },
  };
}

/**
 * The metadata page and this thread's data block, created on first use (filled by @tld/protocol before anyone
 * sees them) or adopted from other native code and checked. Throws BAD_LAYOUT for foreign pages this library
 * cannot use, before touching them.
 */
export function openPages(layout: Layout, valueSize: number): ThreadPages {
  const meta = native.metaPage((page) => initMetaPage(new TypedArrayMemory(page), layout));
  const metaOwned = native.metaPageOwned();
  const metaAddress = native.metaPageAddress();
  if (!metaOwned && meta.byteLength < layout.metaStructSize) {
    throw badLayout(
      `the metadata page other native code installed as tld_meta_p sits at page offset ` +
        `${layout.pageSize - meta.byteLength}, so its ${layout.metaStructSize} bytes would cross into the next page, ` +
        'which the kernel refuses to pin (PROTOCOL.md §4): that library must allocate it page-aligned',
    );
  }
  const metaMemory = new TypedArrayMemory(meta);
  checkMetaPage(metaMemory, layout, metaOwned);

  const createdHere = native.threadDataPageAddress() === 0n;
  const data = native.threadDataPage((page) => initDataPage(new Uint8Array(page)));
  const address = native.threadDataPageAddress();
  if (native.threadDataPageOwned()) {
    return {
      meta,
      metaOwned,
      data,
      createdHere,
      adopted: false,
      dataStart: DATA_START,
      dataLimit: layout.dataBytes,
      value: { data: address, meta: metaAddress, start: DATA_START },
    };
  }
  const block = foreignBlock(data, address, layout, valueSize, readMetaHeader(metaMemory).size);
  return {
    meta,
    metaOwned,
    data,
    createdHere,
    adopted: true,
    dataStart: block.dataStart,
    dataLimit: block.dataLimit,
    value: { ...block.value, meta: metaAddress },
  };
}
