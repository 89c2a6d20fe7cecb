// Reading a value's bytes without knowing its type: the protocol stores names and sizes, not types. Every reading
// that fits the size is given (for --json); `text` picks the likeliest for people.
import { decodeF64, decodeI64, decodeString, decodeU32, decodeU64 } from '@tld/protocol';

export interface ValueReadings {
  /** Every byte, as stored (little-endian for numbers). */
  readonly hex: string;
  /** Unsigned integer of a 1-, 2-, 4- or 8-byte value, in decimal (a string: 64 bits do not fit a JSON number). */
  readonly uint?: string;
  /** Signed integer of the same. */
  readonly int?: string;
  /** float64 of an 8-byte value, when finite. */
  readonly float?: number;
  /** UTF-8 text up to a NUL, when the bytes are printable text padded with zeros. */
  readonly string?: string;
  /**
   * The likeliest reading: a string (for a 1-8 byte value only when at least 4 characters; "" for an all-zero value
   * of another size, a string never set), an integer (signed when within ±2^53), a float64 between 1e-12 and 1e15
   * in magnitude, else the unsigned integer or hex.
   */
  readonly text: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Printable UTF-8 followed by NUL padding (what StringKey stores), else undefined. All zeros is the empty string: a
 * string key created but never set.
 */
function asString(bytes: Uint8Array): string | undefined {
  const nul = bytes.indexOf(0);
  if (nul < 0 || bytes.subarray(nul).some((b) => b !== 0)) return undefined;
  let text: string;
  try {
    text = utf8.decode(bytes.subarray(0, nul));
  } catch {
    return undefined;
  }
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(text) ? undefined : decodeString(bytes);
}

function integers(bytes: Uint8Array): { uint: bigint; int: bigint } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes.length) {
    case 1:
      return { uint: BigInt(view.getUint8(0)), int: BigInt(view.getInt8(0)) };
    case 2:
      return { uint: BigInt(view.getUint16(0, true)), int: BigInt(view.getInt16(0, true)) };
    case 4:
      return { uint: BigInt(decodeU32(bytes)), int: BigInt(view.getInt32(0, true)) };
    case 8:
      return { uint: decodeU64(bytes), int: decodeI64(bytes) };
    default:
      return undefined;
  }
}

const SAFE = 2n ** 53n;

/** A float64 bit pattern that holds an everyday number rather than a large integer's bytes. */
function plausibleFloat(value: number): boolean {
  const magnitude = Math.abs(value);
  return Number.isFinite(value) && magnitude >= 1e-12 && magnitude <= 1e15;
}

/** Every reading of one value's bytes. */
export function readValue(bytes: Uint8Array): ValueReadings {
  const hex = Buffer.from(bytes).toString('hex');
  const ints = integers(bytes);
  const float = bytes.length === 8 ? decodeF64(bytes) : undefined;
  const string = asString(bytes);
  let text: string;
  if (string !== undefined && (ints === undefined || string.length >= 4)) text = JSON.stringify(string);
  else if (ints && bytes.length < 8) text = ints.uint.toString();
  else if (ints && ints.int > -SAFE && ints.int < SAFE) text = ints.int.toString();
  else if (float !== undefined && plausibleFloat(float)) text = String(float);
  else if (ints) text = ints.uint.toString();
  else text = `0x${hex}`;
  return {
    hex,
    ...(ints ? { uint: ints.uint.toString(), int: ints.int.toString() } : {}),
    ...(float !== undefined && Number.isFinite(float) ? { float } : {}),
    ...(string !== undefined ? { string } : {}),
    text,
  };
}
