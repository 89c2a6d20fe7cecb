// The native addon (native/*.cc): one-to-one syscall wrappers and the pages shared with the kernel.
// Every function throws an Error with `.syscall`, `.errno` and `.code` when its syscall fails.
import { createRequire } from 'node:module';

/** What BPF_OBJ_GET_INFO_BY_FD reports about a map. */
export interface MapInfo {
  readonly type: number;
  readonly id: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly name: string;
  readonly btfId: number;
}

export interface NativeBinding {
  objGet(path: string): number;
  objGetInfoByFd(fd: number): MapInfo;
  mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number): void;
  mapDeleteElem(fd: number, key: Uint8Array): void;
  mapLookupElem(fd: number, key: Uint8Array, valueSize: number): Uint8Array;
  pidfdOpen(pid: number, flags: number): number;
  close(fd: number): void;
  gettid(): number;
  pageSize(): number;
  /** The process's metadata page (tld_meta_p), created on first use; never freed. */
  metaPage(): ArrayBuffer;
  metaPageAddress(): bigint;
  /** This thread's data page (tld_data_p), created on first use unless other native code set it. */
  threadDataPage(): ArrayBuffer;
  threadDataPageAddress(): bigint;
  ownsThreadDataPage(): boolean;
  /** pidfd_open(gettid(), PIDFD_THREAD) → BPF_MAP_UPDATE_ELEM(BPF_ANY) → close; returns a handle (a dup'd map fd). */
  registerThread(mapFd: number, value: Uint8Array): number;
  /** Deletes this thread's element from the handle's map (ENOENT is fine) and forgets the handle. */
  unregisterThread(handle: number): void;
  registrationCount(): number;
  /** Frees this thread's data page when we mapped it and no map registers it; returns whether it did. */
  releaseThreadDataPage(): boolean;
  readonly constants: {
    readonly BPF_MAP_TYPE_TASK_STORAGE: number;
    readonly BPF_ANY: number;
    readonly BPF_F_NO_PREALLOC: number;
    readonly PIDFD_THREAD: number;
  };
}

const ADDON_PATH = '../build/Release/tld_userspace.node';

function load(): NativeBinding {
  try {
    return createRequire(import.meta.url)(ADDON_PATH) as NativeBinding;
  } catch (error) {
    throw new Error(
      `@tld/userspace: cannot load its native addon (${ADDON_PATH}): build it with \`pnpm --filter @tld/userspace build\` ` +
        '(needs a C++ toolchain and Node headers)',
      { cause: error },
    );
  }
}

/** The addon, loaded once per environment (main thread or worker). */
export const native: NativeBinding = load();
