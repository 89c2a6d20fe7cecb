// The value checks every key type shares between set() and run() (through encode()), and the encoding of a value
// as the 8-byte words run() stores. One function per type, so a value run() takes is exactly a value set() takes,
// refused with the same coded error (see errors.ts).
import { invalidArgType, invalidArgValue, outOfRange } from './errors.js';

// For encode(): an f64's bits, and a string's or bytes' room as 8-byte words. Plain arrays of bigints, not typed
// arrays: a run() per request must not allocate ArrayBuffers (each costs more than the rest of run()).
export const f64Scratch = new Float64Array(1);
export const f64Bits = new BigInt64Array(f64Scratch.buffer);
let wordScratch = new BigInt64Array(8);
let byteScratch = new Uint8Array(wordScratch.buffer);

/** `bytes[0, length)` zero-padded to `room` bytes (a multiple of 8), as little-endian 8-byte words. */
export function wordsOf(bytes: Uint8Array, length: number, room: number): bigint[] {
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

// The checks. Range checks compile to a truncation and one compare: `BigInt.asUintN(64, v) === v` means
// 0n <= v <= 2^64-1 (two BigInt compares would be two builtin calls), and for a number `v >>> 0 === v` means an
// integer in 0 .. 2^32-1.

export function checkU64(name: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint')
    throw invalidArgType(`u64 key ${JSON.stringify(name)}: value must be a bigint, got ${typeof value}`);
  if (BigInt.asUintN(64, value) !== value)
    throw outOfRange(`u64 key ${JSON.stringify(name)}: ${value} is outside 0 .. 2^64-1`);
}

export function checkI64(name: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint')
    throw invalidArgType(`i64 key ${JSON.stringify(name)}: value must be a bigint, got ${typeof value}`);
  if (BigInt.asIntN(64, value) !== value)
    throw outOfRange(`i64 key ${JSON.stringify(name)}: ${value} is outside -2^63 .. 2^63-1`);
}

export function checkU32(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number')
    throw invalidArgType(`u32 key ${JSON.stringify(name)}: value must be a number, got ${typeof value}`);
  if (value >>> 0 !== value)
    throw outOfRange(`u32 key ${JSON.stringify(name)}: ${value} is not an integer in 0 .. 2^32-1`);
}

export function checkF64(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number')
    throw invalidArgType(`f64 key ${JSON.stringify(name)}: value must be a number, got ${typeof value}`);
}

// A bytes value is read through the intrinsic getters of %TypedArray%.prototype, never through its own properties:
// a subclass or an object that only inherits from Uint8Array.prototype can make `length` say anything, and set()
// would then copy one length and clear from another, leaving stale bytes in the page.
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
function intrinsicGetter(name: string | symbol): (this: unknown) => unknown {
  const descriptor = Object.getOwnPropertyDescriptor(typedArrayPrototype, name);
  // Reflect.get: the getter is meant to be called later with another `this`, not as the descriptor's method.
  const get: unknown = descriptor === undefined ? undefined : Reflect.get(descriptor, 'get');
  if (typeof get !== 'function') throw new Error(`%TypedArray%.prototype has no ${String(name)} getter`);
  return get as (this: unknown) => unknown;
}
const tagOf = intrinsicGetter(Symbol.toStringTag);
const lengthOf = intrinsicGetter('length') as (this: Uint8Array) => number;
const bufferOf = intrinsicGetter('buffer') as (this: Uint8Array) => ArrayBufferLike;

/** Whether the buffer was detached (transferred, e.g. posted to a worker): its views then read as empty. */
function isDetached(buffer: ArrayBufferLike): boolean {
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

function label(what: string, name: string | undefined): string {
  return name === undefined ? what : `${what} ${JSON.stringify(name)}`;
}

/**
 * Checks that `value` is a real Uint8Array (a subclass, Buffer included, is one) whose buffer is not detached and
 * returns its true length. `what` (and `name`, quoted) lead the messages, built only when one is thrown.
 */
export function checkUint8Array(value: unknown, what: string, name?: string): number {
  // The toStringTag getter answers undefined, without throwing, for anything that is not a typed array.
  if (tagOf.call(value) !== 'Uint8Array') {
    const got = value instanceof Uint8Array ? 'an object that only inherits from Uint8Array' : typeof value;
    throw invalidArgType(`${label(what, name)}: value must be a Uint8Array, got ${got}`);
  }
  const length = lengthOf.call(value as Uint8Array);
  if (length === 0 && isDetached(bufferOf.call(value as Uint8Array))) {
    throw invalidArgValue(
      `${label(what, name)}: the value's ArrayBuffer was detached (transferred to a worker or by ` +
        'ArrayBuffer.prototype.transfer()), so it holds no bytes: pass a Uint8Array whose buffer is still yours',
    );
  }
  return length;
}

/** Checks a bytes value of a key of `size` bytes and returns its true length (at most `size`). */
export function checkBytes(name: string, size: number, value: unknown): number {
  const length = checkUint8Array(value, 'bytes key', name);
  if (length > size) throw outOfRange(`bytes key ${JSON.stringify(name)}: ${length} bytes do not fit in ${size}`);
  return length;
}
