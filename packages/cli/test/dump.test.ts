// tld dump: every registered thread on the host with its values, read by the BPF task iterator while a consumer
// application (test/fixtures/consumer.mjs: main thread + worker) runs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { loadObject, names, objectPaths } from '@tld/bpf-programs';
import { bpfSupport, uniquePinPath } from '@tld/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { isControl } from '../src/commands/dump.js';
import { type Consumer, binPath, json, run, startConsumer } from './helpers.js';

const bpf = bpfSupport();

interface Thread {
  tid: number;
  pid: number;
  comm: string;
  registered: boolean;
  context: { status: string; errno?: number };
  keys: {
    name: string;
    size: number;
    offset: number;
    value: Record<string, unknown>;
    context: { from: string; value?: Record<string, unknown> };
  }[];
}

/** name → value readings of one dumped thread. */
function values(thread: Thread | undefined): Record<string, Record<string, unknown>> {
  return Object.fromEntries((thread?.keys ?? []).map((k) => [k.name, k.value]));
}

describe.skipIf(!bpf.supported)('tld dump', () => {
  const pin = uniquePinPath('dump');
  let consumer: Consumer;

  beforeAll(async () => {
    expect(run(['map', 'create', '--pin', pin]).status).toBe(0);
    consumer = await startConsumer(pin);
  });
  afterAll(async () => {
    await consumer?.stop();
    run(['map', 'rm', '--pin', pin]);
  });

  it("shows the main thread's and the worker's own values, decoded", () => {
    const result = run(['dump', '--pin', pin, '--json']);
    expect(result.status).toBe(0);
    const { ok, threads } = json(result) as { ok: boolean; threads: Thread[] };
    expect(ok).toBe(true);
    const mine = threads.filter((t) => t.pid === consumer.pid);
    expect(mine).toHaveLength(2);
    const main = mine.find((t) => t.tid === consumer.pid);
    const worker = mine.find((t) => t.tid !== consumer.pid);
    expect(main?.registered && worker?.registered).toBe(true);
    expect(values(main)).toMatchObject({
      req_id: { uint: '1001', int: '1001', hex: 'e903000000000000', text: '1001' },
      route: { string: '/main', text: '"/main"' },
      weight: { float: 1.5, text: '1.5' },
    });
    expect(values(worker)).toMatchObject({
      req_id: { uint: '2002', text: '2002' },
      route: { string: '/worker' },
      weight: { float: 0.25, text: '0.25' },
    });
    expect(main?.keys.map((k) => [k.name, k.size, k.offset])).toEqual([
      ['req_id', 8, 0],
      ['route', 32, 8],
      ['weight', 8, 40],
    ]);
    // Outside any run (and on this Node.js, with no walk published): the context sees the page's values.
    for (const t of mine) {
      expect(t.context).toEqual({ status: 'page' });
      for (const k of t.keys) expect(k.context).toEqual({ from: 'page', value: k.value });
    }
  });

  it('--pid keeps one process; text output lists each thread with its values', () => {
    const only = json(run(['dump', '--pin', pin, '--pid', String(consumer.pid), '--json'])) as { threads: Thread[] };
    expect(only.threads.map((t) => t.pid)).toEqual([consumer.pid, consumer.pid]);
    expect((json(run(['dump', '--pin', pin, '--pid', '1', '--json'])) as { threads: Thread[] }).threads).toEqual([]);
    const text = run(['dump', '--pin', pin, '--pid', String(consumer.pid)]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(
        `tid ${consumer.pid}  pid ${consumer.pid}  node  \\(main thread\\)\\n  req_id\\s+8B  1001\\n  route\\s+32B  "/main"\\n  weight\\s+8B  1.5\\n`,
      ),
    );
    expect(text.stdout).toMatch(/req_id\s+8B {2}2002\n\s+route\s+32B {2}"\/worker"\n\s+weight\s+8B {2}0\.25/);
    expect(text.stdout).toContain(`2 threads in 1 process registered in ${pin}`);
  });

  it('--watch --json prints one document per line until interrupted, then exits 0', async () => {
    const child = spawn(process.execPath, [
      binPath,
      'dump',
      '--pin',
      pin,
      '--pid',
      String(consumer.pid),
      '--watch',
      '0.2',
      '--json',
    ]);
    const lines = createInterface({ input: child.stdout });
    const documents: { threads: Thread[] }[] = [];
    for await (const line of lines) {
      documents.push(JSON.parse(line) as { threads: Thread[] });
      if (documents.length === 2) break;
    }
    child.kill('SIGINT');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(documents.map((d) => d.threads.length)).toEqual([2, 2]);
  });

  it('a missing pin fails with the fix, and creates nothing', () => {
    const absent = uniquePinPath('absent');
    const result = run(['dump', '--pin', absent]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`npx tld map create --pin ${absent}`);
    expect(run(['map', 'show', '--pin', absent]).status).toBe(1);
  });
});

