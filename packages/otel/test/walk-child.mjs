// Run by walk.test.ts on Node.js 24+ where run() takes the async-context walk: 16 interleaved traces, each with a
// child span, and at five points of each the task iterator (tld_get_context_data_task: the walk from this thread
// to its running context's record, what `tld dump` shows) must read the active span's ids from that record.
// Prints one JSON line.
import { setTimeout as sleep } from 'node:timers/promises';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { loadTaskIterator } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import { printWalkReport } from '@tld/testkit';
import { TldContextManager } from '../dist/index.js';

const iter = loadTaskIterator({ map: 'private' });
const tld = TaskLocalData.open({ mapFd: iter.mapFd });
context.setGlobalContextManager(new TldContextManager(tld, new AsyncLocalStorageContextManager()).enable());
trace.setGlobalTracerProvider(new BasicTracerProvider());
const tracer = trace.getTracer('walk');

/** What BPF reads of this thread's otel keys through the walk: hex ids and where they came from. */
function seen() {
  const me = iter.readTasks({ pid: process.pid }).find((task) => task.tid === process.pid);
  /** @param {string} name */
  const key = (name) => me?.keys.find((k) => k.name === name)?.context;
  const hex = (/** @type {Uint8Array | undefined} */ v) =>
    v === undefined ? undefined : Buffer.from(v).toString('hex');
  const traceId = key('otel.trace_id');
  return { trace: hex(traceId?.value), span: hex(key('otel.span_id')?.value), from: traceId?.from };
}

/** @type {unknown[]} */
const mismatches = [];
let readings = 0;
/** @param {import('@opentelemetry/api').Span} span */
const check = (span) => {
  const want = { trace: span.spanContext().traceId, span: span.spanContext().spanId, from: 'context' };
  const got = seen();
  readings += 1;
  if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ want, got });
};
await Promise.all(
  Array.from({ length: 16 }, (_, i) =>
    tracer.startActiveSpan(`trace ${i}`, async (root) => {
      check(root);
      await sleep(i % 5);
      check(root);
      await tracer.startActiveSpan('child', async (child) => {
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
printWalkReport(tld.asyncContext, readings, mismatches, { outside: seen() });
context.disable();
tld.close();
iter.close();
