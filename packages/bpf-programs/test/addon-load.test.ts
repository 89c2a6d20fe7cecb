// The loader addon links libbpf.so.1 (libbpf's runtime library, not libbpf-dev). On a host without it, loading the
// package must say which package to install, and the install-time check must not start a doomed source build.
// The host is made to lack the library for real: in a private mount namespace, the library directory is replaced
// by one that links every file but libbpf's.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/** The directory the dynamic linker finds libbpf.so.1 in for the addon the package loads (ldd), symlinks resolved. */
function libbpfDir(): string {
  const file = (require('node-gyp-build') as { path(dir: string): string }).path(packageDir);
  const match = /libbpf\.so\.1 => (\S+)/.exec(execFileSync('ldd', [file], { encoding: 'utf8' }));
  if (!match?.[1]) throw new Error(`ldd found no libbpf.so.1 for ${file}`);
  return dirname(realpathSync(match[1]));
}

describe('without libbpf.so.1 on the host', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tld-nolibbpf-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Runs `node args` where the library directory lacks every libbpf.so* file. */
  function withoutLibbpf(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const libDir = libbpfDir();
    const script = [
      'set -e',
      `d=$(mktemp -d "${work}/ns-XXXXXX")`,
      'mkdir "$d/orig" "$d/shadow"',
      `mount --bind "${libDir}" "$d/orig"`,
      'ln -s "$d"/orig/* "$d/shadow/"',
      'rm -f "$d"/shadow/libbpf.so*',
      `mount --bind "$d/shadow" "${libDir}"`,
      'exec "$@"',
    ].join('\n');
    const result = spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, ...args],
      {
        cwd: packageDir,
        encoding: 'utf8',
      },
    );
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('importing the package fails with the runtime package to install', () => {
    const result = withoutLibbpf(['--input-type=module', '-e', "await import('@tld/bpf-programs')"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('libbpf.so.1 is not installed');
    expect(result.stderr).toContain('apt-get install libbpf1');
    expect(result.stderr).toContain("code: 'ERR_TLD_ADDON'");
  });

  it('the install-time check of the prebuilt addon passes with a warning instead of building from source', () => {
    const result = withoutLibbpf(['install-test.cjs']);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('libbpf.so.1 is not installed');
  });
});
