// Typed keys: each one is a view of one value in this thread's data page. `set()` is a plain typed-array store
// into memory the kernel pinned, so a BPF program sees it with no syscall.
//
// Memory coherence: JavaScript and BPF programs share the data page without locks. Values are 8-byte aligned
// (PROTOCOL.md §2), so a u64/i64/f64 store (one aligned 8-byte store) and a u32 store are seen whole by BPF.
// A string or bytes value is copied a word or a byte at a time: a BPF program reading it meanwhile can see part old,
// part new.
//
// Bad values throw before anything is written, with Node's codes: TypeError ERR_INVALID_ARG_TYPE (wrong type) or
// ERR_INVALID_ARG_VALUE (NUL in a string), RangeError ERR_OUT_OF_RANGE (outside the key's range or size).
// Each type's checks live in one function that set() and run() (through encode()) share, so a value run() takes
// is exactly a value set() takes, refused with the same error. Inside a run() (current.frame set, see
// async-context.ts) set() first makes the key part of the running context; outside any run it is the plain store.
import { type KeyInfo, roundUpValueSize } from '@tld/protocol';
import { claimForContext, current } from './async-context.js';
import { type RecordMemory, liveRecord, viewInRecord } from './context-walk.js';
import { describeValue, invalidArgType, invalidArgValue, outOfRange } from './errors.js';
import { CLOSED, Key, ScalarKey, type Session, VIEW } from './key.js';
import { checkBytes, checkF64, checkI64, checkU32, checkU64, f64Bits, f64Scratch } from './key-values.js';

export { Key } from './key.js';

const utf8 = new TextEncoder();
/** Longest string StringKey.set() checks and copies in JavaScript; longer ones go through TextEncoder. */
const ASCII_PATH_MAX = 16;
const utf8Decoder = new TextDecoder();

// Each set() checks the closed flag inline (`if (this[CLOSED]) this.throwClosed()`): a check shared through a
// base-class method would be one call site for six classes, which V8 makes megamorphic.

/** An unsigned 64-bit integer key (bigint). */
export class U64Key extends ScalarKey<bigint> {
  /** @internal The row of @tld/protocol's VALUE_TYPES this class serves: TaskLocalData's u64() makes it. */
  static readonly valueType = 'u64';
  /** @internal The typed array of the value (ScalarKey). */
  static readonly View = BigUint64Array;
  declare readonly [VIEW]: BigUint64Array;

  /**
   * Stores `value` (0 .. 2^64−1) in this thread's page (inside a run(): the running context's value). Throws
   * TypeError, RangeError or ERR_TLD_CLOSED.
   */
  set(value: bigint): void {
    if (this[CLOSED]) this.throwClosed();
    if (current.walk && this.setInRun(value)) return;
    checkU64(this.name, value);
    if (current.frame !== null) claimForContext(this);
    this[VIEW][0] = value;
  }

  /** @internal */
  writeRun(value: unknown, memory: RecordMemory, at: number): void {
    checkU64(this.name, value);
    memory.i64[at >>> 3] = value;
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    checkU64(this.name, value);
    return [value];
  }
}

/** A signed 64-bit integer key (bigint). */
export class I64Key extends ScalarKey<bigint> {
  /** @internal The row of @tld/protocol's VALUE_TYPES this class serves: TaskLocalData's i64() makes it. */
  static readonly valueType = 'i64';
  /** @internal The typed array of the value (ScalarKey). */
  static readonly View = BigInt64Array;
  declare readonly [VIEW]: BigInt64Array;

  /** Stores `value` (−2^63 .. 2^63−1). Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(value: bigint): void {
    if (this[CLOSED]) this.throwClosed();
    if (current.walk && this.setInRun(value)) return;
    checkI64(this.name, value);
    if (current.frame !== null) claimForContext(this);
    this[VIEW][0] = value;
  }

  /** @internal */
  writeRun(value: unknown, memory: RecordMemory, at: number): void {
    checkI64(this.name, value);
    memory.i64[at >>> 3] = value;
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    checkI64(this.name, value);
    return [value];
  }
}

/** An unsigned 32-bit integer key (number). */
export class U32Key extends ScalarKey<number> {
  /** @internal The row of @tld/protocol's VALUE_TYPES this class serves: TaskLocalData's u32() makes it. */
  static readonly valueType = 'u32';
  /** @internal The typed array of the value (ScalarKey). */
  static readonly View = Uint32Array;
  declare readonly [VIEW]: Uint32Array;

  /** Stores `value`, an integer in 0 .. 2^32−1. Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(value: number): void {
    if (this[CLOSED]) this.throwClosed();
    if (current.walk && this.setInRun(value)) return;
    checkU32(this.name, value);
    if (current.frame !== null) claimForContext(this);
    this[VIEW][0] = value;
  }

  /** @internal */
  writeRun(value: unknown, memory: RecordMemory, at: number): void {
    checkU32(this.name, value);
    memory.u32[at >>> 2] = value;
    memory.u32[(at >>> 2) + 1] = 0;
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    checkU32(this.name, value);
    return [BigInt(value)]; // the low 4 bytes (little-endian); the room's other 4 are padding
  }
}

