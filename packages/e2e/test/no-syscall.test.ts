// "No syscall per update", checked the way a sceptic would: strace the process while it sets values, and find
// no bpf() or pidfd_open() between two marker writes — yet BPF reads the last values afterwards.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bpfSupport } from '@tld/testkit';
import { describe, expect, it } from 'vitest';

const support = bpfSupport();
const child = fileURLToPath(new URL('./children/stores-under-strace.mjs', import.meta.url));

describe.skipIf(!support.supported)('key.set() is a plain store', () => {
  it('makes no bpf() or pidfd_open() call, and BPF still reads the new values', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tld-strace-'));
    const trace = join(dir, 'trace');
    try {
      const run = spawnSync(
        'strace',
        ['-f', '-qq', '-e', 'trace=bpf,pidfd_open,write', '-o', trace, process.execPath, child],
        {
          encoding: 'utf8',
        },
      );
      expect(run.error, 'strace must be installed (tools/setup installs it)').toBeUndefined();
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toEqual({ reqId: '1000', route: '/items/1000' });

      const lines = readFileSync(trace, 'utf8').split('\n');
      const begin = lines.findIndex((l) => l.includes('TLD-MARK-BEGIN'));
      const end = lines.findIndex((l) => l.includes('TLD-MARK-END'));
      expect(begin).toBeGreaterThan(0);
      expect(end).toBeGreaterThan(begin);
      const isBpfCall = (l: string) => /\b(bpf|pidfd_open)\(/.test(l);
      // The trace does see the syscalls: registration before the markers, the BPF read after them.
      expect(lines.slice(0, begin).filter(isBpfCall).length).toBeGreaterThan(0);
      expect(lines.slice(end).filter((l) => /\bbpf\(BPF_PROG_TEST_RUN/.test(l)).length).toBeGreaterThan(0);
      expect(lines.slice(begin, end).filter(isBpfCall)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
