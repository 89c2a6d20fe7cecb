// What publishing OpenTelemetry's active span costs: context.with() of a context whose span differs from the
// active one, through @tld/otel's TldContextManager (a run() with otel.trace_id and otel.span_id around the wrapped
// manager's with()) against OpenTelemetry's AsyncLocalStorageContextManager alone, in one process. check() asks
// BPF, from inside a with(), for the span id, so a manager that published nothing would fail the trial: from the
// page by the page mechanism (Node 20), from the run's record header through the walk (Node 24+), where the span
// id is also the header's OTEP 4947 trace context.
import { ROOT_CONTEXT, type Context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TldContextManager } from '@tld/otel';
import { loadOtelHeaderReader } from '@tld/testkit';
import type { PairCase } from './pair.js';

// Four span contexts, so each with() changes the active span (the case run() exists for).
const CONTEXTS: readonly Context[] = Array.from({ length: 4 }, (_, i) =>
  trace.setSpan(
    ROOT_CONTEXT,
    trace.wrapSpanContext({
      traceId: `${(i + 1).toString(16).padStart(2, '0')}${'ab'.repeat(15)}`,
      spanId: `${(i + 1).toString(16).padStart(2, '0')}${'cd'.repeat(7)}`,
      traceFlags: 1,
    }),
  ),
);
const body = (): number => 1;
const IDS = CONTEXTS.map((ctx) => {
  const span = trace.getSpanContext(ctx);
  return {
    'otel.trace_id': Buffer.from(span?.traceId ?? '', 'hex'),
    'otel.span_id': Buffer.from(span?.spanId ?? '', 'hex'),
  };
});

export const CASES: readonly PairCase[] = [
  {
    id: 'otel span publish',
    candidate: 'context.with(span context) through TldContextManager (a run() with the trace and span ids)',
    baseline: 'context.with(span context) through AsyncLocalStorageContextManager alone',
    baselineName: 'otel context with',
    setup({ tld, reader }) {
      const plain = new AsyncLocalStorageContextManager().enable();
      const publishing = new TldContextManager(tld, new AsyncLocalStorageContextManager()).enable();
      // By the walk the page holds no run's values: read the record header instead, over the same map.
      const header = tld.asyncContext === 'walk' ? loadOtelHeaderReader({ map: { mapFd: reader.mapFd } }) : undefined;
      return {
        baseline: (n) => {
          let sum = 0;
          for (let i = 0; i < n; i++) sum += plain.with(CONTEXTS[i & 3] as Context, body);
          return sum;
        },
        candidate: (n) => {
          let sum = 0;
          for (let i = 0; i < n; i++) sum += publishing.with(CONTEXTS[i & 3] as Context, body);
          return sum;
        },
        check: () => {
          const want = trace.getSpanContext(CONTEXTS[2] as Context)?.spanId;
          const got =
            header === undefined
              ? publishing.with(CONTEXTS[2] as Context, () => {
                  const bytes = reader.read(['otel.span_id']).values['otel.span_id'];
                  return bytes === undefined ? 'nothing' : Buffer.from(bytes).toString('hex');
                })
              : publishing.with(CONTEXTS[2] as Context, () => header.read().spanId);
          if (got !== want) throw new Error(`otel.span_id: BPF read ${got}, expected ${want}`);
        },
        close: () => {
          plain.disable();
          publishing.disable();
          header?.close();
        },
      };
    },
  },
  {
    // What the manager adds to the run() it makes: the same run() and with() written out by hand as the baseline.
    id: 'otel span publish overhead',
    candidate: 'context.with(span context) through TldContextManager',
    baseline:
      'tld.run({ otel.trace_id, otel.span_id }, () => AsyncLocalStorageContextManager.with(span context)), ids decoded beforehand',
    baselineName: 'otel run and with',
    setup({ tld }) {
      const plain = new AsyncLocalStorageContextManager().enable();
      const publishing = new TldContextManager(tld, new AsyncLocalStorageContextManager()).enable();
      return {
        baseline: (n) => {
          let sum = 0;
          for (let i = 0; i < n; i++)
            sum += tld.run(IDS[i & 3] as (typeof IDS)[number], () => plain.with(CONTEXTS[i & 3] as Context, body));
          return sum;
        },
        candidate: (n) => {
          let sum = 0;
          for (let i = 0; i < n; i++) sum += publishing.with(CONTEXTS[i & 3] as Context, body);
          return sum;
        },
        close: () => {
          plain.disable();
          publishing.disable();
        },
      };
    },
  },
];