/** A 64-bit IEEE-754 float key (number). */
export class F64Key extends ScalarKey<number> {
  /** @internal The row of @tld/protocol's VALUE_TYPES this class serves: TaskLocalData's f64() makes it. */
  static readonly valueType = 'f64';
  /** @internal The typed array of the value (ScalarKey). */
  static readonly View = Float64Array;
  declare readonly [VIEW]: Float64Array;

  /** Stores `value` (any number, NaN and ±Infinity included). Throws TypeError or ERR_TLD_CLOSED. */
  set(value: number): void {
    if (this[CLOSED]) this.throwClosed();
    if (current.walk && this.setInRun(value)) return;
    checkF64(this.name, value);
    if (current.frame !== null) claimForContext(this);
    this[VIEW][0] = value;
  }

  /** @internal */
  writeRun(value: unknown, memory: RecordMemory, at: number): void {
    checkF64(this.name, value);
    memory.f64[at >>> 3] = value;
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    checkF64(this.name, value);
    f64Scratch[0] = value;
    return [f64Bits[0] as bigint];
  }
}

export interface StringKeyOptions {
  /** set() cuts too-long values on a UTF-8 character boundary instead of throwing RangeError. */
  readonly truncate?: boolean;
}

export interface StringSetOptions {
  /** Cut a too-long value at the last whole UTF-8 character that fits instead of throwing RangeError. */
  readonly truncate?: boolean;
}

/** A UTF-8 string key: NUL-padded, at most `size − 1` bytes so BPF always finds a terminating NUL. */
export class StringKey extends Key {
  /** @internal The row of @tld/protocol's VALUE_TYPES this class serves: TaskLocalData's string() makes it. */
  static readonly valueType = 'string';
  declare readonly [VIEW]: Uint8Array;
  /** The value's whole 4-byte words in the page (values are 8-byte aligned, PROTOCOL.md §2). */
  readonly #words: Int32Array;
  /** A value is built here first, so a refused one leaves the page untouched: `size` bytes rounded up to words. */
  readonly #scratch: Uint8Array;
  readonly #scratchWords: Int32Array;
  /** The first size − 1 bytes of #scratch: what encodeInto may fill, so a NUL always ends the value. */
  readonly #encodeTarget: Uint8Array;
  readonly #truncate: boolean;

  /**
   * @internal string()'s options, checked before the key is created (a refused one creates nothing): whether set()
   * truncates.
   */
  static parseOptions(options?: StringKeyOptions): boolean {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw invalidArgType(
        `string key options must be an object like { truncate: true }, got ${describeValue(options)}`,
      );
    }
    const truncate: unknown = options?.truncate ?? false;
    if (typeof truncate !== 'boolean')
      throw invalidArgType(`string key options: truncate must be a boolean, got ${describeValue(truncate)}`);
    return truncate;
  }

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number, truncate: boolean) {
    super(session, info, byteOffset);
    this[VIEW] = new Uint8Array(page, byteOffset, info.size);
    this.#words = new Int32Array(page, byteOffset, info.size >> 2);
    const scratch = new ArrayBuffer(Math.ceil(info.size / 4) * 4);
    this.#scratch = new Uint8Array(scratch);
    this.#scratchWords = new Int32Array(scratch);
    this.#encodeTarget = new Uint8Array(scratch, 0, info.size - 1);
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
    if (this[CLOSED]) this.throwClosed();
    if (current.walk && this.setInRun(value, options?.truncate)) return;
    const written = this.#fill(value, options?.truncate);
    if (current.frame !== null) claimForContext(this);
    // Clear the rest in the scratch buffer, then copy the whole value to the page a word at a time (plain loops:
    // for a few dozen bytes, fill() and set() cost more in calls than they save).
    const scratch = this.#scratch;
    for (let i = written; i < scratch.length; i++) scratch[i] = 0;
    const words = this.#words;
    const from = this.#scratchWords;
    for (let w = 0; w < words.length; w++) words[w] = from[w] as number;
    const bytes = this[VIEW];
    for (let i = words.length * 4; i < bytes.length; i++) bytes[i] = scratch[i] as number;
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    return this.wordsOf(this.#scratch, this.#fill(value, undefined));
  }

  /** @internal */
  writeRun(value: unknown, memory: RecordMemory, at: number, truncate?: boolean): void {
    const written = this.#fill(value, truncate);
    const scratch = this.#scratch;
    const room = roundUpValueSize(this.size);
    const bytes = memory.u8;
    for (let i = 0; i < written; i++) bytes[at + i] = scratch[i] as number;
    for (let i = written; i < room; i++) bytes[at + i] = 0;
  }

  /** @internal */
  decode(bytes: Uint8Array): string {
    const end = bytes.indexOf(0);
    return utf8Decoder.decode(bytes.subarray(0, end === -1 ? bytes.length : end));
  }

  /**
   * Checks `value` and writes its UTF-8 bytes into the scratch buffer (so a refused value leaves the page
   * untouched); returns how many.
   */
  #fill(value: unknown, truncate: boolean | undefined): number {
    if (typeof value !== 'string')
      throw invalidArgType(`string key ${JSON.stringify(this.name)}: value must be a string, got ${typeof value}`);
    const length = value.length;
    // Short ASCII values (ids, tenants, short routes) skip the encoder call: one pass copies the characters into
    // the scratch buffer and folds a sign bit for any NUL or non-ASCII character into `bad`. Past about 16
    // characters this JavaScript loop costs more than the call it saves.
    if (length <= ASCII_PATH_MAX && length < this.size) {
      const scratch = this.#scratch;
      let bad = 0;
      for (let i = 0; i < length; i++) {
        const c = value.charCodeAt(i);
        bad |= (c - 1) | (0x7f - c); // negative when c is 0 or above 0x7f
        scratch[i] = c;
      }
      if (bad >= 0) return length;
    }
    return this.#encode(value, truncate);
  }

  /** Encodes `value` into the scratch buffer and returns the bytes written, or throws (the page stays as it was). */
  #encode(value: string, truncate: boolean | undefined): number {
    if (value.includes('\0')) {
      throw invalidArgValue(
        `string key ${JSON.stringify(this.name)}: value contains NUL, which would end it early for BPF readers`,
      );
    }
    // encodeInto stops at the last whole character that fits: that is the UTF-8 boundary truncation.
    const { read, written } = utf8.encodeInto(value, this.#encodeTarget);
    if (read < value.length && !(truncate ?? this.#truncate)) {
      throw outOfRange(
        `string key ${JSON.stringify(this.name)}: value needs more than ${this.maxBytes} UTF-8 bytes ` +
          `(the key holds ${this.size} bytes including the terminating NUL): shorten it, create the key larger, ` +
          'or pass { truncate: true }',
      );
    }
    return written;
  }

  /** This thread's value (up to the first NUL; inside a run(): the run's). Throws ERR_TLD_CLOSED after close(). */
  get(): string {
    this.checkOpen();
    if (current.walk) {
      const bytes = this.readInRun();
      if (bytes !== undefined) return this.decode(bytes);
    }
    const end = this[VIEW].indexOf(0);
    return utf8Decoder.decode(this[VIEW].subarray(0, end === -1 ? this.size : end));
  }
}

