// The libbpf loader addon (native/loader.cc). Each function throws an Error with `.syscall`, `.errno`, `.code`
// and `.log` when libbpf or the kernel refuses; callNative() turns those into BpfSyscallError.
import { createRequire } from 'node:module';
import { BpfSyscallError } from '@tld/protocol';

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

/** bpf_map_info, as the addon returns it. */
export interface NativeMapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  name: string;
}

export interface LoaderAddon {
  LoadedObject: new (path: string, pins: Record<string, string | null>) => NativeLoadedObject;
  testRun(progFd: number, ctx: Uint8Array): number;
  gettid(): number;
  mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
  mapDeleteElem(fd: number, key: Uint8Array): void;
  mapLookupElem(fd: number, key: Uint8Array, value: Uint8Array): boolean;
  mapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean;
  mapInfo(fd: number): NativeMapInfo;
  linkInfo(fd: number): { type: number; id: number; progId: number };
  perfEventOpen(type: number, config: number, sampleFreq: number, pid: number, cpu: number): number;
  threadCpuTimeNs(): number;
}

const ADDON_PATH = '../build/Release/tld_loader.node';

function load(): LoaderAddon {
  try {
    return createRequire(import.meta.url)(ADDON_PATH) as LoaderAddon;
  } catch (error) {
    throw new Error(
      `@tld/bpf-programs: cannot load its libbpf loader addon (${ADDON_PATH}): it is built with the package ` +
        '(node-gyp, needs libbpf-dev and a C++ toolchain)',
      { cause: error },
    );
  }
}

export const addon: LoaderAddon = load();

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
