// The native addon (native/*.cc): one-to-one syscall wrappers and the pages shared with the kernel.
// Every function throws an Error with `.syscall`, `.errno` and `.code` when its syscall fails.
import { fileURLToPath } from 'node:url';
import { type MapInfo, loadAddon } from '@tld/native';

export type { MapInfo };

export interface NativeBinding {
  objGet(path: string): number;
  objGetInfoByFd(fd: number): MapInfo;
  mapLookupElem(fd: number, key: Uint8Array, valueSize: number): Uint8Array;
  /** pidfd_open(gettid(), PIDFD_THREAD): the calling thread's key in a task-storage map. */
  openThreadPidfd(): number;
  close(fd: number): void;
  gettid(): number;
  pageSize(): number;
  /**
   * The process's metadata page (tld_meta_p), created on first use and passed to `initialize` before it is
   * installed; never freed.
   */
  metaPage(initialize: (page: ArrayBuffer) => void): ArrayBuffer;
  metaPageAddress(): bigint;
  /** Whether tld_meta_p is the page this addon created (false: other code installed it first). */
  metaPageOwned(): boolean;
  /**
   * This thread's data page (tld_data_p), from its address to the end of its page: created on first use (and
   * passed to `initialize`) unless other native code set it.
   */
  threadDataPage(initialize: (page: ArrayBuffer) => void): ArrayBuffer;
  threadDataPageAddress(): bigint;
  /** Whether tld_data_p is a page this addon mapped (false: none yet, or other code's block). */
  threadDataPageOwned(): boolean;
  /**
   * Registers this thread in map `mapId`: pidfd_open(gettid(), PIDFD_THREAD) → BPF_MAP_UPDATE_ELEM(BPF_NOEXIST)
   * → close. An existing registration of this thread through the addon is returned as is (fresh: false). When
   * the thread already has an element, `shareExisting` records it untouched (ours: false); otherwise the EEXIST
   * is thrown. The handle is a dup'd map fd, kept until the thread exits.
   */
  registerThread(
    mapFd: number,
    mapId: number,
    value: Uint8Array,
    shareExisting: boolean,
  ): { handle: number; fresh: boolean; ours: boolean };
  /** Undoes a fresh registration open() cannot use: deletes the element if ours, forgets the handle. */
  dropRegistration(handle: number): void;
  /** Maps this thread is registered in. */
  registrationCount(): number;
  /** PROTOCOL.md §3's compare-exchange of cnt, name write and size publish as one uninterruptible step. */
  claimSlot(meta: Uint8Array, expectedCnt: number, index: number, nameField: Uint8Array, size: number): boolean;
  /** Frees this thread's data page when we mapped it and no map registers it; returns whether it did. */
  releaseThreadDataPage(): boolean;
  readonly constants: {
    readonly BPF_MAP_TYPE_TASK_STORAGE: number;
  };
}

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * The addon, loaded once per environment (main thread or worker), with RTLD_GLOBAL: its weak tld_meta_p and
 * tld_data_p (PROTOCOL.md §4) then join the global symbol scope, so native libraries loaded later bind to them and
 * share our pages. A library that defined them globally before us wins instead, and we adopt its pages.
 * Throws TldError ERR_TLD_ADDON (from @tld/native) when the addon is missing or does not load.
 */
export const native: NativeBinding = loadAddon<NativeBinding>({
  packageName: '@tld/userspace',
  packageDir,
  what: 'native addon',
  global: true,
});
