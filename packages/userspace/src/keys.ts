// Typed keys: each one is a view of one value in this thread's data page. `set()` is a plain typed-array store
// into memory the kernel pinned, so a BPF program sees it with no syscall.
//
// Memory coherence: JavaScript and BPF programs share the data page without locks. Values are 8-byte aligned
// (PROTOCOL.md §2), so a u64/i64/f64 store (one aligned 8-byte store) and a u32 store are seen whole by BPF.
// A string or bytes value is copied byte by byte: a BPF program reading it meanwhile can see part old, part new.
//
// Each type's checks live in one function that set() and run() (through encode()) share, so a value run() takes
// is exactly a value set() takes, refused with the same error. Inside a run() (current.frame set, see
// async-context.ts) set() first makes the key part of the running context; outside any run it is the plain store.
import { type KeyInfo, roundUpValueSize } from '@tld/protocol';
import { claimForContext, current } from './async-context.js';
import { closedError } from './errors.js';

/** State shared by a TaskLocalData and its keys. */
export interface Session {
  closed: boolean;
}

const U32_MAX = 0xffff_ffff;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -0x8000_0000_0000_0000n;
const I64_MAX = 0x7fff_ffff_ffff_ffffn;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

// For encode(): an f64's bits, and a string's or bytes' room as 8-byte words. Plain arrays of bigints, not typed
// arrays: a run() per request must not allocate ArrayBuffers (each costs more than the rest of run()).
const f64Scratch = new Float64Array(1);
const f64Bits = new BigInt64Array(f64Scratch.buffer);
let wordScratch = new BigInt64Array(8);
let byteScratch = new Uint8Array(wordScratch.buffer);

/** `bytes[0, length)` zero-padded to `room` bytes (a multiple of 8), as little-endian 8-byte words. */
function wordsOf(bytes: Uint8Array, length: number, room: number): bigint[] {
  if (byteScratch.length < room) {
    wordScratch = new BigInt64Array(room / 8);
    byteScratch = new Uint8Array(wordScratch.buffer);
  }
  for (let i = 0; i < length; i++) byteScratch[i] = bytes[i] as number;
  byteScratch.fill(0, length, room);
  const words = new Array<bigint>(room / 8);
  for (let i = 0; i < words.length; i++) words[i] = wordScratch[i] as bigint;
  return words;
}

function checkU64(name: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint') throw new TypeError(`u64 key ${JSON.stringify(name)}: value must be a bigint`);
  if (value < 0n || value > U64_MAX) throw new RangeError(`u64 key ${JSON.stringify(name)}: ${value} is outside 0 .. 2^64-1`);
}

function checkI64(name: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint') throw new TypeError(`i64 key ${JSON.stringify(name)}: value must be a bigint`);
  if (value < I64_MIN || value > I64_MAX) {
    throw new RangeError(`i64 key ${JSON.stringify(name)}: ${value} is outside -2^63 .. 2^63-1`);
  }
}

function checkU32(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`u32 key ${JSON.stringify(name)}: value must be a number`);
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new RangeError(`u32 key ${JSON.stringify(name)}: ${value} is not an integer in 0 .. 2^32-1`);
  }
}

function checkF64(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw new TypeError(`f64 key ${JSON.stringify(name)}: value must be a number`);
}

function checkBytes(name: string, size: number, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`bytes key ${JSON.stringify(name)}: value must be a Uint8Array`);
  if (value.length > size) throw new RangeError(`bytes key ${JSON.stringify(name)}: ${value.length} bytes do not fit in ${size}`);
}

/** What every key exposes: its name, its value's size and its offset in data[]. */
export abstract class Key {
  readonly name: string;
  /** Value size in bytes. */
  readonly size: number;
  /** Offset of the value in data[] (the same in every thread). */
  readonly offset: number;
  /** @internal Index of the value's first 8-byte word in this thread's data page (values are 8-aligned). */
  readonly pageWord: number;
  protected readonly session: Session;

  /** @internal */
  constructor(session: Session, info: KeyInfo, byteOffset: number) {
    this.session = session;
    this.name = info.name;
    this.size = info.size;
    this.offset = info.offset;
    this.pageWord = byteOffset / 8;
  }

