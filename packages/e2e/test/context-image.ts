// A synthetic image of what tld_get_context_data() walks (tld.bpf.h): a CPED slot, a frame (a JS Map), its
// OrderedHashMap with two entries in one bucket chain (a decoy AsyncLocalStorage first, ours second), the keys,
// the stores, our run record and a decoy record with other values, laid out with the V8 offsets the facts
// publish, in pages mapped at known addresses; and the facts themselves as key `tld.walk` of a registered page.
// Every word can be changed afterwards, so a test can corrupt one thing at a time.
import {
  CTX_RECORD,
  WALK_VERSION,
  type WalkFacts,
  ctxRecordLayout,
  encodeWalk,
  initCtxRecord,
  presentBit,
} from '@tld/protocol';
import { mapPage, unmapPage, type OwnPage } from '@tld/testkit';

/** V8 layout facts of official 64-bit Node.js builds (no pointer compression); the reader takes them from `tld.walk`. */
export const V8 = Object.freeze({
  keyHashOff: 8, // JSReceiver: properties-or-hash
  frameTableOff: 24, // JSCollection: map, properties, elements, table
  nelementsOff: 16, // OrderedHashTable in a FixedArray: map, length, then these three Smis
  ndeletedOff: 24,
  nbucketsOff: 32,
  bucketsOff: 40,
  entryWords: 3, // key, value, chain
  entryKey: 0,
  entryValue: 1,
  entryChain: 2,
  storeRecordOff: 16,
});

export const ALS_HASH = 0x2a5b_c3d1;
export const DECOY_HASH = 0x1f00_0c1d;
export const RECORD_MAGIC = 0x7464_6c63_7478_0001n;

/** Where each object of the image is, relative to the heap page. */
const AT = Object.freeze({
  slot: 0x000,
  frame: 0x100,
  table: 0x200,
  decoyKey: 0x300,
  alsKey: 0x340,
  decoyStore: 0x380,
  store: 0x3c0,
  undefined: 0x800,
});

/** Where our record and the decoy record are in the record page; both cover 1024 bytes of values. */
const LAYOUT = ctxRecordLayout(1024);
const RECORD = Object.freeze({ ours: 0, decoy: 2048, presentOff: LAYOUT.presentOff, valuesOff: LAYOUT.valuesOff });

export const smi = (v: number): bigint => BigInt.asUintN(64, BigInt(v) << 32n);

export interface ContextImage {
  readonly heap: OwnPage;
  readonly records: OwnPage;
  /** The tagged pointer to the heap object at `offset` of the heap page. */
  tagged(offset: number): bigint;
  /** A word of the heap page. */
  heapWord(offset: number, value?: bigint): bigint;
  /** A word of the record page. */
  recordWord(offset: number, value?: bigint): bigint;
  /** The seqlock word or the valid byte of our record. */
  record32(field: 'seq' | 'valid', value: number): void;
  /** Sets or clears the presence bit of the 8-byte word at values offset `off` of our record. */
  present(off: number, set: boolean): void;
  /** Writes `bytes` at values offset `off` of our record (which = 'ours') or of the decoy. */
  value(off: number, bytes: Uint8Array, which?: 'ours' | 'decoy'): void;
  readonly AT: typeof AT;
  readonly RECORD: typeof RECORD;
  /** The address of our record, and of the decoy's. */
  readonly recordAddress: bigint;
  readonly decoyAddress: bigint;
  /** The facts as struct tld_walk bytes. */
  facts(overrides?: Partial<Facts>): Uint8Array;
  unmap(): void;
}

/** The published facts, and the version stored with them. */
export type Facts = WalkFacts & { version: number };

