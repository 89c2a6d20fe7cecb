// OpenTelemetry → task local data: while a span is active, its trace id and span id are values of the current
// run(), so a BPF profiler reading the thread can join its samples with traces. By the async-context walk they are
// also the run's trace context, the OTEP 4947 lead-in of its record's header, for profilers that read OTEP records.
//
// Why a ContextManager: every way a span becomes active (context.with, tracer.startActiveSpan, context.bind of a
// function) goes through the global context manager's with(), and nothing else sees a span being entered; a
// SpanProcessor's onStart runs before the span is active and never learns when async continuations resume it. The
// manager wraps the one the application uses (OpenTelemetry's AsyncLocalStorageContextManager or its own) and
// only adds a run() when the active span changes; the wrapped manager still decides what context is active.
import { type Context, type ContextManager, type SpanContext, trace } from '@opentelemetry/api';
import { type BytesKey, type TaskLocalData, TraceContext } from '@tld/userspace';

/** Key names and sizes: the W3C trace id (16 bytes) and span id (8 bytes), in their wire (big-endian) order. */
export const TRACE_ID_KEY = Object.freeze({ name: 'otel.trace_id', size: 16 });
export const SPAN_ID_KEY = Object.freeze({ name: 'otel.span_id', size: 8 });

export interface TldContextManagerOptions {
  /** Key for the trace id. Default `tld.bytes('otel.trace_id', 16)`. */
  readonly traceIdKey?: BytesKey;
  /** Key for the span id. Default `tld.bytes('otel.span_id', 8)`. */
  readonly spanIdKey?: BytesKey;
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Writes the bytes of the hex string `hex` into `into` (its length); zeros when `hex` is not that much hex. */
function hexInto(hex: string, into: Uint8Array): Uint8Array {
  if (hex.length !== into.length * 2) return into.fill(0);
  for (let i = 0; i < into.length; i++) {
    const hi = HEX[hex.charCodeAt(2 * i) & 127] as number;
    const lo = HEX[hex.charCodeAt(2 * i + 1) & 127] as number;
    if (hi < 0 || lo < 0) return into.fill(0);
    into[i] = (hi << 4) | lo;
  }
  return into;
}

/** The span context of `ctx`, or undefined when it has none (an invalid one publishes as zeros, see hexInto). */
function spanOf(ctx: Context): SpanContext | undefined {
  return trace.getSpanContext(ctx);
}

/** What publishes one span: the run() values, and the trace context for the record header (the walk's). */
interface Publish {
  readonly values: Readonly<Record<string, Uint8Array>>;
  readonly trace: TraceContext;
}

/** The W3C trace flags byte of `span` (0 for anything that is not one: a span context from elsewhere may lie). */
function traceFlagsOf(span: SpanContext): number {
  const flags = span.traceFlags;
  return Number.isInteger(flags) && flags >= 0 && flags <= 0xff ? flags : 0;
}

/**
 * A ContextManager that publishes the active span's ids: `context.with(ctx, fn)` runs `fn` inside
 * `tld.run({ 'otel.trace_id', 'otel.span_id' }, ..., traceContext)` when `ctx`'s span differs from the active one
 * (zeros and TraceContext.NONE for a context without a valid span), and simply delegates when it does not.
 * Everything else is the wrapped manager's.
 * Throws TypeError (ERR_INVALID_ARG_TYPE) for a `tld` or `inner` of the wrong shape, and the TldErrors of key
 * creation.
 */
export class TldContextManager implements ContextManager {
  readonly #tld: TaskLocalData;
  readonly #inner: ContextManager;
  readonly #traceName: string;
  readonly #spanName: string;
  /** What publishes each span context seen, encoded once (a span is often activated more than once). */
  readonly #published = new WeakMap<SpanContext, Publish>();
  readonly #none: Publish;

  constructor(tld: TaskLocalData, inner: ContextManager, options: TldContextManagerOptions = {}) {
    if (tld === null || typeof tld !== 'object' || typeof (tld as Partial<TaskLocalData>).run !== 'function') {
      throw argError('new TldContextManager(tld, inner): tld must be a TaskLocalData (TaskLocalData.open())');
    }
    if (inner === null || typeof inner !== 'object' || typeof (inner as Partial<ContextManager>).with !== 'function') {
      throw argError(
        'new TldContextManager(tld, inner): inner must be a ContextManager, e.g. new AsyncLocalStorageContextManager()',
      );
    }
    this.#tld = tld;
    this.#inner = inner;
    const traceKey = options.traceIdKey ?? tld.bytes(TRACE_ID_KEY.name, TRACE_ID_KEY.size);
    const spanKey = options.spanIdKey ?? tld.bytes(SPAN_ID_KEY.name, SPAN_ID_KEY.size);
    if (traceKey.size !== 16 || spanKey.size !== 8) {
      throw Object.assign(
        new RangeError(
          `TldContextManager: the trace id key must have 16 bytes and the span id key 8, got ${traceKey.size} and ${spanKey.size}`,
        ),
        { code: 'ERR_OUT_OF_RANGE' },
      );
    }
    this.#traceName = traceKey.name;
    this.#spanName = spanKey.name;
    this.#none = Object.freeze({
      values: Object.freeze({ [this.#traceName]: new Uint8Array(16), [this.#spanName]: new Uint8Array(8) }),
      trace: TraceContext.NONE,
    });
  }

  /** What publishes `span` (zeros and no trace for none, or for ids that are not valid W3C ids). */
  #publishOf(span: SpanContext | undefined): Publish {
    if (span === undefined) return this.#none;
    let publish = this.#published.get(span);
    if (publish === undefined) {
      const traceId = hexInto(span.traceId, new Uint8Array(16));
      const spanId = hexInto(span.spanId, new Uint8Array(8));
      // All-zero ids are OpenTelemetry's invalid span: publish none, as for a context without a span.
      publish =
        traceId.some((b) => b !== 0) && spanId.some((b) => b !== 0)
          ? Object.freeze({
              values: Object.freeze({ [this.#traceName]: traceId, [this.#spanName]: spanId }),
              trace: TraceContext.from(traceId, spanId, traceFlagsOf(span)),
            })
          : this.#none;
      this.#published.set(span, publish);
    }
    return publish;
  }

  active(): Context {
    return this.#inner.active();
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const next = this.#publishOf(spanOf(context));
    if (next === this.#publishOf(spanOf(this.#inner.active()))) return this.#inner.with(context, fn, thisArg, ...args);
    return this.#tld.run(next.values, () => this.#inner.with(context, fn, thisArg, ...args), next.trace);
  }

  /**
   * Functions are bound through this manager's with() (the wrapped manager's bind would call its own with() and
   * skip the publishing); anything else (an EventEmitter) is the wrapped manager's to bind.
   */
  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return this.#inner.bind(context, target);
    const fn = target as (...args: unknown[]) => unknown;
    const call = (self: unknown, args: unknown[]): unknown => this.with(context, () => fn.apply(self, args));
    const bound = function (this: unknown, ...args: unknown[]): unknown {
      return call(this, args);
    };
    Object.defineProperty(bound, 'length', { value: fn.length });
    return bound as T;
  }

  enable(): this {
    this.#inner.enable();
    return this;
  }

  disable(): this {
    this.#inner.disable();
    return this;
  }
}

function argError(message: string): TypeError & { code: string } {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}
