// The first step (--basic): the main thread and three worker threads publish per-request values with plain
// stores, a fourth worker publishes nothing, and a BPF program running on each thread reads them back by name.
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { Worker } from 'node:worker_threads';
import { loadReader, readOnThisThread } from '@tld/bpf-programs';
import { decodeU64 } from '@tld/protocol';
import { DEFAULT_PIN_PATH, TaskLocalData } from '@tld/userspace';
import type { DemoOptions } from './args.js';
import { KEYS, type Published, type Seen, publish, readBack } from './basic-values.js';
import type { BasicWorkerData } from './basic-worker.js';

type Row = Seen & { thread: string };

const MAIN: Published = { reqId: 1001n, route: '/users/:id', tenant: 'acme', weight: 1.5 };
const WORKERS: ReadonlyArray<Published | null> = [
  { reqId: 2001n, route: '/orders/:id', tenant: 'globex', weight: 0.25 },
  { reqId: 3001n, route: '/carts/:id/items', tenant: 'initech', weight: 0.5 },
  { reqId: 4001n, route: '/health', tenant: 'umbrella', weight: 2 },
  null, // never opens TaskLocalData: BPF must read it as absent
];

function table(rows: readonly Row[]): string[] {
  const header = ['thread', 'tid', 'req_id', 'route', 'tenant', 'weight'];
  const cells = rows.map((r) =>
    r.registered
      ? [r.thread, r.tid, r.reqId, r.route, r.tenant, r.weight].map(String)
      : [r.thread, String(r.tid), '(absent: never registered)'],
  );
  const widths = header.map((h, i) =>
    Math.max(h.length, ...cells.filter((c) => c.length > 3).map((c) => (c[i] ?? '').length)),
  );
  return [header, ...cells].map(
    (row) =>
      '   ' +
      row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
  );
}

/** Runs the first step; resolves with the exit status. */
export async function runBasic(opts: DemoOptions): Promise<number> {
  const say = opts.json ? (): void => {} : (line = ''): void => void process.stdout.write(`${line}\n`);
  const pin = opts.map?.kind === 'pin' ? opts.map.path : opts.map?.kind === 'private' ? undefined : DEFAULT_PIN_PATH;
  say(`Task local data, the first step: Linux ${release()}, Node.js ${process.version}\n`);
  const pinExisted = pin !== undefined && existsSync(pin);
  const reader = loadReader({ map: pin === undefined ? 'private' : { pinPath: pin } });
  say(
    pin === undefined
      ? '1. The map: a task-storage map private to this process'
      : `1. The map: ${pin} (${pinExisted ? 'already pinned, reused' : 'pinned now, mode 0600'})`,
  );
  let tld: TaskLocalData | undefined;
  try {
    tld = TaskLocalData.open(pin === undefined ? { mapFd: reader.mapFd } : { pinPath: pin });
    say('2. Every thread publishes with key.set(): a store into its own page, no syscall');
    publish(tld, MAIN);
    const rows: Row[] = [{ thread: 'main', ...readBack(readOnThisThread(reader.progFd, KEYS)) }];
    const workers = WORKERS.map(
      (values, i) =>
        new Worker(new URL('./basic-worker.js', import.meta.url), {
          workerData: {
            values,
            progFd: reader.progFd,
            mapFd: reader.mapFd,
            pinPath: pin ?? null,
            name: `worker ${i + 1}`,
          } satisfies BasicWorkerData,
        }),
    );
    // All workers stay alive until every one has reported, so their pages are live at the same time.
    rows.push(
      ...(await Promise.all(
        workers.map((w) => new Promise<Row>((resolve, reject) => w.once('message', resolve).once('error', reject))),
      )),
    );
    for (const w of workers) w.postMessage('exit');

    say('3. BPF (SEC("syscall") tld_read, run on each thread) reads the keys by name:\n');
    for (const line of table(rows)) say(line);

    say('\n4. The main thread sets req_id five times; BPF reads it after each store:');
    const reqId = tld.u64('req_id');
    const seen: bigint[] = [];
    for (let v = 1002n; v <= 1006n; v++) {
      reqId.set(v);
      const bytes = readOnThisThread(reader.progFd, ['req_id']).values['req_id'];
      seen.push(bytes ? decodeU64(bytes) : -1n);
    }
    say(`   BPF saw req_id = ${seen.join(', ')}`);

    const expected = [MAIN, ...WORKERS];
    const ok =
      rows.every((row, i) => (expected[i] ? row.registered && row.reqId === expected[i]?.reqId : !row.registered)) &&
      seen.join() === '1002,1003,1004,1005,1006';
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ ok, rows, reqIdUpdates: seen }, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v), 2)}\n`,
      );
    }
    say(ok ? '\nBPF read exactly what every thread wrote.' : '\nMISMATCH: BPF did not read what the threads wrote.');
    say('Next: `pnpm demo` without --basic puts these values to work: CPU time by route, measured by BPF.');
    return ok ? 0 : 1;
  } finally {
    tld?.close();
    reader.close(); // removes the pin if this run created it
    if (pin !== undefined && !pinExisted) say(`(removed ${pin}, which the demo created)`);
  }
}