describe.skipIf(!bpf.supported)('tld dump of what a hostile process publishes', () => {
  const pin = uniquePinPath('dump-hostile');
  let consumer: Consumer;

  beforeAll(async () => {
    expect(run(['map', 'create', '--pin', pin]).status).toBe(0);
    consumer = await startConsumer(pin, { script: fileURLToPath(new URL('./fixtures/hostile.mjs', import.meta.url)) });
  });
  afterAll(async () => {
    await consumer?.stop();
    run(['map', 'rm', '--pin', pin]);
  });

  it('text escapes control characters in names, values and thread names; JSON keeps them exact', () => {
    const textual = run(['dump', '--pin', pin, '--pid', String(consumer.pid)]);
    expect(textual.status).toBe(0);
    // Nothing a terminal acts on: no C0 but the line ends, no DEL, no C1, no bidirectional override.
    const acting = [...textual.stdout].filter((c) => c !== '\n' && isControl(c.charCodeAt(0)));
    expect(acting, textual.stdout).toEqual([]);
    expect(textual.stdout).toContain('title\\x1b]0;pwned\\x07');
    expect(textual.stdout).toContain('/a\\x9b2J\\u202eb');
    expect(textual.stdout).toContain(`pid ${consumer.pid}  \\x1b[2J`);
    const { threads } = json(run(['dump', '--pin', pin, '--pid', String(consumer.pid), '--json'])) as {
      threads: Thread[];
    };
    expect(threads[0]?.keys.map((k) => k.name)).toEqual(['title\x1b]0;pwned\x07', 'route']);
    expect(values(threads[0])['route']).toMatchObject({ string: '/a\u009b2J\u202eb' });
    expect(threads[0]?.comm.startsWith('\x1b[2J')).toBe(true);
  });
});

describe.skipIf(!bpf.supported)('tld dump of a map with 24-byte values (struct tld_map_value with start)', () => {
  const pin = uniquePinPath('dump-v2');
  let consumer: Consumer;

  beforeAll(async () => {
    // tld map create makes 16-byte values: the 24-byte map comes from the iterator's own build for it.
    loadObject(objectPaths.iterV2, { [names.dataMap]: { pinPath: pin } }).close();
    consumer = await startConsumer(pin);
  });
  afterAll(async () => {
    await consumer?.stop();
    run(['map', 'rm', '--pin', pin]);
  });

  it("shows both threads' values, read at the start the map value carries", () => {
    const result = run(['dump', '--pin', pin, '--pid', String(consumer.pid), '--json']);
    expect(result.status).toBe(0);
    const { threads } = json(result) as { threads: Thread[] };
    expect(threads.map((t) => [t.pid, t.registered])).toEqual([
      [consumer.pid, true],
      [consumer.pid, true],
    ]);
    const main = threads.find((t) => t.tid === consumer.pid);
    const worker = threads.find((t) => t.tid !== consumer.pid);
    expect(values(main)).toMatchObject({
      req_id: { uint: '1001' },
      route: { string: '/main' },
      weight: { float: 1.5 },
    });
    expect(values(worker)).toMatchObject({
      req_id: { uint: '2002' },
      route: { string: '/worker' },
      weight: { float: 0.25 },
    });
    expect(main?.keys.map((k) => [k.name, k.size, k.offset])).toEqual([
      ['req_id', 8, 0],
      ['route', 32, 8],
      ['weight', 8, 40],
    ]);
    // Outside any run (and on this Node.js, with no walk published): the context sees the page's values.
    for (const t of threads) {
      expect(t.context).toEqual({ status: 'page' });
      for (const k of t.keys) expect(k.context).toEqual({ from: 'page', value: k.value });
    }
  });

  it('map show counts its registered threads', () => {
    // The consumer's two threads (tld map show registers its own thread only after counting).
    expect(json(run(['map', 'show', '--pin', pin, '--json']))).toMatchObject({
      ok: true,
      valueSize: 24,
      threads: 2,
      processes: 1,
    });
  });
});
