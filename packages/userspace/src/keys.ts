// Typed keys: each one is a view of one value in this thread's data page. `set()` is a plain typed-array store
// into memory the kernel pinned, so a BPF program sees it with no syscall.
//
// Memory coherence: JavaScript and BPF programs share the data page without locks. Values are 8-byte aligned
// (PROTOCOL.md §2), so a u64/i64/f64 store (one aligned 8-byte store) and a u32 store are seen whole by BPF.
// A string or bytes value is copied byte by byte: a BPF program reading it meanwhile can see part old, part new.
//
// Bad values throw before anything is written, with Node's codes: TypeError ERR_INVALID_ARG_TYPE (wrong type) or
// ERR_INVALID_ARG_VALUE (NUL in a string), RangeError ERR_OUT_OF_RANGE (outside the key's range or size).
import type { KeyInfo } from '@tld/protocol';
import { closedError, invalidArgType, invalidArgValue, outOfRange } from './errors.js';

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

/** What every key exposes: its name, its value's size and its offset in data[]. */
export abstract class Key {
  readonly name: string;
  /** Value size in bytes. */
  readonly size: number;
  /** Offset of the value in data[] (the same in every thread). */
  readonly offset: number;
  protected readonly session: Session;

  /** @internal */
  constructor(session: Session, info: KeyInfo) {
    this.session = session;
    this.name = info.name;
    this.size = info.size;
    this.offset = info.offset;
  }

  protected checkOpen(): void {
    if (this.session.closed) throw closedError(`key ${JSON.stringify(this.name)}`);
  }
}

/** An unsigned 64-bit integer key (bigint). */
export class U64Key extends Key {
  readonly #view: BigUint64Array;

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number) {
    super(session, info);
    this.#view = new BigUint64Array(page, byteOffset, 1);
  }

  /** Stores `value` (0 .. 2^64−1) in this thread's page. Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(value: bigint): void {
    this.checkOpen();
    if (typeof value !== 'bigint') throw invalidArgType(`u64 key ${JSON.stringify(this.name)}: value must be a bigint, got ${typeof value}`);
    if (value < 0n || value > U64_MAX) {
      throw outOfRange(`u64 key ${JSON.stringify(this.name)}: ${value} is outside 0 .. 2^64-1`);
    }
    this.#view[0] = value;
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
    super(session, info);
    this.#view = new BigInt64Array(page, byteOffset, 1);
  }

  /** Stores `value` (−2^63 .. 2^63−1). Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(value: bigint): void {
    this.checkOpen();
    if (typeof value !== 'bigint') throw invalidArgType(`i64 key ${JSON.stringify(this.name)}: value must be a bigint, got ${typeof value}`);
    if (value < I64_MIN || value > I64_MAX) {
      throw outOfRange(`i64 key ${JSON.stringify(this.name)}: ${value} is outside -2^63 .. 2^63-1`);
    }
    this.#view[0] = value;
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
    super(session, info);
    this.#view = new Uint32Array(page, byteOffset, 1);
  }

  /** Stores `value`, an integer in 0 .. 2^32−1. Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(value: number): void {
    this.checkOpen();
    if (typeof value !== 'number') throw invalidArgType(`u32 key ${JSON.stringify(this.name)}: value must be a number, got ${typeof value}`);
    if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
      throw outOfRange(`u32 key ${JSON.stringify(this.name)}: ${value} is not an integer in 0 .. 2^32-1`);
    }
    this.#view[0] = value;
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
    super(session, info);
    this.#view = new Float64Array(page, byteOffset, 1);
  }

  /** Stores `value` (any number, NaN and ±Infinity included). Throws TypeError or ERR_TLD_CLOSED. */
  set(value: number): void {
    this.checkOpen();
    if (typeof value !== 'number') throw invalidArgType(`f64 key ${JSON.stringify(this.name)}: value must be a number, got ${typeof value}`);
    this.#view[0] = value;
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
    super(session, info);
    this.#bytes = new Uint8Array(page, byteOffset, info.size);
    this.#scratch = new Uint8Array(info.size - 1);
    this.#truncate = truncate;
  }

  /** Most UTF-8 bytes a value may have (size − 1). */
  get maxBytes(): number {
    return this.size - 1;
  }

  /**
   * Stores `value` as UTF-8 (a lone surrogate becomes U+FFFD, as TextEncoder encodes it) and clears the rest of
   * the value. A value longer than maxBytes throws RangeError
   * (and stores nothing) unless `truncate` (here or on the key) cuts it on a character boundary. Throws
   * TypeError for a non-string or a string containing NUL, ERR_TLD_CLOSED after close().
   */
  set(value: string, options?: StringSetOptions): void {
    this.checkOpen();
    if (typeof value !== 'string') throw invalidArgType(`string key ${JSON.stringify(this.name)}: value must be a string, got ${typeof value}`);
    if (value.includes('\0')) {
      throw invalidArgValue(`string key ${JSON.stringify(this.name)}: value contains NUL, which would end it early for BPF readers`);
    }
    // Encode into a scratch buffer first so a refused value leaves the page untouched. encodeInto stops at the
    // last whole character that fits: that is the UTF-8 boundary truncation.
    const { read, written } = utf8.encodeInto(value, this.#scratch);
    if (read < value.length && !(options?.truncate ?? this.#truncate)) {
      throw outOfRange(
        `string key ${JSON.stringify(this.name)}: value needs more than ${this.maxBytes} UTF-8 bytes ` +
          `(the key holds ${this.size} bytes including the terminating NUL): shorten it, create the key larger, ` +
          'or pass { truncate: true }',
      );
    }
    // A byte loop, not set(subarray): short values are the common case and subarray() allocates.
    const bytes = this.#bytes;
    const scratch = this.#scratch;
    for (let i = 0; i < written; i++) bytes[i] = scratch[i] as number;
    bytes.fill(0, written);
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
    super(session, info);
    this.#bytes = new Uint8Array(page, byteOffset, info.size);
  }

  /**
   * Live view of this thread's value: writes go straight to the page BPF reads. Throws ERR_TLD_CLOSED after
   * close(); a view taken before stays usable until the thread exits (the page is unmapped then, and the view
   * reads as empty).
   */
  get view(): Uint8Array {
    this.checkOpen();
    return this.#bytes;
  }

  /** Copies `bytes` (at most `size` bytes) to the start of the value and zeroes the rest. Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(bytes: Uint8Array): void {
    this.checkOpen();
    if (!(bytes instanceof Uint8Array)) throw invalidArgType(`bytes key ${JSON.stringify(this.name)}: value must be a Uint8Array, got ${typeof bytes}`);
    if (bytes.length > this.size) {
      throw outOfRange(`bytes key ${JSON.stringify(this.name)}: ${bytes.length} bytes do not fit in ${this.size}`);
    }
    this.#bytes.set(bytes);
    this.#bytes.fill(0, bytes.length);
  }

  /** A copy of this thread's value. Throws ERR_TLD_CLOSED after close(). */
  get(): Uint8Array {
    this.checkOpen();
    return this.#bytes.slice();
  }
}
