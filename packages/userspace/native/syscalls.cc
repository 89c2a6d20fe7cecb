// One-to-one wrappers of bpf(2) commands, pidfd_open(2), close(2) and gettid(2). No libbpf: these few commands
// are direct syscalls, so installing @tld/userspace needs only a C++ toolchain.
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "common.h"

namespace tld {

namespace {

using tld_napi::ArgBytes;
using tld_napi::ArgInt;
using tld_napi::PtrToU64;
using tld_napi::SysBpf;

// mapLookupElem(fd, key: Uint8Array, valueSize): Uint8Array (a copy of the value).
Napi::Value MapLookupElem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd, valueSize;
  Napi::Uint8Array key;
  if (!ArgInt(info, 0, "fd", &fd) || !ArgBytes(info, 1, "key", &key) || !ArgInt(info, 2, "valueSize", &valueSize))
    return env.Undefined();
  if (valueSize <= 0) {
    Napi::RangeError::New(env, "valueSize must be positive").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array value = Napi::Uint8Array::New(env, static_cast<size_t>(valueSize));
  if (MapElemCommand(BPF_MAP_LOOKUP_ELEM, fd, key.Data(), value.Data(), 0) < 0)
    return ThrowSyscallError(env, "BPF_MAP_LOOKUP_ELEM", errno);
  return value;
}

// openThreadPidfd(): number — pidfd_open(gettid(), PIDFD_THREAD), the calling thread's map key; close-on-exec.
Napi::Value OpenThreadPidfd(const Napi::CallbackInfo& info) {
  int fd = OpenOwnPidfd();
  if (fd < 0) return ThrowSyscallError(info.Env(), "pidfd_open", errno);
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// close(fd): undefined.
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt(info, 0, "fd", &fd)) return env.Undefined();
  if (close(fd) < 0) return ThrowSyscallError(env, "close", errno);
  return env.Undefined();
}

// gettid(): number — the calling OS thread's id.
Napi::Value GetTid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

// pageSize(): number.
Napi::Value GetPageSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(PageSize()));
}

}  // namespace

int MapElemCommand(int cmd, int fd, const void* key, void* value, uint64_t flags) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<uint32_t>(fd);
  attr.key = PtrToU64(key);
  attr.value = PtrToU64(value);
  attr.flags = flags;
  return SysBpf(cmd, &attr) < 0 ? -1 : 0;
}

int OpenOwnPidfd() {
  return static_cast<int>(syscall(__NR_pidfd_open, static_cast<pid_t>(syscall(SYS_gettid)), PIDFD_THREAD));
}

size_t PageSize() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

void InitSyscalls(Napi::Env env, Napi::Object exports) {
  exports.Set("objGet", Napi::Function::New(env, tld_napi::ObjGet, "objGet"));
  exports.Set("objGetInfoByFd", Napi::Function::New(env, tld_napi::MapInfo, "objGetInfoByFd"));
  exports.Set("mapLookupElem", Napi::Function::New(env, MapLookupElem, "mapLookupElem"));
  exports.Set("openThreadPidfd", Napi::Function::New(env, OpenThreadPidfd, "openThreadPidfd"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("gettid", Napi::Function::New(env, GetTid, "gettid"));
  exports.Set("pageSize", Napi::Function::New(env, GetPageSize, "pageSize"));
  // Kernel constants, taken from the uapi headers this file was compiled against.
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("BPF_MAP_TYPE_TASK_STORAGE", Napi::Number::New(env, BPF_MAP_TYPE_TASK_STORAGE));
  exports.Set("constants", constants);
}

}  // namespace tld
