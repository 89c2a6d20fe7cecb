// The libbpf loader addon (native/loader.cc). Each function throws an Error with `.syscall`, `.errno`, `.code`
// and `.log` when libbpf or the kernel refuses; callNative() turns those into BpfSyscallError.
import { type MapInfo, loadAddon } from '@tld/native';
import { BpfSyscallError } from '@tld/protocol';
import { fileURLToPath } from 'node:url';

export interface NativeLoadedObject {
  maps(): Record<string, number>;
  progs(): Record<string, number>;
  createdPins(): string[];
  /** bpf_program__attach(); returns the link's index in this object. */
  attach(program: string): number;
  /** bpf_program__attach_perf_event(); the link owns perfFd once this returns. */
  attachPerfEvent(program: string, perfFd: number): number;
  /** The link's fd; -1 once destroyed. */
  linkFd(link: number): number;
  /** bpf_link__destroy(); idempotent. */
  destroyLink(link: number): void;
  /** Destroys every link, then closes the object. */
  close(): void;
}

export interface LoaderAddon {
  LoadedObject: new (
    path: string,
    pins: Record<string, string | number | null>,
    initial: Readonly<Record<string, Uint8Array>>,
  ) => NativeLoadedObject;
  testRun(progFd: number, ctx: Uint8Array): number;
  /** Attaches iterator program `progFd` (pid > 0: only that process's tasks) and reads its output to the end. */
  iterRead(progFd: number, pid: number): Uint8Array;
  /** libbpf_version_string(), e.g. "v1.1". */
  libbpfVersion(): string;
  gettid(): number;
  mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
  mapDeleteElem(fd: number, key: Uint8Array): void;
  mapLookupElem(fd: number, key: Uint8Array, value: Uint8Array): boolean;
  mapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean;
  mapInfo(fd: number): MapInfo;
  /** BPF_OBJ_GET: an fd of the object pinned at `path`; the caller closes it. */
  objGet(path: string): number;
  linkInfo(fd: number): { type: number; id: number; progId: number };
  perfEventOpen(type: number, config: number, sampleFreq: number, pid: number, cpu: number): number;
  threadCpuTimeNs(): number;
}

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** The addon links libbpf, which links libelf and zlib: a missing runtime library is a package to install. */
function missingLibraryHint(error: unknown): string | undefined {
  const match = /(lib(?:bpf|elf|z)\.so\.\d+): cannot open shared object file/.exec(String(error));
  if (!match) return undefined;
  return (
    `${match[1]} is not installed. The loader addon needs libbpf's runtime library (libbpf.so.1, which needs ` +
    'libelf.so.1 and libz.so.1): install it with `apt-get install libbpf1` on Debian and Ubuntu, ' +
    '`dnf install libbpf` on Fedora and RHEL'
  );
}

/** Throws TldError ERR_TLD_ADDON (from @tld/native) when the addon is missing or does not load. */
export const addon: LoaderAddon = loadAddon<LoaderAddon>({
  packageName: '@tld/bpf-programs',
  packageDir,
  what: 'libbpf loader addon',
  buildNeeds: 'libbpf-dev',
  loadHint: missingLibraryHint,
});

/** Shape of what the addon throws. */
interface NativeError extends Error {
  syscall?: string;
  errno?: number;
  code?: string;
  log?: string;
}

/** Runs a native call; a libbpf or kernel failure becomes a BpfSyscallError whose message starts with `what`. */
export function callNative<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (raw) {
    const e = raw as NativeError;
    if (typeof e.errno !== 'number') throw raw;
    throw new BpfSyscallError(e.syscall ?? what, e.errno, e.code ?? `E${e.errno}`, `${what}: ${e.message}`, {
      cause: raw,
      log: e.log ?? '',
    });
  }
}
