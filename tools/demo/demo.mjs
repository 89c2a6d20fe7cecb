#!/usr/bin/env node
// The demo: the main thread and three worker threads publish per-request values with plain stores, and a BPF
// program running on each thread reads them back by key name.
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { loadReader, readOnThisThread } from '@tld/bpf-programs';
import { decodeU64 } from '@tld/protocol';
import { DEFAULT_PIN_PATH, TaskLocalData } from '@tld/userspace';
import { KEYS, publish, readBack } from './keys.mjs';

const HELP = `Usage: pnpm demo [--private] [--pin PATH] [--json]

The main thread and three workers publish req_id, route, tenant and weight with TaskLocalData; a fourth worker
publishes nothing. The tld_read BPF program then runs on each thread and prints what the kernel saw.

  --pin PATH   the shared map's pin (default ${DEFAULT_PIN_PATH}); created with mode 0600 when missing
               and removed at the end when the demo created it
  --private    use a map private to this process instead of a pin (bpffs is left untouched)
  --json       print the results as JSON instead of text
  -h, --help   this text`;

const { values: opts } = parseArgs({
  options: {
    pin: { type: 'string', default: DEFAULT_PIN_PATH },
    private: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const say = opts.json ? () => {} : (line = '') => console.log(line);

const MAIN = { reqId: 1001n, route: '/users/:id', tenant: 'acme', weight: 1.5 };
const WORKERS = [
  { reqId: 2001n, route: '/orders/:id', tenant: 'globex', weight: 0.25 },
  { reqId: 3001n, route: '/carts/:id/items', tenant: 'initech', weight: 0.5 },
  { reqId: 4001n, route: '/health', tenant: 'umbrella', weight: 2 },
  null, // never opens TaskLocalData: BPF must read it as absent
];

say(`Task local data demo: Linux ${release()}, Node.js ${process.version}\n`);
const pinExisted = !opts.private && existsSync(opts.pin);
const reader = loadReader({ map: opts.private ? 'private' : { pinPath: opts.pin } });
say(
  opts.private
    ? '1. The map: a task-storage map private to this process'
    : `1. The map: ${opts.pin} (${pinExisted ? 'already pinned, reused' : 'pinned now, mode 0600'})`,
);
const tld = TaskLocalData.open(opts.private ? { mapFd: reader.mapFd } : { pinPath: opts.pin });

try {
  say('2. Every thread publishes with key.set(): a store into its own page, no syscall');
  publish(tld, MAIN);
  const rows = [{ thread: 'main', ...readBack(readOnThisThread(reader.progFd, KEYS)) }];
  const workers = WORKERS.map(
    (values, i) =>
      new Worker(new URL('./worker.mjs', import.meta.url), {
        workerData: {
          values,
          progFd: reader.progFd,
          mapFd: reader.mapFd,
          pinPath: opts.private ? null : opts.pin,
          name: `worker ${i + 1}`,
        },
      }),
  );
  // All workers stay alive until every one has reported, so their pages are live at the same time.
  rows.push(
    ...(await Promise.all(workers.map((w) => new Promise((resolve, reject) => w.once('message', resolve).once('error', reject))))),
  );
  for (const w of workers) w.postMessage('exit');

  say('3. BPF (SEC("syscall") tld_read, run on each thread) reads the keys by name:\n');
  printTable(rows);

  say('\n4. The main thread sets req_id five times; BPF reads it after each store:');
  const reqId = tld.u64('req_id');
  const seen = [];
  for (let v = 1002n; v <= 1006n; v++) {
    reqId.set(v);
    seen.push(decodeU64(readOnThisThread(reader.progFd, ['req_id']).values.req_id));
  }
  say(`   BPF saw req_id = ${seen.join(', ')}`);

  const expected = [MAIN, ...WORKERS];
  const ok =
    rows.every((row, i) => (expected[i] ? row.registered && row.reqId === expected[i].reqId : !row.registered)) &&
    seen.join() === '1002,1003,1004,1005,1006';
  if (opts.json) {
    console.log(JSON.stringify({ ok, rows, reqIdUpdates: seen }, (_, v) => (typeof v === 'bigint' ? String(v) : v), 2));
  }
  say(ok ? '\nBPF read exactly what every thread wrote.' : '\nMISMATCH: BPF did not read what the threads wrote.');
  process.exitCode = ok ? 0 : 1;
} finally {
  tld.close();
  reader.close(); // removes the pin if this run created it
  if (!opts.private && !pinExisted) say(`(removed ${opts.pin}, which the demo created)`);
}

function printTable(rows) {
  const header = ['thread', 'tid', 'req_id', 'route', 'tenant', 'weight'];
  const cells = rows.map((r) =>
    r.registered
      ? [r.thread, r.tid, r.reqId, r.route, r.tenant, r.weight].map(String)
      : [r.thread, String(r.tid), '(absent: never registered)'],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...cells.filter((c) => c.length > 3).map((c) => c[i].length)));
  for (const row of [header, ...cells]) say('   ' + row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}
