// The key-creation algorithm of PROTOCOL.md §3, written once. Every creator in a process (JavaScript worker
// threads, native code following the upstream header) runs the same steps over the same metadata page, so
// they agree on every key's slot and offset without a lock.
import type { AtomicMemory } from './atomic-memory.js';
import { ProtocolErrorCode, TldError } from './errors.js';
import {
  type Layout,
  META_CNT_OFFSET,
  META_SIZE_OFFSET,
  NAME_MAX_BYTES,
  SLOT_NAME_OFFSET,
  SLOT_NAME_SIZE,
  layoutFor,
  roundUpValueSize,
  slotOffset,
  slotValueSizeOffset,
} from './layout.js';

/** A key as recorded in the metadata page. */
export interface KeyInfo {
  readonly name: string;
  /** Slot index in the metadata page. */
  readonly index: number;
  /** Offset of the value in data[] (add the data page's `start` for the offset from the page). */
  readonly offset: number;
  /** Unrounded value size in bytes. */
  readonly size: number;
}

export interface CreatedKey extends KeyInfo {
  /** true when this call claimed the slot, false when the name already existed with the same size. */
  readonly created: boolean;
}

export interface KeyOptions {
  readonly layout?: Layout;
  /**
   * How long to wait for another creator to publish a slot it claimed. Upstream waits forever; a creator
   * publishes a few instructions after claiming, so a slot still unpublished after this long belongs to a
   * thread that died or misbehaves. Default 2000 ms.
   */
  readonly publishTimeoutMs?: number;
  /**
   * Bytes of data[] the caller can address, when its data page is smaller than the metadata page's `size`
   * allows (a page installed by other native code). A key ending past it fails with BAD_LAYOUT before any
   * slot is claimed. Default: no limit beyond `meta.size`.
   */
  readonly dataLimit?: number;
}

const DEFAULT_PUBLISH_TIMEOUT_MS = 2000;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * UTF-8 bytes of a valid key name. Throws TldError (NAME_EMPTY, NAME_HAS_NUL, NAME_TOO_LONG) otherwise, and
 * TypeError for a non-string or a string with a lone surrogate.
 */
export function encodeKeyName(name: string): Uint8Array {
  if (typeof name !== 'string') {
    throw new TypeError(`key name must be a string, got ${typeof name}`);
  }
  if (name.length === 0) {
    throw new TldError(ProtocolErrorCode.NAME_EMPTY, 'key name is empty: give the key a name of 1 to 61 UTF-8 bytes');
  }
  if (name.includes('\0')) {
    throw new TldError(
      ProtocolErrorCode.NAME_HAS_NUL,
      `key name ${JSON.stringify(name)} contains a NUL character: names are NUL-terminated C strings, remove it`,
    );
  }
  // TextEncoder turns a lone surrogate into U+FFFD, so two different strings would share one key and the
  // stored name would not read back as the name given.
  if (LONE_SURROGATE.test(name)) {
    throw new TypeError(
      `key name ${JSON.stringify(name)} contains a lone UTF-16 surrogate and has no UTF-8 form: use a well-formed string`,
    );
  }
  const bytes = utf8.encode(name);
  if (bytes.length > NAME_MAX_BYTES) {
    throw new TldError(
      ProtocolErrorCode.NAME_TOO_LONG,
      `key name ${JSON.stringify(name)} is ${bytes.length} UTF-8 bytes; the limit is ${NAME_MAX_BYTES}: use a shorter name`,
    );
  }
  return bytes;
}

/** Throws TldError(SIZE_INVALID) unless size is an integer in 1 .. P − 8. */
export function checkValueSize(size: number, layout: Layout = layoutFor()): void {
  if (!Number.isInteger(size) || size < 1 || size > layout.dataBytes) {
    throw new TldError(
      ProtocolErrorCode.SIZE_INVALID,
      `value size ${String(size)} is invalid: it must be an integer from 1 to ${layout.dataBytes} bytes`,
    );
  }
}

function slotNameEquals(mem: AtomicMemory, index: number, name: Uint8Array): boolean {
  const stored = mem.readBytes(slotOffset(index) + SLOT_NAME_OFFSET, SLOT_NAME_SIZE);
  if (stored[name.length] !== 0) return false;
  for (let i = 0; i < name.length; i++) if (stored[i] !== name[i]) return false;
  return true;
}

function slotName(mem: AtomicMemory, index: number): string {
  const stored = mem.readBytes(slotOffset(index) + SLOT_NAME_OFFSET, SLOT_NAME_SIZE);
  const end = stored.indexOf(0);
  return utf8Decoder.decode(stored.subarray(0, end === -1 ? SLOT_NAME_SIZE : end));
}

