// The value checks every key type shares between set() and run() (through encode()), and the encoding of a value
// as the 8-byte words run() stores. One function per type, so a value run() takes is exactly a value set() takes,
// refused with the same coded error (see errors.ts).
import { invalidArgType, outOfRange } from './errors.js';

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
  if (typeof value !== 'bigint') throw invalidArgType(`u64 key ${JSON.stringify(name)}: value must be a bigint, got ${typeof value}`);
  if (BigInt.asUintN(64, value) !== value) throw outOfRange(`u64 key ${JSON.stringify(name)}: ${value} is outside 0 .. 2^64-1`);
}

export function checkI64(name: string, value: unknown): asserts value is bigint {
  if (typeof value !== 'bigint') throw invalidArgType(`i64 key ${JSON.stringify(name)}: value must be a bigint, got ${typeof value}`);
  if (BigInt.asIntN(64, value) !== value) throw outOfRange(`i64 key ${JSON.stringify(name)}: ${value} is outside -2^63 .. 2^63-1`);
}

export function checkU32(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw invalidArgType(`u32 key ${JSON.stringify(name)}: value must be a number, got ${typeof value}`);
  if (value >>> 0 !== value) throw outOfRange(`u32 key ${JSON.stringify(name)}: ${value} is not an integer in 0 .. 2^32-1`);
}

export function checkF64(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number') throw invalidArgType(`f64 key ${JSON.stringify(name)}: value must be a number, got ${typeof value}`);
}

export function checkBytes(name: string, size: number, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw invalidArgType(`bytes key ${JSON.stringify(name)}: value must be a Uint8Array, got ${typeof value}`);
  if (value.length > size) throw outOfRange(`bytes key ${JSON.stringify(name)}: ${value.length} bytes do not fit in ${size}`);
}
