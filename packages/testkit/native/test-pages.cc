// Test-only native helpers: pages a test registers itself, the way a native library following the protocol would
// (map them, fill them with @tld/protocol, register with BPF_MAP_UPDATE_ELEM), instead of through @tld/userspace.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tld_napi.h"

namespace {

using tld_napi::ThrowErrno;

// pidfdOpenThread(): number
// pidfd_open(gettid(), PIDFD_THREAD): the key of the calling thread's task-storage element (PROTOCOL.md §1).
// The caller closes it.
Napi::Value PidfdOpenThread(const Napi::CallbackInfo &info) {
  constexpr unsigned kPidfdThread = 0x80;  // O_EXCL; older libc headers lack PIDFD_THREAD
  long fd = syscall(SYS_pidfd_open, gettid(), kPidfdThread);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "pidfd_open");
  return Napi::Number::New(info.Env(), static_cast<double>(fd));
}

// Pages handed out by mapPage(): unmapPage() refuses anything else, so it can never unmap V8's own memory.
std::mutex g_pages_mutex;
std::set<void *> g_pages;

// mapPage(): { buffer: ArrayBuffer, address: bigint }
// One zero-filled, page-aligned, writable anonymous page that JavaScript reads and writes in place, for tests
// that register pages of their own. Never freed behind the caller's back: unmapPage() releases it.
Napi::Value MapPage(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  long page = sysconf(_SC_PAGESIZE);
  void *p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ThrowErrno(env, errno, "mmap");
  {
    std::lock_guard<std::mutex> lock(g_pages_mutex);
    g_pages.insert(p);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("buffer", Napi::ArrayBuffer::New(env, p, static_cast<size_t>(page)));
  out.Set("address", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p))));
  return out;
}

// unmapPage(buffer: ArrayBuffer): undefined
// Detaches a mapPage() buffer (later JavaScript access sees length 0, not freed memory) and unmaps it. The caller
// must have deleted every map element that points at the page first (PROTOCOL.md §5).
Napi::Value UnmapPage(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) {
    Napi::TypeError::New(env, "unmapPage(buffer: ArrayBuffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::ArrayBuffer buf = info[0].As<Napi::ArrayBuffer>();
  if (buf.IsDetached()) return env.Undefined();
  void *p = buf.Data();
  size_t len = buf.ByteLength();
  {
    std::lock_guard<std::mutex> lock(g_pages_mutex);
    if (len != static_cast<size_t>(sysconf(_SC_PAGESIZE)) || g_pages.erase(p) == 0) {
      Napi::RangeError::New(env, "unmapPage: not a buffer from mapPage()").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  buf.Detach();
  if (env.IsExceptionPending()) {
    std::lock_guard<std::mutex> lock(g_pages_mutex);
    g_pages.insert(p);  // still mapped and still reachable from JavaScript
    return env.Undefined();
  }
  if (munmap(p, len) != 0) return ThrowErrno(env, errno, "munmap");
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("pidfdOpenThread", Napi::Function::New<PidfdOpenThread>(env, "pidfdOpenThread"));
  exports.Set("mapPage", Napi::Function::New<MapPage>(env, "mapPage"));
  exports.Set("unmapPage", Napi::Function::New<UnmapPage>(env, "unmapPage"));
  return exports;
}

}  // namespace

NODE_API_MODULE(tld_test_pages, Init)