/** Waits (spinning, bounded) until slot i's size is published; returns it. */
function awaitPublishedSize(mem: AtomicMemory, index: number, timeoutMs: number): number {
  const sizeOffset = slotValueSizeOffset(index);
  let size = mem.load16(sizeOffset);
  if (size !== 0) return size;
  const deadline = Date.now() + timeoutMs;
  for (let spins = 1; ; spins++) {
    size = mem.load16(sizeOffset);
    if (size !== 0) return size;
    // Reading the clock costs more than a load: look at it once every 1024 spins.
    if ((spins & 1023) === 0 && Date.now() > deadline) {
      throw new TldError(
        ProtocolErrorCode.SLOT_NEVER_PUBLISHED,
        `metadata slot ${index} was claimed but its creator did not publish a size within ${timeoutMs} ms: ` +
          'the thread that claimed it probably died between claiming and publishing; restart the process',
      );
    }
  }
}

function checkDataLimit(name: string, offset: number, size: number, dataLimit: number): void {
  if (offset + size > dataLimit) {
    throw new TldError(
      ProtocolErrorCode.BAD_LAYOUT,
      `key ${JSON.stringify(name)} would end at byte ${offset + size} of data[], but this thread's data page holds ` +
        `only ${dataLimit} bytes: the data page installed by other native code is smaller than the metadata page allows`,
    );
  }
}

/** Compare-exchange `cnt`, write the name, publish the size; false when another creator claimed slot i first. */
function claimSlot(mem: AtomicMemory, cnt: number, i: number, nameField: Uint8Array, size: number): boolean {
  if (mem.claimSlot) return mem.claimSlot(cnt, i, nameField, size);
  if (mem.compareExchange16(META_CNT_OFFSET, cnt, cnt + 1) !== cnt) return false;
  // The slot is ours: write the name, then publish the size (readers wait for size != 0).
  mem.writeBytes(slotOffset(i) + SLOT_NAME_OFFSET, nameField);
  mem.store16(slotValueSizeOffset(i), size);
  return true;
}

/**
 * Get or create the key `name` of `size` bytes (PROTOCOL.md §3). Returns the existing key when the name exists
 * with the same size. Throws TldError — NAME_*, SIZE_INVALID, SIZE_MISMATCH, TOO_BIG, NO_SPACE,
 * SLOT_NEVER_PUBLISHED, BAD_LAYOUT (past `dataLimit`) — and then leaves the page exactly as it found it.
 */
export function createKey(mem: AtomicMemory, name: string, size: number, options: KeyOptions = {}): CreatedKey {
  const layout = options.layout ?? layoutFor();
  const timeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  const dataLimit = options.dataLimit ?? Number.POSITIVE_INFINITY;
  const nameBytes = encodeKeyName(name);
  checkValueSize(size, layout);
  const rounded = roundUpValueSize(size);

  let offset = 0;
  for (let i = 0; i < layout.maxKeys; i++) {
    for (;;) {
      const cnt = mem.load16(META_CNT_OFFSET);
      if (i < cnt) {
        const existingSize = awaitPublishedSize(mem, i, timeoutMs);
        if (slotNameEquals(mem, i, nameBytes)) {
          if (existingSize !== size) {
            throw new TldError(
              ProtocolErrorCode.SIZE_MISMATCH,
              `key ${JSON.stringify(name)} already exists with size ${existingSize}, not ${size}: ` +
                'every thread and library in the process must create a key with the same size',
            );
          }
          checkDataLimit(name, offset, size, dataLimit);
          return { name, index: i, offset, size, created: false };
        }
        offset += roundUpValueSize(existingSize);
        break;
      }
      const available = mem.load16(META_SIZE_OFFSET);
      if (offset + rounded > available) {
        throw new TldError(
          ProtocolErrorCode.TOO_BIG,
          `key ${JSON.stringify(name)} needs ${rounded} bytes at offset ${offset}, but the metadata page leaves ` +
            `${available} bytes to dynamic keys: use a smaller value or fewer keys`,
        );
      }
      checkDataLimit(name, offset, size, dataLimit);
      const nameField = new Uint8Array(SLOT_NAME_SIZE);
      nameField.set(nameBytes);
      if (!claimSlot(mem, cnt, i, nameField, size)) continue; // lost the race: same i again
      return { name, index: i, offset, size, created: true };
    }
  }
  throw new TldError(
    ProtocolErrorCode.NO_SPACE,
    `no metadata slot left for key ${JSON.stringify(name)}: all ${layout.maxKeys} slots are taken; ` +
      'reuse existing keys instead of creating one per value',
  );
}

/**
 * The published keys in slot order. Stops at the first slot that is claimed but not yet published, since the
 * offsets of later slots depend on its size.
 */
export function listKeys(mem: AtomicMemory, layout: Layout = layoutFor()): KeyInfo[] {
  const cnt = Math.min(mem.load16(META_CNT_OFFSET), layout.maxKeys);
  const keys: KeyInfo[] = [];
  let offset = 0;
  for (let i = 0; i < cnt; i++) {
    const size = mem.load16(slotValueSizeOffset(i));
    if (size === 0) break;
    keys.push({ name: slotName(mem, i), index: i, offset, size });
    offset += roundUpValueSize(size);
  }
  return keys;
}

/** The published key called `name`, or undefined. */
export function findKey(mem: AtomicMemory, name: string, layout: Layout = layoutFor()): KeyInfo | undefined {
  encodeKeyName(name);
  return listKeys(mem, layout).find((key) => key.name === name);
}
