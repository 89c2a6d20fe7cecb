// The loopback HTTP server of the service benchmark (cases-http.ts). Each request awaits twice before it answers.
// Server `tld` opens task local data and switches between phases on request of its parent: in phase `none` the
// handler leaves it alone, in phase `set` it sets req_id and route per request, so the two are compared in one
// process (same JIT state, same heap). Server `none` has no task local data at all; server `run` (when
// TaskLocalData has run()) runs every handler in tld.run({ req_id, route }, ...): run() installs its async hooks for
// good, so it gets processes of its own, compared with `none` ones.
// Usage (from cases-http.ts, with an IPC channel): node http-server.js <tld|none|run> [pin]
// With a pin, the map is the one pinned there (a profiler in another process reads it); else a private one.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeString, decodeU64 } from '@tld/protocol';
import { type Reader, loadReader } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import { type Phase, ROUTES, type ServerCheck, type ServerKind } from './http-shared.js';

/** tld.run() of the async-context work, when present (feature-detected, not assumed). */
type RunFn = (values: Record<string, unknown>, fn: () => Promise<void>) => Promise<void>;

const kind = process.argv[2] as ServerKind;
const pin = process.argv[3];
if (!['tld', 'none', 'run'].includes(kind) || !process.send) throw new Error('usage: http-server.js <tld|none|run> (forked)');

const routeOf = (url: string | undefined): string => ROUTES[(url ?? '/').split('/')[1] ?? ''] ?? '/';
let requests = 0;
let phase: Phase = 'none';

async function answer(res: ServerResponse): Promise<void> {
  await Promise.resolve(); // stands for the awaits of real work (a cache, a database)
  await Promise.resolve();
  res.end('ok');
}

let reader: Reader | undefined;
let tld: TaskLocalData | undefined;
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
  requests++;
  void answer(res);
};
if (kind !== 'none') {
  reader = loadReader({ map: pin ? { pinPath: pin } : 'private' });
  // The page mechanism: the check below reads the page (the walk is measured by cases-context.ts).
  tld = TaskLocalData.open({ mapFd: reader.mapFd, asyncContext: 'page' });
  const reqId = tld.u64('req_id');
  const route = tld.string('route', 32, { truncate: true });
  if (kind === 'tld') {
    handler = (req, res) => {
      requests++;
      if (phase === 'set') {
        reqId.set(BigInt(requests));
        route.set(routeOf(req.url));
      }
      void answer(res);
    };
  } else {
    const run = (TaskLocalData.prototype as unknown as { run?: RunFn }).run;
    if (typeof run !== 'function') throw new Error('server run: TaskLocalData has no run() here');
    const session = tld;
    handler = (req, res) => {
      requests++;
      void run.call(session, { req_id: BigInt(requests), route: routeOf(req.url) }, () => answer(res));
    };
  }
}

const server = createServer({ keepAlive: true }, handler);
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port });
});
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
    server.closeAllConnections();
    server.close(() => {
      tld?.close();
      reader?.close();
      process.disconnect();
    });
  }
});