  /**
   * @internal For run(): `value` checked exactly as set() checks it (same errors), as the bytes set() would store,
   * zero-padded to the key's room in data[] (size rounded up to 8), as 8-byte little-endian words (a word ≥ 2^63
   * is stored as its two's complement by a BigInt64Array). Writes nothing.
   */
  abstract encode(value: unknown): bigint[];

  protected checkOpen(): void {
    if (this.session.closed) throw closedError(`key ${JSON.stringify(this.name)}`);
  }

  /** The words of `bytes[0, length)` in the key's room. */
  protected wordsOf(bytes: Uint8Array, length: number): bigint[] {
    return wordsOf(bytes, length, roundUpValueSize(this.size));
  }
}

/** An unsigned 64-bit integer key (bigint). */
export class U64Key extends Key {
  readonly #view: BigUint64Array;

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number) {
    super(session, info, byteOffset);
    this.#view = new BigUint64Array(page, byteOffset, 1);
  }

  /**
   * Stores `value` (0 .. 2^64−1) in this thread's page (inside a run(): the running context's value). Throws
   * TypeError, RangeError or ERR_TLD_CLOSED.
   */
  set(value: bigint): void {
    this.checkOpen();
    checkU64(this.name, value);
    if (current.frame !== null) claimForContext(this);
    this.#view[0] = value;
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    checkU64(this.name, value);
    return [value];
  }

  /** This thread's value. Throws ERR_TLD_CLOSED after close(). */
  get(): bigint {
    this.checkOpen();
    return this.#view[0] as bigint;
  }
}

/** A signed 64-bit integer key (bigint). */
export class I64Key extends Key {
  readonly #view: BigInt64Array;

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number) {
    super(session, info, byteOffset);
    this.#view = new BigInt64Array(page, byteOffset, 1);
  }

  /** Stores `value` (−2^63 .. 2^63−1). Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(value: bigint): void {
    this.checkOpen();
    checkI64(this.name, value);
    if (current.frame !== null) claimForContext(this);
    this.#view[0] = value;
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    checkI64(this.name, value);
    return [value];
  }

  /** This thread's value. Throws ERR_TLD_CLOSED after close(). */
  get(): bigint {
    this.checkOpen();
    return this.#view[0] as bigint;
  }
}

/** An unsigned 32-bit integer key (number). */
export class U32Key extends Key {
  readonly #view: Uint32Array;

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number) {
    super(session, info, byteOffset);
    this.#view = new Uint32Array(page, byteOffset, 1);
  }

  /** Stores `value`, an integer in 0 .. 2^32−1. Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(value: number): void {
    this.checkOpen();
    checkU32(this.name, value);
    if (current.frame !== null) claimForContext(this);
    this.#view[0] = value;
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    checkU32(this.name, value);
    return [BigInt(value)]; // the low 4 bytes (little-endian); the room's other 4 are padding
  }

  /** This thread's value. Throws ERR_TLD_CLOSED after close(). */
  get(): number {
    this.checkOpen();
    return this.#view[0] as number;
  }
}

/** A 64-bit IEEE-754 float key (number). */
export class F64Key extends Key {
  readonly #view: Float64Array;

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number) {
    super(session, info, byteOffset);
    this.#view = new Float64Array(page, byteOffset, 1);
  }

  /** Stores `value` (any number, NaN and ±Infinity included). Throws TypeError or ERR_TLD_CLOSED. */
  set(value: number): void {
    this.checkOpen();
    checkF64(this.name, value);
    if (current.frame !== null) claimForContext(this);
    this.#view[0] = value;
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    checkF64(this.name, value);
    f64Scratch[0] = value;
    return [f64Bits[0] as bigint];
  }

  /** This thread's value. Throws ERR_TLD_CLOSED after close(). */
  get(): number {
    this.checkOpen();
    return this.#view[0] as number;
  }
}

export interface StringSetOptions {
  /** Cut a too-long value at the last whole UTF-8 character that fits instead of throwing RangeError. */
  readonly truncate?: boolean;
}

