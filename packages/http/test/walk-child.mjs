// Run by walk.test.ts on Node.js 24+ (AsyncContextFrame), where run() takes the async-context walk: express and
// fastify servers on this thread, 24 interleaved requests each, and in every handler, at its start, after a timer
// and after an immediate, the BPF program tld_read_context (tld_get_context_data(): the walk from the thread to the
// running context's record) must read the request's route pattern and id. Prints one JSON line.
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import Fastify from 'fastify';
import { TaskLocalData } from '@tld/userspace';
import { loadContextReader, printWalkReport } from '@tld/testkit';
import { tldExpress } from '../dist/express.js';
import { tldFastify } from '../dist/fastify.js';

const reader = loadContextReader({ map: 'private' });
const tld = TaskLocalData.open({ mapFd: reader.mapFd });
const routeKey = tld.string('route', Number(process.env['ROUTE_BYTES']), { truncate: true });
const reqIdKey = tld.u64('req_id');
routeKey.set('idle');
reqIdKey.set(0n);

/** @type {{ framework: string, want: unknown, got: unknown }[]} */
const mismatches = [];
let readings = 0;
/** @param {string} framework @param {string} route @param {string} id */
async function handle(framework, route, id) {
  const want = { route, reqId: id, from: 'context' };
  const check = () => {
    const seen = reader.read();
    const got = { route: seen.route, reqId: String(seen.req_id), from: seen.keys.route.from };
    readings += 1;
    if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push({ framework, want, got });
  };
  check();
  await sleep(Number(id) % 7);
  check();
  await new Promise((resolve) => setImmediate(resolve));
  check();
  return 'ok';
}

const app = express();
app.use(tldExpress(tld, { routeKey, reqIdKey, reqId: (req) => BigInt(req.get('x-request-id') ?? '0') }));
app.get('/users/:id', async (req, res) => {
  res.send(await handle('express', '/users/:id', req.get('x-request-id') ?? ''));
});
app.get('/orders/:id', async (req, res) => {
  res.send(await handle('express', '/orders/:id', req.get('x-request-id') ?? ''));
});
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const address = /** @type {import('node:net').AddressInfo} */ (server.address());

const fastify = Fastify();
await fastify.register(tldFastify, {
  tld,
  routeKey,
  reqIdKey,
  reqId: (req) => BigInt(String(req.headers['x-request-id'] ?? '0')),
});
fastify.get('/users/:id', (req) => handle('fastify', '/users/:id', String(req.headers['x-request-id'])));
fastify.get('/orders/:id', (req) => handle('fastify', '/orders/:id', String(req.headers['x-request-id'])));
const fastifyBase = await fastify.listen({ port: 0, host: '127.0.0.1' });

const bases = [`http://127.0.0.1:${address.port}`, fastifyBase];
await Promise.all(
  Array.from({ length: 48 }, async (_, i) => {
    const res = await fetch(`${bases[i % 2]}/${i % 4 < 2 ? 'users' : 'orders'}/${i}`, {
      headers: { 'x-request-id': String(100 + i) },
    });
    await res.text();
  }),
);
const after = reader.read();
printWalkReport(tld.asyncContext, readings, mismatches, {
  between: { route: after.route, reqId: String(after.req_id), from: after.keys.route.from },
});
server.close();
await fastify.close();
tld.close();
reader.close();
