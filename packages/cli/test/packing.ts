// Support for test/pack-install.test.ts: pack the workspace's publishable packages with pnpm pack, and an
// environment in which installs run as on a consumer's machine without a compiler.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const workspaceRoot = fileURLToPath(new URL('../../..', import.meta.url));
/** Directories under packages/ of the packages that are published. */
export const PUBLISHED = ['protocol', 'native', 'userspace', 'bpf-programs', 'profiler', 'cli'] as const;
export type Published = (typeof PUBLISHED)[number];
/** What a consumer's shell must not find: a from-source build would need them. */
export const COMPILERS = ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang-19', 'make'];

/** An executable on this process's PATH, resolved to its real file. */
export function which(name: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return realpathSync(path);
    } catch {
      // not here
    }
  }
  throw new Error(`${name} is not on PATH`);
}

/** Runs a command, throwing with its output when it fails. */
export function sh(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  const result = spawnSync(file, args, { encoding: 'utf8', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/** `pnpm pack` of each published package into `dir`; returns the tarball paths by package directory. */
export function packAll(dir: string): Record<Published, string> {
  mkdirSync(dir, { recursive: true });
  const tarballs = {} as Record<Published, string>;
  for (const name of PUBLISHED) {
    const out = sh('pnpm', ['pack', '--pack-destination', dir], { cwd: join(workspaceRoot, 'packages', name) });
    const path = out.trim().split('\n').pop() ?? '';
    if (!path.endsWith('.tgz')) throw new Error(`pnpm pack printed no tarball for ${name}:\n${out}`);
    tarballs[name] = path;
  }
  return tarballs;
}

/**
 * A directory holding only node, npm, npx, pnpm and sh (npm runs install scripts through sh), and an environment
 * whose PATH is that directory alone: no compiler, make or python can be found. npm's user config is an empty
 * file, so that nothing of this machine's (such as nodedir) helps a build along.
 */
export function consumerEnv(work: string): NodeJS.ProcessEnv {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  const tools: Record<string, string> = {
    node: process.execPath,
    npm: which('npm'),
    npx: which('npx'),
    pnpm: which('pnpm'),
    sh: '/bin/sh',
  };
  for (const [name, target] of Object.entries(tools)) symlinkSync(target, join(bin, name));
  const npmrc = join(work, 'npmrc');
  writeFileSync(npmrc, '');
  return { HOME: process.env['HOME'], PATH: bin, npm_config_userconfig: npmrc, LANG: 'C.UTF-8' };
}

/** The commands of COMPILERS that `env`'s shell finds (none, for a consumer without a toolchain). */
export function compilersFound(env: NodeJS.ProcessEnv): string[] {
  const found = spawnSync('/bin/sh', ['-c', COMPILERS.map((c) => `command -v ${c}`).join('; ')], {
    encoding: 'utf8',
    env,
  });
  return found.stdout.split('\n').filter(Boolean);
}
