// Registering the calling thread in the map (PROTOCOL.md §5) and the pages it registers (§2, §4): the addon holds
// the registrations and the pages; this file decides what to register and turns failures into typed errors.
import {
  ProtocolErrorCode,
  TldError,
  type Layout,
  TypedArrayMemory,
  decodeMapValue,
  encodeMapValue,
  initDataPage,
  initMetaPage,
  readDataStart,
} from '@tld/protocol';
import { BpfSyscallError, NotSupportedError, UserspaceErrorCode, syscallError } from './errors.js';
import { type MapInfo, native } from './native.js';

function deniedError(what: string, cause: unknown): TldError {
  return new TldError(
    UserspaceErrorCode.PERMISSION,
    `${what}: permission denied by the kernel, which lets any process use an open map's fd for these calls, ` +
      'so a seccomp filter or a security module (SELinux, AppArmor, lockdown) is denying this process: allow bpf() ' +
      'and pidfd_open() for it',
    { cause },
  );
}

/** This thread's pidfd as a map key; the caller closes the pidfd. */
function openOwnPidfd(): { pidfd: number; key: Uint8Array } {
  let pidfd: number;
  try {
    pidfd = native.openThreadPidfd();
  } catch (raw) {
    throw translateRegistrationError(syscallError(raw, "opening this thread's pidfd"));
  }
  const key = new Uint8Array(4);
  new DataView(key.buffer).setInt32(0, pidfd, true);
  return { pidfd, key };
}

function translateRegistrationError(error: unknown): unknown {
  if (error instanceof BpfSyscallError) {
    if (error.syscall === 'pidfd_open' && error.errnoCode === 'EINVAL') {
      return new NotSupportedError('PIDFD_THREAD', '6.9', `pidfd_open(gettid(), PIDFD_THREAD) failed with EINVAL: thread pidfds need Linux 6.9 or later`, {
        cause: error,
      });
    }
    if (error.syscall === 'pidfd_open' && error.errnoCode === 'ENOSYS') {
      return new NotSupportedError('pidfd_open', '5.3', 'pidfd_open is not available: it needs Linux 5.3 or later', { cause: error });
    }
    if (error.errnoCode === 'EPERM' || error.errnoCode === 'EACCES') {
      return deniedError(`${error.syscall} while registering this thread`, error);
    }
    if (error.syscall === 'BPF_MAP_UPDATE_ELEM' && (error.errnoCode === 'EFAULT' || error.errnoCode === 'EOPNOTSUPP')) {
      // PROTOCOL.md §1: EFAULT for a read-only or unmapped page, EOPNOTSUPP for a struct spanning two pages.
      // Our own pages are neither, so the pages came from other native code through tld_meta_p / tld_data_p.
      return new TldError(
        ProtocolErrorCode.BAD_LAYOUT,
        `the kernel cannot pin this thread's pages (${error.errnoCode}): ` +
          (error.errnoCode === 'EFAULT'
            ? 'a page installed by other native code as tld_meta_p or tld_data_p is read-only or unmapped'
            : 'a page installed by other native code as tld_meta_p or tld_data_p is not contained in one page') +
          ': install writable, page-aligned pages (PROTOCOL.md §2, §4)',
        { cause: error },
      );
    }
    if (error.errnoCode === 'ENOMEM') {
      return new BpfSyscallError(
        error.syscall,
        error.errno,
        error.errnoCode,
        `${error.message}: the kernel ran out of memory for this thread's task storage or for pinning its pages; ` +
          'free memory, or close TaskLocalData on threads that no longer need it',
      );
    }
  }
  return error;
}

/**
 * Checks that the kernel treats the map value's pointers as uptrs: a user-space lookup then returns them
 * zeroed (PROTOCOL.md §1). Seeing our own addresses means the map's BTF lacks the "uptr" tag.
 */
function verifyUptr(fd: number, valueSize: number, source: string): void {
  const { pidfd, key } = openOwnPidfd();
  let value: Uint8Array;
  try {
    value = native.mapLookupElem(fd, key, valueSize);
  } catch (raw) {
    throw syscallError(raw, `looking up this thread's element in ${source}`);
  } finally {
    native.close(pidfd);
  }
  const { data, meta } = decodeMapValue(value);
  if (data !== 0n || meta !== 0n) {
    throw new NotSupportedError(
      'uptr fields in BPF_MAP_TYPE_TASK_STORAGE values',
      '6.13',
      `${source} stores the page addresses as plain numbers instead of pinning the pages: the kernel is older than ` +
        "6.13 or the map's BTF does not tag struct tld_map_value's pointers as __uptr (clang emits the pointee as a " +
        'forward declaration unless the BPF object uses it: add globals `struct tld_data_u tld_data_dummy; ' +
        'struct tld_meta_u tld_meta_dummy;` to the object that declares the map)',
    );
  }
}

/** Frees this thread's data page when no map registers it (the addon decides; it holds the registrations). */
export function releaseUnusedPage(): void {
  native.releaseThreadDataPage();
}

/** The pages this thread registers: a page the addon creates is filled by @tld/protocol before anyone sees it. */
export function openPages(layout: Layout): { meta: ArrayBuffer; data: ArrayBuffer } {
  const meta = native.metaPage((page) => initMetaPage(new TypedArrayMemory(page), layout));
  const data = native.threadDataPage((page) => initDataPage(new Uint8Array(page)));
  checkDataPage(data, layout);
  return { meta, data };
}

/**
 * Registers this thread in the map (once per map per thread; later opens share it) and returns the handle.
 * On any failure nothing stays registered and a page nobody uses is released.
 */
export function acquireRegistration(fd: number, info: MapInfo, source: string, dataPage: ArrayBuffer): number {
  const value = encodeMapValue(
    {
      data: native.threadDataPageAddress(),
      meta: native.metaPageAddress(),
      start: readDataStart(new Uint8Array(dataPage)),
    },
    info.valueSize,
  );
  let handle: number;
  try {
    const registration = native.registerThread(fd, info.id, value);
    if (!registration.created) return registration.handle;
    handle = registration.handle;
  } catch (raw) {
    releaseUnusedPage();
    throw translateRegistrationError(syscallError(raw, `registering this thread in ${source}`));
  }
  try {
    verifyUptr(fd, info.valueSize, source);
  } catch (error) {
    try {
      native.unregisterThread(handle);
      releaseUnusedPage();
    } catch {
      // The element could not be deleted: the addon keeps the page (never freed while registered) and retries
      // at thread exit.
    }
    throw error;
  }
  return handle;
}

/** Values are 8-aligned only if data[] is: refuse a foreign data page whose `start` breaks that. */
function checkDataPage(data: ArrayBuffer, layout: Layout): void {
  const start = readDataStart(new Uint8Array(data));
  if (start % 8 !== 0 || start >= data.byteLength || data.byteLength > layout.pageSize) {
    releaseUnusedPage();
    throw new TldError(
      ProtocolErrorCode.BAD_LAYOUT,
      `this thread's data page (tld_data_p, set by other native code) has start ${start}: data[] must begin at an ` +
        '8-byte aligned offset inside the page (PROTOCOL.md §2)',
    );
  }
}