/** Builds the image: the slot holds the frame; our AsyncLocalStorage's store reaches our record. */
export function buildImage(): ContextImage {
  const heap = mapPage();
  const records = mapPage();
  const hv = new DataView(heap.buffer);
  const rv = new DataView(records.buffer);
  const tagged = (offset: number): bigint => heap.address + BigInt(offset) + 1n;
  const heapWord = (offset: number, value?: bigint): bigint => {
    if (value !== undefined) hv.setBigUint64(offset, value, true);
    return hv.getBigUint64(offset, true);
  };
  const recordWord = (offset: number, value?: bigint): bigint => {
    if (value !== undefined) rv.setBigUint64(offset, value, true);
    return rv.getBigUint64(offset, true);
  };

  // Frame and its table: 2 buckets; our hash's bucket starts the chain at the decoy, whose chain leads to ours.
  const nbuckets = 2;
  heapWord(AT.slot, tagged(AT.frame));
  heapWord(AT.frame, tagged(0xf00)); // a map word: any heap object
  heapWord(AT.frame + V8.frameTableOff, tagged(AT.table));
  heapWord(AT.table + V8.nelementsOff, smi(2));
  heapWord(AT.table + V8.ndeletedOff, smi(0));
  heapWord(AT.table + V8.nbucketsOff, smi(nbuckets));
  const bucket = ALS_HASH & (nbuckets - 1);
  heapWord(AT.table + V8.bucketsOff + 8 * bucket, smi(0));
  heapWord(AT.table + V8.bucketsOff + 8 * (1 - bucket), smi(-1));
  const entry = (i: number, word: number): number =>
    AT.table + V8.bucketsOff + 8 * nbuckets + 8 * (V8.entryWords * i + word);
  heapWord(entry(0, V8.entryKey), tagged(AT.decoyKey));
  heapWord(entry(0, V8.entryValue), tagged(AT.decoyStore));
  heapWord(entry(0, V8.entryChain), smi(1));
  heapWord(entry(1, V8.entryKey), tagged(AT.alsKey));
  heapWord(entry(1, V8.entryValue), tagged(AT.store));
  heapWord(entry(1, V8.entryChain), smi(-1));
  heapWord(AT.decoyKey + V8.keyHashOff, smi(DECOY_HASH));
  heapWord(AT.alsKey + V8.keyHashOff, smi(ALS_HASH));
  const recordAddress = records.address + BigInt(RECORD.ours);
  const decoyAddress = records.address + BigInt(RECORD.decoy);
  heapWord(AT.store + V8.storeRecordOff, recordAddress);
  heapWord(AT.decoyStore + V8.storeRecordOff, decoyAddress);

  const header = (at: number, self: bigint): void => {
    const view = new DataView(records.buffer, at);
    initCtxRecord(view, LAYOUT, RECORD_MAGIC, self);
    view.setUint32(CTX_RECORD.SEQ, 2, true);
    view.setUint8(CTX_RECORD.VALID, 1); // last, as the writer does
  };
  header(RECORD.ours, recordAddress);
  header(RECORD.decoy, decoyAddress);

  const facts = (overrides: Partial<Facts> = {}): Uint8Array => {
    const { version, ...f }: Facts = {
      version: WALK_VERSION,
      cpedSlot: heap.address + BigInt(AT.slot),
      noFrame: tagged(AT.undefined),
      alsHash: ALS_HASH,
      recordMagic: RECORD_MAGIC,
      keyHashOff: V8.keyHashOff,
      frameTableOff: V8.frameTableOff,
      tableNelementsOff: V8.nelementsOff,
      tableNdeletedOff: V8.ndeletedOff,
      tableNbucketsOff: V8.nbucketsOff,
      tableBucketsOff: V8.bucketsOff,
      entryWords: V8.entryWords,
      entryKey: V8.entryKey,
      entryValue: V8.entryValue,
      entryChain: V8.entryChain,
      storeRecordOff: V8.storeRecordOff,
      alsAddress: tagged(AT.alsKey), // as the writer's GC callbacks keep it
      ...overrides,
    };
    return encodeWalk(f, version);
  };

  return {
    heap,
    records,
    tagged,
    heapWord,
    recordWord,
    record32(field, value) {
      if (field === 'seq') rv.setUint32(RECORD.ours + CTX_RECORD.SEQ, value, true);
      else rv.setUint8(RECORD.ours + CTX_RECORD.VALID, value);
    },
    present(off, set) {
      const { byte, mask } = presentBit(LAYOUT, off);
      const at = RECORD.ours + byte;
      rv.setUint8(at, set ? rv.getUint8(at) | mask : rv.getUint8(at) & ~mask);
    },
    value(off, bytes, which = 'ours') {
      records.bytes.set(bytes, (which === 'ours' ? RECORD.ours : RECORD.decoy) + RECORD.valuesOff + off);
    },
    AT,
    RECORD,
    recordAddress,
    decoyAddress,
    facts,
    unmap() {
      unmapPage(heap);
      unmapPage(records);
    },
  };
}