/** A UTF-8 string key: NUL-padded, at most `size − 1` bytes so BPF always finds a terminating NUL. */
export class StringKey extends Key {
  readonly #bytes: Uint8Array;
  readonly #scratch: Uint8Array;
  readonly #truncate: boolean;

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number, truncate: boolean) {
    super(session, info, byteOffset);
    this.#bytes = new Uint8Array(page, byteOffset, info.size);
    this.#scratch = new Uint8Array(info.size - 1);
    this.#truncate = truncate;
  }

  /** Most UTF-8 bytes a value may have (size − 1). */
  get maxBytes(): number {
    return this.size - 1;
  }

  /**
   * Stores `value` as UTF-8 and clears the rest of the value. A value longer than maxBytes throws RangeError
   * (and stores nothing) unless `truncate` (here or on the key) cuts it on a character boundary. Throws
   * TypeError for a non-string or a string containing NUL, ERR_TLD_CLOSED after close().
   */
  set(value: string, options?: StringSetOptions): void {
    this.checkOpen();
    const written = this.#encode(value, options?.truncate);
    if (current.frame !== null) claimForContext(this);
    // A byte loop, not set(subarray): short values are the common case and subarray() allocates.
    const bytes = this.#bytes;
    const scratch = this.#scratch;
    for (let i = 0; i < written; i++) bytes[i] = scratch[i] as number;
    bytes.fill(0, written);
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    return this.wordsOf(this.#scratch, this.#encode(value, undefined));
  }

  /**
   * Checks `value` and encodes it into the scratch buffer (so a refused value leaves the page untouched); returns
   * the number of bytes. encodeInto stops at the last whole character that fits: that is the UTF-8 boundary
   * truncation.
   */
  #encode(value: unknown, truncate: boolean | undefined): number {
    if (typeof value !== 'string') throw new TypeError(`string key ${JSON.stringify(this.name)}: value must be a string`);
    if (value.includes('\0')) {
      throw new TypeError(`string key ${JSON.stringify(this.name)}: value contains NUL, which would end it early for BPF readers`);
    }
    const { read, written } = utf8.encodeInto(value, this.#scratch);
    if (read < value.length && !(truncate ?? this.#truncate)) {
      throw new RangeError(
        `string key ${JSON.stringify(this.name)}: value needs more than ${this.maxBytes} UTF-8 bytes ` +
          `(the key holds ${this.size} bytes including the terminating NUL): shorten it, create the key larger, ` +
          'or pass { truncate: true }',
      );
    }
    return written;
  }

  /** This thread's value (up to the first NUL). Throws ERR_TLD_CLOSED after close(). */
  get(): string {
    this.checkOpen();
    const end = this.#bytes.indexOf(0);
    return utf8Decoder.decode(this.#bytes.subarray(0, end === -1 ? this.size : end));
  }
}

/** A raw bytes key. */
export class BytesKey extends Key {
  readonly #bytes: Uint8Array;

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number) {
    super(session, info, byteOffset);
    this.#bytes = new Uint8Array(page, byteOffset, info.size);
  }

  /**
   * Live view of this thread's value: writes go straight to the page BPF reads (asked for inside a run(), it makes
   * the key part of the running context, so writes until the next await belong to that context). Throws
   * ERR_TLD_CLOSED after close() (the page may be unmapped then, and the view reads as empty).
   */
  get view(): Uint8Array {
    this.checkOpen();
    if (current.frame !== null) claimForContext(this);
    return this.#bytes;
  }

  /** Copies `bytes` (at most `size` bytes) to the start of the value and zeroes the rest. Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(bytes: Uint8Array): void {
    this.checkOpen();
    checkBytes(this.name, this.size, bytes);
    if (current.frame !== null) claimForContext(this);
    this.#bytes.set(bytes);
    this.#bytes.fill(0, bytes.length);
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    checkBytes(this.name, this.size, value);
    return this.wordsOf(value, value.length);
  }

  /** A copy of this thread's value. Throws ERR_TLD_CLOSED after close(). */
  get(): Uint8Array {
    this.checkOpen();
    return this.#bytes.slice();
  }
}
