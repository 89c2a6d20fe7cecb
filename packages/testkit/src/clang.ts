// Compiling a test's own BPF C file the way the workspace's Makefiles build theirs (@tld/bpf-programs' tests, which
// cannot depend on this package, have the same helper in test/btf-util.ts).
import { execFileSync } from 'node:child_process';

const BPF_FLAGS = ['-target', 'bpf', '-O2', '-g', '-Wall', '-Werror', '-D__TARGET_ARCH_x86'];

/**
 * Compiles `source` to `output` with clang-19, `-I` for each of `includes` and `flags` (e.g. `-DNAME`); throws with
 * clang's output on failure.
 */
export function compileBpf(source: string, output: string, includes: readonly string[], flags: string[] = []): void {
  execFileSync('clang-19', [...BPF_FLAGS, ...flags, ...includes.flatMap((d) => ['-I', d]), '-c', source, '-o', output]);
}
