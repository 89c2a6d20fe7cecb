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

inline uint64_t PtrToU64(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// The attr union is zeroed by the callers: the kernel refuses non-zero bytes past the fields it knows.
inline long SysBpf(int cmd, union bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

// Reads a non-negative int32 argument; on failure a TypeError is pending and false is returned.
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what, int32_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what, Napi::Uint8Array* out) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a Uint8Array").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Uint8Array>();
  return true;
}

// objGet(path: string): number — BPF_OBJ_GET of a pinned object; the fd is close-on-exec.
Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "path must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.pathname = PtrToU64(path.c_str());
  long fd = SysBpf(BPF_OBJ_GET, &attr);
  if (fd < 0) return ThrowSyscallError(env, "BPF_OBJ_GET", errno);
  return Napi::Number::New(env, static_cast<double>(fd));
}

// objGetInfoByFd(fd): {type, id, keySize, valueSize, maxEntries, mapFlags, name, btfId} of a map fd.
Napi::Value ObjGetInfoByFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt(info, 0, "fd", &fd)) return env.Undefined();
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof(mi));
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.info.bpf_fd = static_cast<uint32_t>(fd);
  attr.info.info_len = sizeof(mi);
  attr.info.info = PtrToU64(&mi);
  if (SysBpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0) return ThrowSyscallError(env, "BPF_OBJ_GET_INFO_BY_FD", errno);
  Napi::Object out = Napi::Object::New(env);
  out.Set("type", Napi::Number::New(env, mi.type));
  out.Set("id", Napi::Number::New(env, mi.id));
  out.Set("keySize", Napi::Number::New(env, mi.key_size));
  out.Set("valueSize", Napi::Number::New(env, mi.value_size));
  out.Set("maxEntries", Napi::Number::New(env, mi.max_entries));
  out.Set("mapFlags", Napi::Number::New(env, mi.map_flags));
  out.Set("name", Napi::String::New(env, mi.name, strnlen(mi.name, sizeof(mi.name))));
  out.Set("btfId", Napi::Number::New(env, mi.btf_id));
  return out;
}

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

Napi::Value ThrowSyscallError(Napi::Env env, const char* syscall, int err) {
  const char* name = strerrorname_np(err);
  std::string code = name != nullptr ? name : "E" + std::to_string(err);
  Napi::Error error = Napi::Error::New(env, std::string(syscall) + " failed: " + strerror(err) + " (" + code + ")");
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

size_t PageSize() {
  static const size_t size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

void InitSyscalls(Napi::Env env, Napi::Object exports) {
  exports.Set("objGet", Napi::Function::New(env, ObjGet, "objGet"));
  exports.Set("objGetInfoByFd", Napi::Function::New(env, ObjGetInfoByFd, "objGetInfoByFd"));
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
