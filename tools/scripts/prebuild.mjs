#!/usr/bin/env node
// Prebuilt Node-API binaries of the addon in the current directory (a package with a binding.gyp), with
// prebuildify: first for the other Linux architecture, cross-compiled with Debian's toolchain for it
// (g++-aarch64-linux-gnu on x64, g++-x86-64-linux-gnu on arm64), then for this machine, so that build/ ends up
// holding this machine's build, the one tests load. Out: prebuilds/linux-<arch>/<name>.glibc.node.
//
// Without the cross toolchain the other architecture is skipped with a warning, except under CI or
// TLD_REQUIRE_BPF=1, where a tarball without it must not be made silently (tools/setup installs the toolchain).
import { spawnSync } from 'node:child_process';
import { arch } from 'node:os';

/** Debian's GNU triplet of each Node.js architecture we ship. */
const TRIPLETS = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const FLAGS = ['--napi', '--strip', '--tag-libc'];
const prebuildify = ['exec', 'prebuildify', ...FLAGS];

/** @param {string} command */
function found(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** @param {string[]} args @param {Record<string, string>} [env] */
function run(args, env) {
  const result = spawnSync('pnpm', args, {
    stdio: 'inherit',
    env: { ...process.env, npm_config_nodedir: '/usr', ...env },
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const host = arch();
for (const [target, triplet] of Object.entries(TRIPLETS)) {
  if (target === host) continue;
  if (!found(`${triplet}-g++`)) {
    const message = `prebuild: no ${triplet}-g++, so no linux-${target} binary (tools/setup installs g++-${triplet.replace(/_/g, '-')})`;
    if (process.env.CI || process.env.TLD_REQUIRE_BPF === '1') {
      console.error(`${message}: refusing under CI`);
      process.exit(1);
    }
    console.warn(message);
    continue;
  }
  // node-gyp's make generator takes the compilers from CC, CXX and LINK; the host's strip cannot strip the result.
  run([...prebuildify, '--arch', target], {
    CC: `${triplet}-gcc`,
    CXX: `${triplet}-g++`,
    LINK: `${triplet}-g++`,
    AR: `${triplet}-ar`,
    PREBUILD_STRIP_BIN: `${triplet}-strip`,
  });
}
run(prebuildify, {});
