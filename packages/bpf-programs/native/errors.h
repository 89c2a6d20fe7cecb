// What the loader addon's functions share: libbpf's log captured per call, and errors with errno.
#ifndef TLD_LOADER_ERRORS_H
#define TLD_LOADER_ERRORS_H

#include <napi.h>

#include <bpf/libbpf.h>

#include "tld_napi.h"

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

// Errors with errno, in the shape every addon of the project throws (@tld/native's tld_napi.h).
using tld_napi::ThrowErrno;

// Adds mapLookupElem, mapGetNextKey, mapInfo, linkInfo, objGet, perfEventOpen and threadCpuTimeNs
// (native/inspect.cc).
void InitInspect(Napi::Env env, Napi::Object exports);

}  // namespace tld_loader

#endif  // TLD_LOADER_ERRORS_H
