// What the native addons of task local data share (@tld/userspace, @tld/bpf-programs and @tld/testkit's test
// addon): errors that carry errno, argument checks, BPF_OBJ_GET and map info. Header-only; no libbpf, so
// @tld/userspace builds with a C++ toolchain alone. Each addon includes it from @tld/native's include/ (binding.gyp).
#ifndef TLD_NAPI_H
#define TLD_NAPI_H

#include <napi.h>

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace tld_napi {

// Throws an Error with .syscall (what failed), .errno (positive), .code ("ENOENT") and .log (what libbpf printed,
// or ""): the shape the TypeScript side turns into @tld/protocol's BpfSyscallError. The message is
// "<what>: <strerror>", then the log. Returns undefined so a binding can `return ThrowErrno(...)`.
inline Napi::Value ThrowErrno(Napi::Env env, int err, const std::string& what, const std::string& log = "") {
  if (err < 0) err = -err;
  const char* name = strerrorname_np(err);
  std::string msg = what + ": " + std::strerror(err);
  if (!log.empty()) msg += "\nlibbpf log:\n" + log;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, name != nullptr ? name : "E" + std::to_string(err)));
  e.Set("syscall", Napi::String::New(env, what));
  e.Set("log", Napi::String::New(env, log));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Throws a TypeError naming the call's signature; returns undefined. TypeScript validates every argument before
// calling, so this only guards against a caller bypassing it.
inline Napi::Value ThrowUsage(Napi::Env env, const char* signature) {
  Napi::TypeError::New(env, signature).ThrowAsJavaScriptException();
  return env.Undefined();
}

inline bool IsUint8Array(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
}

// Argument i as an int32 (a number); on failure a TypeError "<what> must be a number" is pending, false returned.
inline bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* what, int32_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a number").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

// Argument i as a Uint8Array; on failure a TypeError is pending and false returned.
inline bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* what, Napi::Uint8Array* out) {
  if (info.Length() <= i || !IsUint8Array(info[i])) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a Uint8Array").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Uint8Array>();
  return true;
}

// Argument i as a string; on failure a TypeError is pending and false returned.
inline bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* what, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

inline uint64_t PtrToU64(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// bpf(2) without libbpf. The attr union must be zeroed by the caller: the kernel refuses non-zero bytes past the
// fields it knows.
inline long SysBpf(int cmd, union bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

// objGet(path: string): number — BPF_OBJ_GET: an fd of the object pinned at `path` (close-on-exec). The caller
// closes it.
inline Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ArgString(info, 0, "path", &path)) return env.Undefined();
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.pathname = PtrToU64(path.c_str());
  long fd = SysBpf(BPF_OBJ_GET, &attr);
  if (fd < 0) return ThrowErrno(env, errno, "BPF_OBJ_GET");
  return Napi::Number::New(env, static_cast<double>(fd));
}

// mapInfo(fd: number): { type, id, keySize, valueSize, maxEntries, mapFlags, name, btfId } —
// BPF_OBJ_GET_INFO_BY_FD of a map fd, one shape for every addon.
inline Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd;
  if (!ArgInt(info, 0, "fd", &fd)) return env.Undefined();
  struct bpf_map_info mi;
  std::memset(&mi, 0, sizeof(mi));
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.info.bpf_fd = static_cast<uint32_t>(fd);
  attr.info.info_len = sizeof(mi);
  attr.info.info = PtrToU64(&mi);
  if (SysBpf(BPF_OBJ_GET_INFO_BY_FD, &attr) < 0) return ThrowErrno(env, errno, "BPF_OBJ_GET_INFO_BY_FD");
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

}  // namespace tld_napi

#endif  // TLD_NAPI_H
