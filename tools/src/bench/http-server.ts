// The loopback HTTP server of the service benchmark (cases-http.ts). Each request awaits twice before it answers.
// Server `tld` opens task local data and switches between phases on request of its parent: in phase `none` the
// handler leaves it alone, in phase `set` it sets req_id and route per request, so the two are compared in one
// process (same JIT state, same heap). The other servers run every handler through one per-request wrapper
// (http-shared.ts Wrapper), each in processes of its own: run() installs its async hooks for good.
// Usage (from cases-http.ts, with an IPC channel): node http-server.js <tld|none|run|als|hooks> [pin]
// With a pin, the map is the one pinned there (a profiler in another process reads it); else a private one.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeString, decodeU64 } from '@tld/protocol';
import { type Reader, loadReader } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import { listenLoopback } from '../http/listen.js';
import { type Phase, ROUTES, type ServerCheck, type ServerKind, WRAPPERS, type Wrapper } from './http-shared.js';

function isKind(arg: string | undefined): arg is ServerKind {
  return arg === 'tld' || WRAPPERS.some((w) => w === arg);
}
const kind = process.argv[2];
const pin = process.argv[3];
if (!isKind(kind) || !process.send) throw new Error(`usage: http-server.js <tld|${WRAPPERS.join('|')}> (forked)`);

const routeOf = (url: string | undefined): string => ROUTES[(url ?? '/').split('/')[1] ?? ''] ?? '/';
let requests = 0;
let phase: Phase = 'none';

async function answer(res: ServerResponse): Promise<void> {
  await Promise.resolve(); // stands for the awaits of real work (a cache, a database)
  await Promise.resolve();
  res.end('ok');
}

/** The values a request publishes. */
type RequestValues = Readonly<{ req_id: bigint; route: string }>;
type Handle = (values: RequestValues, answer: () => Promise<void>) => void;

let reader: Reader | undefined;
let tld: TaskLocalData | undefined;
/** Opens task local data with the two keys (servers tld, run, hooks). */
function openTld(): TaskLocalData {
  reader = loadReader({ map: pin ? { pinPath: pin } : 'private' });
  // The page mechanism: the check below reads the page (the walk is measured by cases-context.ts).
  tld = TaskLocalData.open({ mapFd: reader.mapFd, asyncContext: 'page' });
  return tld;
}

/** How each Wrapper runs a request's handler. */
const WRAPPER_HANDLES: Record<Wrapper, () => Handle> = {
  none: () => (_values, answer) => void answer(),
  run: () => {
    const session = openTld();
    session.u64('req_id');
    session.string('route', 32, { truncate: true });
    return (values, answer) => void session.run(values, answer);
  },
  als: () => {
    const als = new AsyncLocalStorage<RequestValues>();
    return (values, answer) => void als.run(values, answer);
  },
  hooks: () => {
    const session = openTld();
    session.u64('req_id');
    session.run({ req_id: 0n }, () => undefined); // installs run()'s hooks for good
    return (_values, answer) => void answer();
  },
};

let handler: (req: IncomingMessage, res: ServerResponse) => void;
if (kind === 'tld') {
  const session = openTld();
  const reqId = session.u64('req_id');
  const route = session.string('route', 32, { truncate: true });
  handler = (req, res) => {
    requests++;
    if (phase === 'set') {
      reqId.set(BigInt(requests));
      route.set(routeOf(req.url));
    }
    void answer(res);
  };
} else {
  const handle = WRAPPER_HANDLES[kind]();
  handler = (req, res) => {
    requests++;
    handle({ req_id: BigInt(requests), route: routeOf(req.url) }, () => answer(res));
  };
}

const server = await listenLoopback(handler);
process.send({ type: 'listening', port: server.port });
let cpuMark = process.cpuUsage();
let requestsMark = 0;
process.on('message', (m: { type: string; phase?: Phase }) => {
  if (m.type === 'mark') {
    // A measured load starts: the phase changes, and CPU time and requests count from here.
    phase = m.phase ?? 'none';
    cpuMark = process.cpuUsage();
    requestsMark = requests;
    process.send?.({ type: 'marked' });
  } else if (m.type === 'usage') {
    const cpu = process.cpuUsage(cpuMark);
    process.send?.({ type: 'usage', cpuUs: cpu.user + cpu.system, requests: requests - requestsMark });
  } else if (m.type === 'check') {
    // Server `tld` keeps the last request's values in the page. Server `run` holds the thread's own values between
    // requests, so BPF reads there from inside a run() of one more request's values.
    const read = () => reader?.read(['req_id', 'route']);
    const seen =
      kind === 'run' && tld ? tld.run({ req_id: BigInt(requests + 1), route: routeOf('/users/1') }, read) : read();
    const check: ServerCheck = {
      reqId: seen?.values['req_id'] ? String(decodeU64(seen.values['req_id'])) : null,
      route: seen?.values['route'] ? decodeString(seen.values['route']) : null,
      requests,
    };
    process.send?.({ type: 'check', check });
  } else if (m.type === 'stop') {
    void server.close().then(() => {
      tld?.close();
      reader?.close();
      process.disconnect();
    });
  }
});
