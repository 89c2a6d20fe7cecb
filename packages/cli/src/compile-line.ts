// The clang line `tld header` prints, made to work on this host: the compiler that is installed (Debian ships
// clang-19 without a plain `clang`), the host's __TARGET_ARCH, and the package to install when libbpf's
// <bpf/bpf_helpers.h> is missing.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** clang first (whatever version the host calls default), then versioned names, newest first. */
const COMPILERS = ['clang', ...Array.from({ length: 9 }, (_, i) => `clang-${22 - i}`)];

/** Where the system compiler looks for <bpf/bpf_helpers.h> (libbpf-dev puts it in /usr/include/bpf). */
export const SYSTEM_INCLUDE_DIRS = ['/usr/local/include', '/usr/include'];

/** libbpf's development files, by package manager, for the message. */
const LIBBPF_DEV = 'libbpf-dev (apt-get install libbpf-dev; dnf install libbpf-devel)';

/** __TARGET_ARCH_<arch> for bpf_tracing.h, by Node.js's process.arch. */
const TARGET_ARCH: Readonly<Record<string, string>> = {
  x64: 'x86',
  arm64: 'arm64',
  s390x: 's390',
  ppc64: 'powerpc',
  riscv64: 'riscv',
};

export interface HostTools {
  /** Directories of PATH. */
  readonly pathDirs: readonly string[];
  readonly systemIncludeDirs: readonly string[];
  readonly arch: string;
}

export function hostTools(): HostTools {
  return {
    pathDirs: (process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''),
    systemIncludeDirs: SYSTEM_INCLUDE_DIRS,
    arch: process.arch,
  };
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface CompileLine {
  /** The compiler found on PATH, or undefined. */
  readonly compiler: string | undefined;
  /** The line to run (with `clang` in it when none was found). */
  readonly command: string;
  /** What to install before it can work: one sentence each. */
  readonly missing: readonly string[];
}

/** The compile line for a BPF program that includes tld.bpf.h, with `cflags` (-I of the packages' headers). */
export function compileLine(cflags: string, tools: HostTools = hostTools()): CompileLine {
  const compiler = COMPILERS.find((name) => tools.pathDirs.some((dir) => executable(join(dir, name))));
  const missing: string[] = [];
  if (compiler === undefined)
    missing.push('no clang on PATH: install clang (apt-get install clang-19; dnf install clang)');
  if (!tools.systemIncludeDirs.some((dir) => existsSync(join(dir, 'bpf', 'bpf_helpers.h')))) {
    missing.push(`no <bpf/bpf_helpers.h> in ${tools.systemIncludeDirs.join(' or ')}: install ${LIBBPF_DEV}`);
  }
  const arch = TARGET_ARCH[tools.arch] ?? tools.arch;
  const command = `${compiler ?? 'clang'} -target bpf -O2 -g -D__TARGET_ARCH_${arch} ${cflags} -I. -c prog.bpf.c -o prog.bpf.o`;
  return { compiler, command, missing };
}
