// The loopback HTTP server of the async-context case (cases-context.ts), on a Node.js with AsyncContextFrame. One
// process alternates phases on request of its parent, so they share JIT state and heap: `als` runs each handler in
// AsyncLocalStorage.run(store, ...) (what every tracing user already pays), `run` in tld.run({ req_id, route }, ...)
// by the async-context walk (no hooks, so it leaves nothing behind for the `als` phases). Each request awaits twice.
// Usage (forked by cases-context.ts): node context-server.js
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadReader } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import { ROUTES } from './http-shared.js';

type Phase = 'als' | 'run';

if (!process.send) throw new Error('usage: context-server.js (forked by cases-context.js)');
const routeOf = (url: string | undefined): string => ROUTES[(url ?? '/').split('/')[1] ?? ''] ?? '/';
let requests = 0;
let phase: Phase = 'als';

async function answer(res: ServerResponse): Promise<void> {
  await Promise.resolve(); // stands for the awaits of real work (a cache, a database)
  await Promise.resolve();
  res.end('ok');
}

const reader = loadReader({ map: 'private' });
const tld = TaskLocalData.open({ mapFd: reader.mapFd, asyncContext: 'walk' });
tld.u64('req_id');
tld.string('route', 32, { truncate: true });
const als = new AsyncLocalStorage<{ reqId: bigint; route: string }>();

function handler(req: IncomingMessage, res: ServerResponse): void {
  requests++;
  if (phase === 'als') void als.run({ reqId: BigInt(requests), route: routeOf(req.url) }, () => answer(res));
  else void tld.run({ req_id: BigInt(requests), route: routeOf(req.url) }, () => answer(res));
}

const server = createServer({ keepAlive: true }, handler);
server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port, asyncContext: tld.asyncContext });
});
let cpuMark = process.cpuUsage();
let requestsMark = 0;
process.on('message', (m: { type: string; phase?: Phase }) => {
  if (m.type === 'mark') {
    phase = m.phase ?? 'als';
    cpuMark = process.cpuUsage();
    requestsMark = requests;
    process.send?.({ type: 'marked' });
  } else if (m.type === 'usage') {
    const cpu = process.cpuUsage(cpuMark);
    process.send?.({ type: 'usage', cpuUs: cpu.user + cpu.system, requests: requests - requestsMark });
  } else if (m.type === 'stop') {
    server.closeAllConnections();
    server.close(() => {
      tld.close();
      reader.close();
      process.disconnect();
    });
  }
});
