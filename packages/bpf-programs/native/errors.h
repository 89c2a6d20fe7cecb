// What the loader addon's functions share: libbpf's log captured per call, and errors with errno.
#ifndef TLD_LOADER_ERRORS_H
#define TLD_LOADER_ERRORS_H

#include <napi.h>

#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

namespace tld_loader {

// libbpf reports through one process-wide print callback. Each thread collects what libbpf printed during its
// own call, so a failure's message carries the verifier log or libbpf's reason (libbpf 1.1 turns E2BIG and
// EOPNOTSUPP from map creation into EINVAL; its log still says what the kernel answered).
inline thread_local std::string *tl_log = nullptr;

inline int CaptureLibbpfPrint(enum libbpf_print_level level, const char *fmt, va_list args) {
  if (level == LIBBPF_DEBUG || tl_log == nullptr) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n > 0 && tl_log->size() < 64 * 1024) tl_log->append(buf, std::min<size_t>(n, sizeof(buf) - 1));
  return 0;
}

class LogCapture {
 public:
  LogCapture() { prev_ = tl_log; tl_log = &log_; }
  ~LogCapture() { tl_log = prev_; }
  LogCapture(const LogCapture &) = delete;
  LogCapture &operator=(const LogCapture &) = delete;
  const std::string &text() const { return log_; }

 private:
  std::string log_;
  std::string *prev_;
};

// Throws an Error with .syscall, .errno (positive), .code ("ENOENT") and .log (what libbpf printed), the shape
// @tld/protocol's BpfSyscallError is made from; returns undefined for convenience.
inline Napi::Value ThrowErrno(Napi::Env env, int err, const std::string &what, const std::string &log) {
  if (err < 0) err = -err;
  const char *name = strerrorname_np(err);
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

// Adds mapLookupElem, mapGetNextKey, mapInfo, linkInfo, objGet, perfEventOpen and threadCpuTimeNs
// (native/inspect.cc).
void InitInspect(Napi::Env env, Napi::Object exports);

}  // namespace tld_loader

#endif  // TLD_LOADER_ERRORS_H
