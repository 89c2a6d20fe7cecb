// Shared by the native files of @tld/userspace. The native layer is thin on purpose: one-to-one syscall
// wrappers and ownership of the pages shared with the kernel. Validation and decisions live in TypeScript.
#ifndef TLD_USERSPACE_COMMON_H
#define TLD_USERSPACE_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <napi.h>

#include "tld_napi.h"

#ifndef PIDFD_THREAD
// Linux 6.9 added PIDFD_THREAD (== O_EXCL); older libc headers lack it.
#define PIDFD_THREAD O_EXCL
#endif

namespace tld {

// Throws a JS Error carrying `.syscall` (e.g. "BPF_OBJ_GET"), `.errno` (number) and `.code` ("ENOENT").
// Returns undefined so a binding can `return ThrowSyscallError(...)`.
inline Napi::Value ThrowSyscallError(Napi::Env env, const char* syscall, int err) {
  return tld_napi::ThrowErrno(env, err, syscall);
}

// BPF_MAP_{UPDATE,DELETE,LOOKUP}_ELEM on map `fd`: 0, or -1 with errno set. `value` is unused by delete.
int MapElemCommand(int cmd, int fd, const void* key, void* value, uint64_t flags);

// pidfd_open(gettid(), PIDFD_THREAD): the calling thread's key in a task-storage map (PROTOCOL.md §1, §5);
// -1 with errno set on failure. The caller closes it.
int OpenOwnPidfd();

// Page size of the running system (sysconf), cached.
size_t PageSize();

// Registers the syscall wrappers (syscalls.cc) and the page functions (pages.cc) on `exports`.
void InitSyscalls(Napi::Env env, Napi::Object exports);
void InitPages(Napi::Env env, Napi::Object exports);

}  // namespace tld

#endif
