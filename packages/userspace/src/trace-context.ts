// The OpenTelemetry trace context a run() publishes in its record's header (PROTOCOL.md §8): the lead-in of OTEP
// 4947's Thread-Local Context Record (trace id, span id, trace flags), so that a profiler reading OTEP records
// through the walk sees the active span. Checked and encoded once, when made; run() only copies words.
import { CTX_RECORD } from '@tld/protocol';
import { checkUint8Array } from './key-values.js';
import { invalidArgType, invalidArgValue, outOfRange } from './errors.js';

const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;

// The header's trace fields as 32-bit word indexes, and the flags byte.
const TRACE_ID_WORD = CTX_RECORD.TRACE_ID >>> 2;
const SPAN_ID_WORD = CTX_RECORD.SPAN_ID >>> 2;
const TRACE_FLAGS = CTX_RECORD.TRACE_FLAGS;

/**
 * A W3C trace context for run(): `run(values, fn, trace)` writes it into the run's record header, where readers
 * of OTEP 4947 records find it. `TraceContext.NONE` says no span is active; a run given no trace context keeps
 * the enclosing run's. Immutable; make one per span and reuse it.
 */
export class TraceContext {
  /** No active span: zero ids and flags (OTEP 4947's "none active"). */
  static readonly NONE: TraceContext = new TraceContext(new Int32Array(7));

  /**
   * The ids as 32-bit words whose memory order is the bytes as given (trace id 4, span id 2), then the flags: what
   * a run stores. Int32 words copy without conversions (measured: a third of what an array of numbers costs).
   */
  readonly #words: Int32Array;

  private constructor(words: Int32Array) {
    this.#words = words;
  }

  /**
   * @internal Writes the trace fields into the fresh record header at 32-bit word `at` of `i32` (`u8` views the
   * same memory).
   */
  writeHeader(i32: Int32Array, u8: Uint8Array, at: number): void {
    const words = this.#words;
    i32[at + TRACE_ID_WORD] = words[0] as number;
    i32[at + TRACE_ID_WORD + 1] = words[1] as number;
    i32[at + TRACE_ID_WORD + 2] = words[2] as number;
    i32[at + TRACE_ID_WORD + 3] = words[3] as number;
    i32[at + SPAN_ID_WORD] = words[4] as number;
    i32[at + SPAN_ID_WORD + 1] = words[5] as number;
    u8[4 * at + TRACE_FLAGS] = words[6] as number;
  }

  /**
   * A trace context of `traceId` (16 bytes) and `spanId` (8 bytes) in W3C (wire) order and the W3C `traceFlags`
   * byte. Both ids zero with flags 0 is `TraceContext.NONE`. Throws TypeError ERR_INVALID_ARG_TYPE for an id that is
   * not a Uint8Array or flags that are not a number, ERR_OUT_OF_RANGE for an id of another length or flags outside
   * 0…255, and ERR_INVALID_ARG_VALUE for one id zero and the other not, or flags without ids (OTEP 4947 allows
   * neither).
   */
  static from(traceId: Uint8Array, spanId: Uint8Array, traceFlags = 0): TraceContext {
    checkId(traceId, 'traceId', TRACE_ID_BYTES);
    checkId(spanId, 'spanId', SPAN_ID_BYTES);
    if (typeof traceFlags !== 'number') {
      throw invalidArgType(`TraceContext.from(): traceFlags must be a number, got ${typeof traceFlags}`);
    }
    if (!Number.isInteger(traceFlags) || traceFlags < 0 || traceFlags > 0xff) {
      throw outOfRange(`TraceContext.from(): traceFlags must be an integer from 0 to 255, got ${traceFlags}`);
    }
    const traceSet = anySet(traceId, TRACE_ID_BYTES);
    const spanSet = anySet(spanId, SPAN_ID_BYTES);
    if (traceSet !== spanSet) {
      throw invalidArgValue(
        `TraceContext.from(): the ${traceSet ? 'span' : 'trace'} id is all zeros but the other is not: give both ` +
          'ids of a span, or neither (TraceContext.NONE)',
      );
    }
    if (!traceSet) {
      if (traceFlags !== 0) {
        throw invalidArgValue('TraceContext.from(): trace flags without ids: the flags of no span are 0');
      }
      return TraceContext.NONE;
    }
    return new TraceContext(
      Int32Array.of(
        word(traceId, 0),
        word(traceId, 4),
        word(traceId, 8),
        word(traceId, 12),
        word(spanId, 0),
        word(spanId, 4),
        traceFlags,
      ),
    );
  }
}

function checkId(value: unknown, what: string, size: number): void {
  const length = checkUint8Array(value, `TraceContext.from(): ${what}`);
  if (length !== size) throw outOfRange(`TraceContext.from(): ${what} must have ${size} bytes, got ${length}`);
}

/** Whether any of the first `size` bytes is not zero (indexed reads: a subclass cannot override them). */
function anySet(bytes: Uint8Array, size: number): boolean {
  for (let i = 0; i < size; i++) if (bytes[i] !== 0) return true;
  return false;
}

/** The int32 whose little-endian bytes are bytes[at..at+4]: stored as a word, memory holds the bytes in order. */
function word(bytes: Uint8Array, at: number): number {
  return (
    (bytes[at] as number) |
    ((bytes[at + 1] as number) << 8) |
    ((bytes[at + 2] as number) << 16) |
    ((bytes[at + 3] as number) << 24)
  );
}