/** A raw bytes key. */
export class BytesKey extends Key {
  /** @internal The row of @tld/protocol's VALUE_TYPES this class serves: TaskLocalData's bytes() makes it. */
  static readonly valueType = 'bytes';
  declare readonly [VIEW]: Uint8Array;

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number) {
    super(session, info, byteOffset);
    this[VIEW] = new Uint8Array(page, byteOffset, info.size);
  }

  /**
   * Live view of this thread's value: writes go straight to the page BPF reads (asked for inside a run(), it makes
   * the key part of the running context, so writes until the next await belong to that context). Throws
   * ERR_TLD_CLOSED after close(); a view taken before stays usable until the thread exits (the page is unmapped
   * then, and the view reads as empty).
   */
  get view(): Uint8Array {
    this.checkOpen();
    if (current.walk) {
      const record = liveRecord();
      const view = record === undefined ? undefined : viewInRecord(record, this.offset, this.size, this[VIEW]);
      if (view !== undefined) return view;
    }
    if (current.frame !== null) claimForContext(this);
    return this[VIEW];
  }

  /** Copies `bytes` (at most `size` bytes) to the start of the value and zeroes the rest. Throws TypeError, RangeError or ERR_TLD_CLOSED. */
  set(bytes: Uint8Array): void {
    if (this[CLOSED]) this.throwClosed();
    if (current.walk && this.setInRun(bytes)) return;
    const length = checkBytes(this.name, this.size, bytes);
    if (current.frame !== null) claimForContext(this);
    this[VIEW].set(bytes);
    this[VIEW].fill(0, length);
  }

  /** @internal */
  encode(value: unknown): bigint[] {
    const length = checkBytes(this.name, this.size, value);
    return this.wordsOf(value as Uint8Array, length);
  }

  /** @internal */
  writeRun(value: unknown, memory: RecordMemory, at: number): void {
    const length = checkBytes(this.name, this.size, value);
    const from = value as Uint8Array;
    const bytes = memory.u8;
    const room = roundUpValueSize(this.size);
    for (let i = 0; i < length; i++) bytes[at + i] = from[i] as number;
    for (let i = length; i < room; i++) bytes[at + i] = 0;
  }

  /** @internal */
  decode(bytes: Uint8Array): Uint8Array {
    return bytes.slice();
  }

  /** A copy of this thread's value (inside a run(): the run's). Throws ERR_TLD_CLOSED after close(). */
  get(): Uint8Array {
    this.checkOpen();
    if (current.walk) {
      const bytes = this.readInRun();
      if (bytes !== undefined) return this.decode(bytes);
    }
    return this[VIEW].slice();
  }
}
