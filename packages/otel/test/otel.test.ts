// The context manager against @opentelemetry/api and sdk-trace-base on the real kernel: inside every active span
// the BPF program tld_read (BPF_PROG_TEST_RUN on this thread) reads that span's trace id and span id, across
// awaits while other traces interleave, in nested spans and back, in functions bound with context.bind, and
// merged with a request's own run() values.
import { setTimeout as sleep } from 'node:timers/promises';
import { INVALID_SPAN_CONTEXT, type Span, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskLocalData } from '@tld/userspace';
import { type Reader, loadReader } from '@tld/bpf-programs';
import { bpfSupport } from '@tld/testkit';
import { TldContextManager } from '../src/index.js';

const support = bpfSupport();
const NO_TRACE = '0'.repeat(32);
const NO_SPAN = '0'.repeat(16);

const hex = (bytes: Uint8Array | undefined): string | undefined =>
  bytes === undefined ? undefined : Buffer.from(bytes).toString('hex');

describe.skipIf(!support.supported)("TldContextManager: BPF reads the active span's ids", () => {
  let reader: Reader;
  let tld: TaskLocalData;
  let manager: TldContextManager;
  const tracer = () => trace.getTracer('tld-test');

  /** What BPF reads on this thread now. */
  const seen = (): { trace: string | undefined; span: string | undefined; route: string | undefined } => {
    const { values } = reader.read(['otel.trace_id', 'otel.span_id', 'route']);
    const route = values['route'];
    return {
      trace: hex(values['otel.trace_id']),
      span: hex(values['otel.span_id']),
      route: route && Buffer.from(route).toString().replace(/\0+$/, ''),
    };
  };
  const ids = (span: Span, route = 'idle') => ({
    trace: span.spanContext().traceId,
    span: span.spanContext().spanId,
    route,
  });

  beforeAll(() => {
    reader = loadReader({ map: 'private' });
    tld = TaskLocalData.open({ mapFd: reader.mapFd });
    tld.string('route', 32).set('idle');
    manager = new TldContextManager(tld, new AsyncLocalStorageContextManager());
    context.setGlobalContextManager(manager.enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider());
  });
  afterAll(() => {
    context.disable();
    trace.disable();
    tld?.close();
    reader?.close();
  });

  it("32 interleaved traces with a child span each: every reading is the active span's ids", async () => {
    const readings: { want: unknown; got: unknown }[] = [];
    const check = (span: Span, route?: string) => readings.push({ want: ids(span, route), got: seen() });
    await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        tracer().startActiveSpan(`trace ${i}`, async (root) => {
          check(root);
          await sleep(i % 5);
          check(root);
          await tracer().startActiveSpan('child', async (child) => {
            check(child);
            await new Promise((resolve) => setImmediate(resolve));
            check(child);
            child.end();
          });
          check(root);
          root.end();
        }),
      ),
    );
    expect(readings).toHaveLength(32 * 5);
    expect(new Set(readings.map((r) => (r.got as { span: string }).span)).size).toBe(64);
    for (const { want, got } of readings) expect(got).toEqual(want);
    // Outside every span: no trace (the thread's own values, zero).
    expect(seen()).toEqual({ trace: NO_TRACE, span: NO_SPAN, route: 'idle' });
  });

  it("inside a request's run(), a span adds its ids to the request's values; a context without a (valid) span clears them", async () => {
    await tld.run({ route: '/users/:id' }, async () => {
      await tracer().startActiveSpan('handler', async (span) => {
        await sleep(1);
        expect(seen()).toEqual(ids(span, '/users/:id'));
        context.with(trace.deleteSpan(context.active()), () => {
          expect(seen()).toEqual({ trace: NO_TRACE, span: NO_SPAN, route: '/users/:id' });
        });
        // OpenTelemetry's invalid span (all-zero ids, what a non-sampling setup may put in a context) publishes none.
        context.with(trace.setSpan(context.active(), trace.wrapSpanContext(INVALID_SPAN_CONTEXT)), () => {
          expect(seen()).toEqual({ trace: NO_TRACE, span: NO_SPAN, route: '/users/:id' });
        });
        span.end();
      });
      expect(seen()).toEqual({ trace: NO_TRACE, span: NO_SPAN, route: '/users/:id' });
    });
  });

  it("a function bound with context.bind runs with the bound span's ids wherever it is called", async () => {
    const span = tracer().startSpan('bound');
    const bound = context.bind(trace.setSpan(context.active(), span), () => seen());
    await sleep(1);
    expect(bound()).toEqual(ids(span));
    expect(seen()).toEqual({ trace: NO_TRACE, span: NO_SPAN, route: 'idle' });
    span.end();
  });

  it('bad arguments throw a coded TypeError', () => {
    expect(() => new TldContextManager({} as never, new AsyncLocalStorageContextManager())).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => new TldContextManager(tld, {} as never)).toThrow(/inner must be a ContextManager/);
  });
});
