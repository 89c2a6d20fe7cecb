// Run by header.test.ts on each Node.js whose run() takes the async-context walk: what an OpenTelemetry profiler
// reading OTEP 4947 records sees of this thread. At each checkpoint the BPF program tld_read_otel_header walks from
// the thread to its current run's record and reads the record's lead-in (trace id, span id, valid, trace flags,
// attrs-data size). Prints one JSON line: for every checkpoint, what it read and what the active span says.
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOffSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { loadOtelHeaderReader } from '@tld/testkit';
import { TaskLocalData } from '@tld/userspace';
import { TldContextManager } from '../dist/index.js';

const reader = loadOtelHeaderReader({ map: 'private' });
const tld = TaskLocalData.open({ mapFd: reader.mapFd });
const route = tld.string('route', 32);
context.setGlobalContextManager(new TldContextManager(tld, new AsyncLocalStorageContextManager()).enable());
trace.setGlobalTracerProvider(new BasicTracerProvider());
const tracer = trace.getTracer('header');
const unsampled = new BasicTracerProvider({ sampler: new AlwaysOffSampler() }).getTracer('unsampled');

/** What a reader of the record header finds now. */
function header() {
  const { walk, traceId, spanId, valid, traceFlags, attrsDataSize } = reader.read();
  return { walk, traceId, spanId, valid, traceFlags, attrsDataSize };
}

/** What it must find while `span` is active: a valid record with its ids and flags, no attributes. */
function of(/** @type {import('@opentelemetry/api').Span} */ span) {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { walk: 'record', traceId, spanId, valid: 1, traceFlags, attrsDataSize: 0 };
}

const NO_RECORD = {
  walk: 'none',
  traceId: '0'.repeat(32),
  spanId: '0'.repeat(16),
  valid: 0,
  traceFlags: 0,
  attrsDataSize: 0,
};
const NO_SPAN = { ...NO_RECORD, walk: 'record', valid: 1 };

/** @type {Record<string, { want: unknown, got: unknown }[]>} */
const checks = {};
const check = (/** @type {string} */ name, /** @type {unknown} */ want) => {
  (checks[name] ??= []).push({ want, got: header() });
};

check('before any span', NO_RECORD);

// Interleaved traces, each with a child span: nested spans and the parent again after its child ended.
await Promise.all(
  Array.from({ length: 16 }, (_, i) =>
    tracer.startActiveSpan(`trace ${i}`, async (root) => {
      check('interleaved', of(root));
      await sleep(i % 5);
      check('interleaved', of(root));
      await tracer.startActiveSpan('child', async (child) => {
        check('interleaved', of(child));
        await new Promise((resolve) => setImmediate(resolve));
        check('interleaved', of(child));
        child.end();
      });
      check('interleaved', of(root));
      root.end();
    }),
  ),
);
check('after every span ended', NO_RECORD);

// A span ends with its function; a timer it left behind fires afterwards in the span's async context, where the
// record is no longer valid: the walk finds it and refuses it (-ESTALE), so the ended span's ids are never read.
/** @type {Promise<unknown>} */
let leftBehind = Promise.resolve();
tracer.startActiveSpan('ends first', (span) => {
  leftBehind = sleep(5).then(header);
  span.end();
});
(checks['timer after its span ended'] ??= []).push({ want: { ...NO_RECORD, walk: -116 }, got: await leftBehind });

// Inside a span: a context without a span shows none active (a valid record, zero ids); back, the span again.
tracer.startActiveSpan('outer', (span) => {
  context.with(ROOT_CONTEXT, () => check('root context inside a span', NO_SPAN));
  check('root context inside a span', of(span));
  span.end();
});

// A request's own run() inside a span keeps the span's trace context; a span inside a request's run() has its own.
await tracer.startActiveSpan('around a request', async (span) => {
  await tld.run({ route: '/inner' }, async () => {
    await sleep(1);
    check('run inside a span', of(span));
  });
  span.end();
});
await tld.run({ route: '/outer' }, async () => {
  check('span inside a run', NO_SPAN);
  await tracer.startActiveSpan('inside a request', async (span) => {
    await sleep(1);
    check('span inside a run', of(span));
    span.end();
  });
  check('span inside a run', NO_SPAN);
});

// A span the sampler dropped still has ids; its flags say not sampled (0).
await unsampled.startActiveSpan('dropped', async (span) => {
  await sleep(1);
  check('unsampled span', { ...of(span), traceFlags: 0 });
  span.end();
});

route.set('idle');
console.log(JSON.stringify({ asyncContext: tld.asyncContext, checks }));
context.disable();
tld.close();
reader.close();
