// What every key shares: the base class of keys.ts's classes, the state a TaskLocalData shares with its keys,
// and close(). Kept apart from the key classes so that index.ts exports every class of keys.ts and nothing else.
import { type KeyInfo, roundUpValueSize } from '@tld/protocol';
import { current } from './async-context.js';
import { type RecordMemory, liveRecord, readInRecord, writeInRecord } from './context-walk.js';
import { closedError } from './errors.js';
import { wordsOf } from './key-values.js';

/** State shared by a TaskLocalData and its keys. */
export interface Session {
  closed: boolean;
}

/**
 * Where a key keeps its typed-array view of the page, and whether its TaskLocalData was closed. Symbol-keyed
 * properties instead of #private fields: V8 (Node 20) loads a symbol-keyed property as a plain field, a private
 * field with an extra check, and set() is a handful of instructions (see the README's performance notes).
 */
export const VIEW: unique symbol = Symbol('view');
export const CLOSED: unique symbol = Symbol('closed');

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
  /**
   * A copy of session.closed that TaskLocalData.close() sets (closeKey): set() checks a field of the key itself,
   * one load, instead of two dependent loads through the shared session.
   */
  [CLOSED] = false;

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

  /**
   * @internal Walk mechanism: the value as the run the current async context belongs to holds it, decoded; undefined
   * outside a live run or when the run does not set this key (the page's value applies).
   */
  abstract decode(bytes: Uint8Array): unknown;

  /**
   * @internal Walk mechanism: checks `value` as set() does (same errors) and writes it into a record at byte `at`
   * (8-aligned; the key's room, size rounded up to 8, is all written). Writes nothing when the check fails.
   */
  abstract writeRun(value: unknown, memory: RecordMemory, at: number, truncate?: boolean): void;

  protected checkOpen(): void {
    if (this[CLOSED]) this.throwClosed();
  }

  /** Walk mechanism: set() inside a live run stores into the run's record (checked as set() checks). */
  protected setInRun(value: unknown, truncate?: boolean): boolean {
    const record = liveRecord();
    return record !== undefined && writeInRecord(record, this, value, truncate);
  }

  /** Walk mechanism: the run's bytes of this key, or undefined. */
  protected readInRun(): Uint8Array | undefined {
    const record = liveRecord();
    return record === undefined ? undefined : readInRecord(record, this.offset, this.size);
  }

  protected throwClosed(): never {
    throw closedError(`key ${JSON.stringify(this.name)}`);
  }

  /** The words of `bytes[0, length)` in the key's room. */
  protected wordsOf(bytes: Uint8Array, length: number): bigint[] {
    return wordsOf(bytes, length, roundUpValueSize(this.size));
  }
}

/** @internal Called by TaskLocalData.close() for every key it handed out: they throw ERR_TLD_CLOSED from then on. */
export function closeKey(key: Key): void {
  key[CLOSED] = true;
}

/** The typed-array class of a ScalarKey's value: BigUint64Array, Float64Array, ... */
interface ScalarView<V> {
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): { [index: number]: V };
  readonly BYTES_PER_ELEMENT: number;
}

/**
 * A key whose value is one element of a typed array (the number types): the class names its array as
 * `static readonly View`, and the view, get() and decode() are the same for each. set() stays in each class (V8).
 */
export abstract class ScalarKey<V extends bigint | number> extends Key {
  declare readonly [VIEW]: { [index: number]: V };

  /** @internal */
  constructor(session: Session, info: KeyInfo, page: ArrayBuffer, byteOffset: number) {
    super(session, info, byteOffset);
    this[VIEW] = new (new.target as unknown as { View: ScalarView<V> }).View(page, byteOffset, 1);
  }

  /** @internal */
  decode(bytes: Uint8Array): V {
    const { View } = this.constructor as unknown as { View: ScalarView<V> };
    return new View(bytes.slice(0, View.BYTES_PER_ELEMENT).buffer)[0] as V;
  }

  /** This thread's value (inside a run(): the run's). Throws ERR_TLD_CLOSED after close(). */
  get(): V {
    this.checkOpen();
    if (current.walk) {
      const bytes = this.readInRun();
      if (bytes !== undefined) return this.decode(bytes);
    }
    return this[VIEW][0] as V;
  }
}
