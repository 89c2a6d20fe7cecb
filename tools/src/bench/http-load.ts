// The load generator of the service benchmark: `concurrency` keep-alive connections to 127.0.0.1:<port>, each sending
// one request after another for `ms` milliseconds (and at most `max` requests in all), then reports the count.
// Bounded in time and count, loopback only. Usage (forked): node http-load.js <port> <concurrency> <ms> <max>
import { Agent, request } from 'node:http';

const PATHS = ['/users/17', '/orders/4711', '/carts/3/items', '/health'];
const [port, concurrency, ms, max] = process.argv.slice(2).map(Number) as [number, number, number, number];
if (![port, concurrency, ms, max].every((n) => Number.isInteger(n) && n > 0) || !process.send) {
  throw new Error('usage: http-load.js <port> <concurrency> <ms> <max requests> (forked)');
}

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
let sent = 0;
let done = 0;
let failed = 0;
const t0 = performance.now();
const deadline = t0 + ms;

function once(path: string): Promise<void> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) done++;
        else failed++;
        resolve();
      });
    });
    req.on('error', () => {
      failed++;
      resolve();
    });
    req.end();
  });
}

async function connection(i: number): Promise<void> {
  while (performance.now() < deadline && sent < max) {
    sent++;
    await once(PATHS[(sent + i) & 3] as string);
  }
}

await Promise.all(Array.from({ length: concurrency }, (_, i) => connection(i)));
const elapsed = performance.now() - t0;
agent.destroy();
process.send({ type: 'result', requests: done, failed, ms: elapsed }, () => process.disconnect());
