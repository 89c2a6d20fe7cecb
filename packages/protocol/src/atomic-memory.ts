/**
 * The memory the key-creation algorithm runs over: the real metadata page (an external ArrayBuffer over a page
 * the kernel may pin) in @tld/userspace, a SharedArrayBuffer in tests. Offsets are byte offsets into the page.
 *
 * Memory coherence: `cnt` and each slot's `size` are u16 fields at even offsets, accessed only through these
 * atomic operations (sequentially consistent, so the name bytes written before `store16(size)` are visible to
 * anyone whose `load16(size)` sees the new size: the release/acquire pairing of PROTOCOL.md §3).
 */
export interface AtomicMemory {
  /** Atomic load of the u16 at an even byte offset. */
  load16(offset: number): number;
  /** Atomic store of the u16 at an even byte offset. */
  store16(offset: number, value: number): void;
  /** Atomic compare-exchange of the u16 at an even byte offset; returns the value found there before. */
  compareExchange16(offset: number, expected: number, replacement: number): number;
  /** Copy of `length` bytes starting at `offset`. */
  readBytes(offset: number, length: number): Uint8Array;
  /** Copy `bytes` to `offset`. */
  writeBytes(offset: number, bytes: Uint8Array): void;
  /**
   * Optional: claim and publish slot `index` as one step (the claim and publish steps of PROTOCOL.md §3): compare-exchange `cnt`
   * from `expectedCnt` to `expectedCnt + 1`, and on success write the slot's name field and store its size.
   * Returns false, changing nothing, when the exchange loses. A JavaScript thread can be terminated between any
   * two of its own statements (worker.terminate()), which would leave a claimed slot unpublished forever; an
   * implementation that runs this step in native code cannot be cut in half. Without it, createKey runs the
   * three operations itself.
   */
  claimSlot?(expectedCnt: number, index: number, nameField: Uint8Array, size: number): boolean;
}

/** AtomicMemory over any ArrayBuffer or SharedArrayBuffer (JavaScript's Atomics work on both). */
export class TypedArrayMemory implements AtomicMemory {
  readonly bytes: Uint8Array;
  readonly #u16: Uint16Array;

  constructor(buffer: ArrayBufferLike, byteOffset = 0, byteLength = buffer.byteLength - byteOffset) {
    if (byteOffset % 2 !== 0 || byteLength % 2 !== 0) {
      throw new RangeError('atomic memory must start and end on a 2-byte boundary');
    }
    this.bytes = new Uint8Array(buffer, byteOffset, byteLength);
    this.#u16 = new Uint16Array(buffer, byteOffset, byteLength / 2);
  }

  load16(offset: number): number {
    return Atomics.load(this.#u16, offset >>> 1);
  }

  store16(offset: number, value: number): void {
    Atomics.store(this.#u16, offset >>> 1, value);
  }

  compareExchange16(offset: number, expected: number, replacement: number): number {
    return Atomics.compareExchange(this.#u16, offset >>> 1, expected, replacement);
  }

  readBytes(offset: number, length: number): Uint8Array {
    return this.bytes.slice(offset, offset + length);
  }

  writeBytes(offset: number, bytes: Uint8Array): void {
    this.bytes.set(bytes, offset);
  }
}
