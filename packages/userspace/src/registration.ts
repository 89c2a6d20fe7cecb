// Registering the calling thread in the map (PROTOCOL.md §5): the addon holds the registrations and the pages;
// this file decides what to register and turns failures into typed errors.
//
// A registration is never replaced: the thread registers with BPF_NOEXIST. An element that already exists was
// made by other code in the process. If we adopted that code's pages (tld_data_p was set before us), its element
// names them and we share it untouched; otherwise it names pages we do not share, and open() refuses.
import { type Layout, ProtocolErrorCode, TldError, decodeMapValue, encodeMapValue } from '@tld/protocol';
import { BpfSyscallError, NotSupportedError, UserspaceErrorCode, isErrno, syscallError } from './errors.js';
import { type MapInfo, native } from './native.js';
import { type ThreadPages, openPages } from './thread-pages.js';

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

function foreignRegistrationError(source: string, info: MapInfo, cause: unknown): TldError {
  return new TldError(
    UserspaceErrorCode.FOREIGN_REGISTRATION,
    `this thread is already registered in ${source} (map id ${info.id}) with pages @tld/userspace does not share, ` +
      "and nothing was changed: replacing that element could hide its owner's values from BPF. Two causes make " +
      'such an element. (1) Other code in this process: a native library using the task-local-data C library ' +
      'loaded with RTLD_LOCAL before @tld/userspace (so the process has two tld_meta_p / tld_data_p), or a second ' +
      'copy of this addon; fix: load @tld/userspace before that library, or load the library with RTLD_GLOBAL so ' +
      'both share one page (PROTOCOL.md §7). (2) Another process that can open the map: whoever has read and write ' +
      'permission on the pin (its owner, its group when the mode grants it) can create an element for any task of ' +
      'the host, this one included; fix: check who can open the pin (`ls -l` of it and of its directory) and ' +
      'restrict it to trusted users (`tld map create --mode 0600`, or a group of trusted users only)',
    { cause },
  );
}

function translateRegistrationError(error: unknown): unknown {
  if (error instanceof BpfSyscallError) {
    if (error.syscall === 'pidfd_open' && error.errnoCode === 'EINVAL') {
      return new NotSupportedError(
        'PIDFD_THREAD',
        '6.9',
        `pidfd_open(gettid(), PIDFD_THREAD) failed with EINVAL: thread pidfds need Linux 6.9 or later`,
        {
          cause: error,
        },
      );
    }
    if (error.syscall === 'pidfd_open' && error.errnoCode === 'ENOSYS') {
      return new NotSupportedError('pidfd_open', '5.3', 'pidfd_open is not available: it needs Linux 5.3 or later', {
        cause: error,
      });
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
          'free memory, or end threads that no longer need task-local data',
      );
    }
  }
  return error;
}

/**
 * Checks that the kernel treats the map value's pointers as uptrs: a user-space lookup then returns them
 * zeroed (PROTOCOL.md §1). Seeing non-zero addresses means the map's BTF lacks the "uptr" tag.
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

/** Registers this thread in the map with `pages`, or finds its registration. On failure nothing new stays registered. */
function acquireRegistration(fd: number, info: MapInfo, source: string, pages: ThreadPages): void {
  const value = encodeMapValue(pages.value, info.valueSize);
  let registration: { handle: number; fresh: boolean };
  try {
    registration = native.registerThread(fd, info.id, value, pages.adopted);
  } catch (raw) {
    const error = syscallError(raw, `registering this thread in ${source}`);
    if (isErrno(error, 'EEXIST')) throw foreignRegistrationError(source, info, error);
    throw translateRegistrationError(error);
  }
  if (!registration.fresh) return;
  try {
    verifyUptr(fd, info.valueSize, source);
  } catch (error) {
    try {
      native.dropRegistration(registration.handle);
    } catch {
      // The element could not be deleted: the addon keeps it and the page (never freed while registered) and
      // retries at thread exit.
    }
    throw error;
  }
}

/**
 * The pages of the calling thread, registered in the map (once per map and thread: later opens share it, and
 * it lasts until the thread exits). On failure nothing new stays registered, and a page this call mapped is freed.
 */
export function registerThreadPages(fd: number, info: MapInfo, source: string, layout: Layout): ThreadPages {
  const pages = openPages(layout, info.valueSize);
  try {
    acquireRegistration(fd, info, source, pages);
  } catch (error) {
    if (pages.createdHere) native.releaseThreadDataPage();
    throw error;
  }
  return pages;
}
