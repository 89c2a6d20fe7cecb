// tld dump tells threads apart: each thread's name (task->comm, what /proc/PID/task/TID/comm holds) and whether
// it is the main thread; a worker's `name` becomes its thread name on Node.js 24 (Node does it) and 22
// (TaskLocalData.open() does it); Node.js 20 does not expose the name, and its threads stay "node". A string key
// created but never set shows as "", not as hex.
import { fileURLToPath } from 'node:url';
import { bpfRequired, bpfSupport, installedNode, nodeCacheDir, uniquePinPath } from '@tld/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, run, startConsumer } from './helpers.js';
import { readValue } from '../src/values.js';

const bpf = bpfSupport();
const script = fileURLToPath(new URL('./fixtures/named-consumer.mjs', import.meta.url));
interface Thread {
  tid: number;
  pid: number;
  comm: string;
  mainThread: boolean;
  keys: { name: string; value: { text: string; string?: string; hex: string } }[];
}

describe('values never set', () => {
  it('an all-zero value of a string size reads as "", an all-zero number as 0', () => {
    expect(readValue(new Uint8Array(24))).toMatchObject({ string: '', text: '""' });
    expect(readValue(new Uint8Array(8))).toMatchObject({ uint: '0', text: '0' });
    expect(readValue(new Uint8Array([0x61, 0, 1, 0, 0]))).toMatchObject({ text: '0x6100010000' });
  });
});

describe.skipIf(!bpf.supported)('tld dump: thread names', () => {
  const pin = uniquePinPath('dump-names');
  beforeAll(() => {
    expect(run(['map', 'create', '--pin', pin]).status).toBe(0);
  });
  afterAll(() => run(['map', 'rm', '--pin', pin]));

  const nodes = [
    { label: '20 (this one)', node: process.execPath, workerName: 'node' },
    { label: '22', node: installedNode(22), workerName: 'tld-ingest' },
    { label: '24', node: installedNode(24), workerName: 'tld-ingest' },
  ];
  it.each(nodes)(
    'Node.js $label: the worker is named $workerName, the main thread is marked; an unset string is ""',
    async ({ node, workerName }) => {
      if (node === undefined) {
        // tools/setup installs 22 and 24; where it did not, CI must not pass silently.
        if (bpfRequired()) throw new Error(`no Node.js binary under ${nodeCacheDir()}: run tools/setup`);
        return;
      }
      const consumer = await startConsumer(pin, { script, node });
      try {
        const { threads } = json(run(['dump', '--pin', pin, '--pid', String(consumer.pid), '--json'])) as {
          threads: Thread[];
        };
        const main = threads.find((t) => t.mainThread);
        const worker = threads.find((t) => !t.mainThread);
        expect(main?.tid).toBe(consumer.pid);
        expect(worker?.comm).toBe(workerName);
        const tenant = (t: Thread | undefined) => t?.keys.find((k) => k.name === 'tenant')?.value;
        expect(tenant(main)).toMatchObject({ string: '', text: '""' });
        expect(tenant(worker)).toMatchObject({ string: 'acme', text: '"acme"' });
        const text = run(['dump', '--pin', pin, '--pid', String(consumer.pid)]).stdout;
        expect(text).toContain(`tid ${consumer.pid}  pid ${consumer.pid}  ${main?.comm}  (main thread)\n`);
        expect(text).toMatch(new RegExp(`tid ${worker?.tid}  pid ${consumer.pid}  ${worker?.comm}\\n`));
        expect(text).toMatch(/ {2}tenant\s+24B {2}""\n/);
      } finally {
        expect(await consumer.stop()).toBe(0);
      }
    },
  );
});
