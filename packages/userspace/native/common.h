// Shared by the native files of @tld/userspace. The native layer is thin on purpose: one-to-one syscall
// wrappers and ownership of the pages shared with the kernel. Validation and decisions live in TypeScript.
#ifndef TLD_USERSPACE_COMMON_H
#define TLD_USERSPACE_COMMON_H

#include <fcntl.h>
#include <napi.h>

#ifndef PIDFD_THREAD
// Linux 6.9 added PIDFD_THREAD (== O_EXCL); older libc headers lack it.
#define PIDFD_THREAD O_EXCL
#endif

namespace tld {

// Throws a JS Error carrying `.syscall` (e.g. "BPF_OBJ_GET"), `.errno` (number) and `.code` ("ENOENT").
// Returns undefined so a binding can `return ThrowSyscallError(...)`.
Napi::Value ThrowSyscallError(Napi::Env env, const char* syscall, int err);

// Page size of the running system (sysconf), cached.
size_t PageSize();

// Registers the syscall wrappers (syscalls.cc) and the page / registration functions (pages.cc) on `exports`.
void InitSyscalls(Napi::Env env, Napi::Object exports);
void InitPages(Napi::Env env, Napi::Object exports);

}  // namespace tld

#endif
