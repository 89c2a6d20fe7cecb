// Requests are counted once each, even when run() interleaves them on one thread: three requests in flight on
// this thread, each making a system call before and after an await, are seen A B C A B C by on_syscall.
import { fstatSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskLocalData } from '@tld/userspace';
import { bpfSupport } from '@tld/testkit';
import { type Profiler, bucketLabels, loadProfiler } from '../src/index.js';

const support = bpfSupport();

describe.skipIf(!support.supported)('request counting', () => {
  let profiler: Profiler | undefined;
  let tld: TaskLocalData | undefined;
  afterEach(() => {
    tld?.close();
    profiler?.close();
  });

  it('counts each interleaved run() request once, by route', async () => {
    profiler = loadProfiler({ labels: [{ name: 'route', size: 32 }], requestKey: 'req_id', pids: [process.pid] });
    tld = TaskLocalData.open({ mapFd: profiler.mapFd });
    tld.u64('req_id').set(0n);
    tld.string('route', 32);
    const session = tld;
    let id = 0n;
    const request = (route: string): Promise<void> =>
      session.run({ req_id: ++id, route }, async () => {
        fstatSync(0);
        await tick();
        fstatSync(0);
        await tick();
        fstatSync(0);
      });
    profiler.attachTime();
    for (let batch = 0; batch < 10; batch++) await Promise.all([request('/a'), request('/b'), request('/c')]);
    profiler.detach();
    const counts: Record<string, number> = {};
    for (const b of profiler.read().buckets) {
      const route = bucketLabels(['route'], b)['route']!;
      counts[route] = (counts[route] ?? 0) + b.requests;
    }
    expect(counts).toMatchObject({ '/a': 10, '/b': 10, '/c': 10 });
  });
});
