// tld status (every check, the uptr one done for real) and tld header (the headers through the packages' exports).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { bpfSupport, uniquePinPath } from '@tld/testkit';
import { describe, expect, it } from 'vitest';
import { binPath, json, run } from './helpers.js';

const bpf = bpfSupport();
const require = createRequire(import.meta.url);
const AS_NOBODY = [
  'setpriv',
  '--reuid=65534',
  '--regid=65534',
  '--clear-groups',
  '--inh-caps=-all',
  process.execPath,
  binPath,
];

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

describe.skipIf(!bpf.supported)('tld status', () => {
  it('every check ok once the pin exists: exit 0; before, the pin line names the command that creates it', () => {
    const pin = uniquePinPath('status');
    const before = run(['status', '--pin', pin, '--json']);
    expect(before.status).toBe(1);
    const checks = (json(before) as { ok: boolean; checks: Check[] }).checks;
    expect(checks.map((c) => c.name)).toEqual(['kernel', 'btf', 'bpffs', 'privileges', 'libbpf', 'uptr', 'pin']);
    expect(checks.filter((c) => !c.ok)).toEqual([
      { name: 'pin', ok: false, detail: `nothing is pinned at ${pin}`, fix: `npx tld map create --pin ${pin}` },
    ]);
    try {
      expect(run(['map', 'create', '--pin', pin]).status).toBe(0);
      const after = run(['status', '--pin', pin]);
      expect(after.status).toBe(0);
      expect(after.stdout).toMatch(/^uptr\s+ok\s+the kernel pinned this thread's pages/m);
      expect(after.stdout).toMatch(
        new RegExp(
          `^pin\\s+ok\\s+${pin}: map \\d+ \\(tld_data_map\\), 16-byte value \\{ data, meta \\}: the Linux 6.18 selftest revision \\(start in the data page\\), mode 0600`,
          'm',
        ),
      );
    } finally {
      run(['map', 'rm', '--pin', pin]);
    }
  });

  it('without privileges: the privilege and uptr lines are missing, with the fix', () => {
    const result = run(['status', '--json'], { command: AS_NOBODY });
    expect(result.status).toBe(1);
    const checks = Object.fromEntries((json(result) as { checks: Check[] }).checks.map((c) => [c.name, c]));
    expect(checks['kernel']?.ok && checks['btf']?.ok && checks['bpffs']?.ok && checks['libbpf']?.ok).toBe(true);
    expect(checks['privileges']).toMatchObject({ ok: false, detail: expect.stringContaining('uid 65534') as unknown });
    expect(checks['privileges']?.fix).toContain('root');
    expect(checks['uptr']?.ok).toBe(false);
    expect(checks['uptr']?.fix).toMatch(/refused bpf_object__load \(EPERM\).*root/);
    expect(checks['uptr']?.fix).not.toMatch(/RLIMIT/);
  });
});

describe('tld header', () => {
  const paths = {
    'tld.bpf.h': require.resolve('@tld/bpf-programs/include/tld.bpf.h'),
    'tld_layout.h': require.resolve('@tld/protocol/include/tld_layout.h'),
    'tld_reader.h': require.resolve('@tld/bpf-programs/include/tld_reader.h'),
  };

  it('lists the headers resolved through the package exports, with -I flags', () => {
    const result = run(['header', '--json']);
    expect(result.status).toBe(0);
    const dirs = [dirname(paths['tld.bpf.h']), dirname(paths['tld_layout.h'])];
    expect(json(result)).toMatchObject({
      ok: true,
      headers: paths,
      includeDirs: dirs,
      cflags: dirs.map((d) => `-I${d}`).join(' '),
    });
    expect(run(['header']).stdout).toContain(`tld.bpf.h     ${paths['tld.bpf.h']}`);
  });

  it('--print NAME prints that header, --print all of them', () => {
    expect(run(['header', '--print', 'tld_layout.h']).stdout).toBe(readFileSync(paths['tld_layout.h'], 'utf8'));
    const all = run(['header', '--print', '--json']);
    expect(json(all)).toEqual({
      ok: true,
      headers: Object.fromEntries(Object.entries(paths).map(([name, path]) => [name, readFileSync(path, 'utf8')])),
    });
  });
});
