// `tld header` prints a compile line that works on this host: the clang that is installed (clang-19 where there is
// no plain clang, as on Debian), the host's __TARGET_ARCH, and libbpf-dev named when <bpf/bpf_helpers.h> is missing.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { compileLine } from '../src/compile-line.js';
import { json, run } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'tld-compile-line-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A directory holding executables named `names` (empty scripts), for a PATH. */
function binDir(name: string, names: string[]): string {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const n of names) {
    writeFileSync(join(dir, n), '#!/bin/sh\n');
    chmodSync(join(dir, n), 0o755);
  }
  return dir;
}

describe('compileLine', () => {
  const withHelpers = join(work, 'inc');
  mkdirSync(join(withHelpers, 'bpf'), { recursive: true });
  writeFileSync(join(withHelpers, 'bpf', 'bpf_helpers.h'), '');

  it('prefers clang, else the newest clang-N on PATH', () => {
    const both = binDir('both', ['clang', 'clang-19']);
    const versioned = binDir('versioned', ['clang-17', 'clang-19']);
    expect(compileLine('-Ix', { pathDirs: [both], systemIncludeDirs: [withHelpers], arch: 'x64' })).toMatchObject({
      compiler: 'clang',
      missing: [],
    });
    const line = compileLine('-Ix', { pathDirs: [versioned], systemIncludeDirs: [withHelpers], arch: 'x64' });
    expect(line).toMatchObject({ compiler: 'clang-19', missing: [] });
    expect(line.command).toBe('clang-19 -target bpf -O2 -g -D__TARGET_ARCH_x86 -Ix -I. -c prog.bpf.c -o prog.bpf.o');
  });

  it('names what is missing: clang, and libbpf-dev for <bpf/bpf_helpers.h>', () => {
    const line = compileLine('-Ix', {
      pathDirs: [binDir('none', [])],
      systemIncludeDirs: [join(work, 'nothing')],
      arch: 'arm64',
    });
    expect(line.compiler).toBeUndefined();
    expect(line.command).toMatch(/^clang -target bpf .*-D__TARGET_ARCH_arm64 /);
    expect(line.missing).toEqual([
      expect.stringContaining('apt-get install clang-19'),
      expect.stringContaining('libbpf-dev'),
    ]);
  });

  it('on this host: a PATH without plain clang gives clang-19, and the printed line compiles a program', () => {
    const clang19 = execFileSync('sh', ['-c', 'command -v clang-19'], { encoding: 'utf8' }).trim();
    const path = binDir('host', []);
    execFileSync('ln', ['-s', clang19, join(path, 'clang-19')]);
    execFileSync('ln', ['-s', process.execPath, join(path, 'node')]);
    const result = json(run(['header', '--json'], { env: { ...process.env, PATH: path } }));
    expect(result).toMatchObject({ ok: true, compiler: 'clang-19', missing: [] });

    const project = join(work, 'project');
    mkdirSync(project);
    execFileSync('sh', ['-c', 'bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h'], { cwd: project });
    const example = fileURLToPath(import.meta.resolve('@tld/bpf-programs/include/tld.bpf.h')).replace(
      /include\/tld\.bpf\.h$/,
      'examples/req_trace.bpf.c',
    );
    execFileSync('cp', [example, join(project, 'prog.bpf.c')]);
    execFileSync('sh', ['-e', '-c', String(result['compile'])], {
      cwd: project,
      env: { ...process.env, PATH: `${path}:/usr/bin:/bin` },
    });
    expect(
      execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', join(project, 'prog.bpf.o')], { encoding: 'utf8' }),
    ).toContain('tld_map_value');
  });
});
