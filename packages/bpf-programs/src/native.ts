// The libbpf loader addon (native/loader.cc). Each function throws an Error with `.syscall`, `.errno`, `.code`
// and `.log` when libbpf or the kernel refuses; loader.ts turns those into BpfSyscallError.
import { createRequire } from 'node:module';

export interface NativeLoadedObject {
  maps(): Record<string, number>;
  progs(): Record<string, number>;
  createdPins(): string[];
  attach(program: string): void;
  iterate(program: string, pid: number): Uint8Array;
  close(): void;
}

export interface LoaderAddon {
  LoadedObject: new (path: string, pins: Record<string, string | number | null>) => NativeLoadedObject;
  testRun(progFd: number, ctx: Uint8Array): number;
  gettid(): number;
  mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
  mapDeleteElem(fd: number, key: Uint8Array): void;
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
