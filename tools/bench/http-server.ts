// The loopback HTTP server of the service benchmark (cases-http.ts), one fresh process per measurement. Each request
// awaits twice before it answers. Mode `none` uses no task local data; `set` sets req_id and route per request;
// `run` (when TaskLocalData has run()) runs the handler in tld.run({ req_id, route }, ...).
// Usage (from cases-http.ts, with an IPC channel): node http-server.js <none|set|run>
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeString, decodeU64 } from '@tld/protocol';
import { type Reader, loadReader } from '@tld/bpf-programs';
import { TaskLocalData } from '@tld/userspace';
import { ROUTES, type ServerCheck, type ServerMode } from './http-shared.js';

/** tld.run() of the async-context work, when present (feature-detected, not assumed). */
type RunFn = (values: Record<string, unknown>, fn: () => Promise<void>) => Promise<void>;

const mode = process.argv[2] as ServerMode;
if (!['none', 'set', 'run'].includes(mode) || !process.send) throw new Error('usage: http-server.js <none|set|run> (forked)');

const routeOf = (url: string | undefined): string => ROUTES[(url ?? '/').split('/')[1] ?? ''] ?? '/';
let requests = 0;

async function answer(res: ServerResponse): Promise<void> {
  await Promise.resolve(); // stands for the awaits of real work (a cache, a database)
  await Promise.resolve();
  res.end('ok');
}

let reader: Reader | undefined;
let tld: TaskLocalData | undefined;
let handler: (req: IncomingMessage, res: ServerResponse) => void;
if (mode === 'none') {
  handler = (_req, res) => {
    requests++;
    void answer(res);
  };
} else {
  reader = loadReader({ map: 'private' });
  tld = TaskLocalData.open({ mapFd: reader.mapFd });
  const reqId = tld.u64('req_id');
  const route = tld.string('route', 32, { truncate: true });
  if (mode === 'set') {
    handler = (req, res) => {
      requests++;
      reqId.set(BigInt(requests));
      route.set(routeOf(req.url));
      void answer(res);
    };
  } else {
    const run = (TaskLocalData.prototype as unknown as { run?: RunFn }).run;
    if (typeof run !== 'function') throw new Error('mode run: TaskLocalData has no run() here');
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
process.on('message', (m: { type: string }) => {
  if (m.type === 'check') {
    const seen = reader?.read(['req_id', 'route']);
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
