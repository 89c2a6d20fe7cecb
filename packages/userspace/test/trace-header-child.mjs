// Child of trace-context.test.ts, run on a Node.js whose run() takes the async-context walk: at each checkpoint the
// BPF program tld_read_otel_header (@tld/testkit) walks from this thread to its current run's record and reads the
// OTEP 4947 lead-in of its header. Prints one JSON line: every checkpoint's name, what it read, what it should.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadOtelHeaderReader } from '@tld/testkit';
import { TaskLocalData, TraceContext } from '../dist/index.js';

const reader = loadOtelHeaderReader({ map: 'private' });
const tld = TaskLocalData.open({ mapFd: reader.mapFd, asyncContext: 'walk' });
const reqId = tld.u64('req_id');

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
const A = { traceId: '0102030405060708090a0b0c0d0e0f10', spanId: 'a1a2a3a4a5a6a7a8', traceFlags: 1 };
const B = { traceId: 'f0e0d0c0b0a090807060504030201000', spanId: '0000000000000b01', traceFlags: 3 };
const traceOf = (/** @type {typeof A} */ ids) =>
  TraceContext.from(Buffer.from(ids.traceId, 'hex'), Buffer.from(ids.spanId, 'hex'), ids.traceFlags);

/** A live record carrying `ids` (zeros: a run without a trace context). */
const live = (/** @type {typeof A | undefined} */ ids) => ({
  walk: 'record',
  traceId: ids?.traceId ?? ZERO_TRACE,
  spanId: ids?.spanId ?? ZERO_SPAN,
  valid: 1,
  traceFlags: ids?.traceFlags ?? 0,
  attrsDataSize: 0,
});
const noRecord = (/** @type {'none' | number} */ walk) => ({
  walk,
  traceId: ZERO_TRACE,
  spanId: ZERO_SPAN,
  valid: 0,
  traceFlags: 0,
  attrsDataSize: 0,
});

/** @type {{ name: string, want: unknown, got: unknown }[]} */
const checks = [];
const check = (/** @type {string} */ name, /** @type {unknown} */ want) => {
  const { walk, traceId, spanId, valid, traceFlags, attrsDataSize } = reader.read();
  checks.push({ name, want, got: { walk, traceId, spanId, valid, traceFlags, attrsDataSize } });
};

check('outside any run', noRecord('none'));
tld.run(
  { req_id: 1n },
  () => {
    check('a run given a trace context', live(A));
    reqId.set(2n); // a set() in the run (its seqlock) leaves the header's trace context as it was
    check('after set() in the run', live(A));
    tld.run({ req_id: 3n }, () => check('a nested run without one keeps the enclosing one', live(A)));
    tld.run({ req_id: 4n }, () => check('a nested run with another has that one', live(B)), traceOf(B));
    tld.run({ req_id: 5n }, () => check('TraceContext.NONE: none active', live(undefined)), TraceContext.NONE);
    check('back in the run', live(A));
    let called = false;
    try {
      tld.run({ req_id: 6n }, () => (called = true), /** @type {never} */ ({ words: [1, 2, 3, 4, 5, 6, 1] }));
    } catch (error) {
      checks.push({
        name: 'a trace that is not a TraceContext',
        want: 'ERR_INVALID_ARG_TYPE, fn not called',
        got: `${/** @type {{ code?: string }} */ (error).code}, fn ${called ? 'called' : 'not called'}`,
      });
    }
    check('after the refused run', live(A));
  },
  traceOf(A),
);
check('after the run', noRecord('none'));
tld.run({ req_id: 7n }, () => check('a run without a trace context', live(undefined)));

/** @type {Promise<void>} */
let leftBehind = Promise.resolve();
await tld.run(
  { req_id: 8n },
  async () => {
    await sleep(1);
    check('after an await', live(B));
    leftBehind = sleep(5).then(() => check('a timer that fires after its run ended (ESTALE)', noRecord(-116)));
  },
  traceOf(B),
);
await leftBehind;

console.log(JSON.stringify({ asyncContext: tld.asyncContext, checks }));
tld.close();
reader.close();
