// This thread's elements in task-storage maps (PROTOCOL.md §5): registering with BPF_NOEXIST, sharing an element
// another library made for the pages we adopted, and deleting our elements at thread exit.
//
// A registration lasts until the thread exits. Native code on the thread may have read tld_data_p and kept
// pointers into the page, and relies on BPF seeing it: deleting the element or unmapping the page while the
// thread runs would hide its values or crash it. The environment cleanup hook (pages.cc) deletes the elements on
// the thread's own thread, then frees the page.
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <unistd.h>

#include "common.h"
#include "thread-state.h"

namespace tld {

namespace {

// Deletes this thread's element from the map behind `mapFd`; returns 0 or an errno (ENOENT counts as success).
int DeleteOwnElement(int mapFd) {
  int pidfd = OpenOwnPidfd();
  if (pidfd < 0) return errno;
  int err = MapElemCommand(BPF_MAP_DELETE_ELEM, mapFd, &pidfd, nullptr, 0) < 0 ? errno : 0;
  close(pidfd);
  return err == ENOENT ? 0 : err;
}

Registration* FindRegistration(ThreadState* st, uint32_t mapId) {
  for (Registration& reg : st->registrations) {
    if (reg.mapId == mapId) return &reg;
  }
  return nullptr;
}

Registration* FindHandle(ThreadState* st, int handle) {
  for (Registration& reg : st->registrations) {
    if (reg.fd == handle) return &reg;
  }
  return nullptr;
}

Napi::Object RegistrationResult(Napi::Env env, const Registration& reg, bool fresh) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("handle", reg.fd);
  result.Set("fresh", fresh);
  result.Set("ours", reg.ours);
  return result;
}

// registerThread(mapFd, mapId, value: Uint8Array, shareExisting: boolean): { handle, fresh, ours }.
// When this thread is already registered in map `mapId` through this addon, returns that registration
// (fresh: false). Otherwise pidfd_open(gettid(), PIDFD_THREAD), BPF_MAP_UPDATE_ELEM(BPF_NOEXIST), close: a new
// element is ours. When the thread already has an element (EEXIST) and `shareExisting` is set, the element is
// another library's, made for the pages we adopted from it: it is recorded without being touched (ours: false).
// Without `shareExisting`, EEXIST is thrown: we never replace a registration we did not make. The handle is a
// dup of the map fd kept until thread exit. On failure nothing is registered and nothing stays open.
Napi::Value RegisterThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !info[3].IsBoolean()) {
    Napi::TypeError::New(env, "registerThread(mapFd: number, mapId: number, value: Uint8Array, shareExisting: boolean)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ThreadState* st = CurrentThread();
  int mapFd = info[0].As<Napi::Number>().Int32Value();
  uint32_t mapId = info[1].As<Napi::Number>().Uint32Value();
  Napi::Uint8Array value = info[2].As<Napi::Uint8Array>();
  bool shareExisting = info[3].As<Napi::Boolean>().Value();
  Registration* existing = FindRegistration(st, mapId);
  if (existing != nullptr) return RegistrationResult(env, *existing, false);

  st->registrations.reserve(st->registrations.size() + 1);  // so recording cannot fail after the update
  int dup = fcntl(mapFd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return ThrowSyscallError(env, "dup", errno);
  int pidfd = OpenOwnPidfd();
  if (pidfd < 0) {
    int err = errno;
    close(dup);
    return ThrowSyscallError(env, "pidfd_open", err);
  }
  bool ours = true;
  if (MapElemCommand(BPF_MAP_UPDATE_ELEM, dup, &pidfd, value.Data(), BPF_NOEXIST) < 0) {
    int err = errno;
    if (err != EEXIST || !shareExisting) {
      close(pidfd);
      close(dup);
      return ThrowSyscallError(env, "BPF_MAP_UPDATE_ELEM", err);
    }
    ours = false;
  }
  close(pidfd);
  st->registrations.push_back(Registration{dup, mapId, ours});
  return RegistrationResult(env, st->registrations.back(), true);
}

// dropRegistration(handle): undefined — undoes a registerThread() whose element turned out unusable (open()
// failing after it): deletes the element if we made it (ENOENT: already gone, fine) and forgets the handle.
// When the delete fails the registration is kept (teardown retries) and the error is thrown.
Napi::Value DropRegistration(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "dropRegistration(handle: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ThreadState* st = CurrentThread();
  Registration* reg = FindHandle(st, info[0].As<Napi::Number>().Int32Value());
  if (reg == nullptr) {
    Napi::Error::New(env, "not a registration handle of this thread").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (reg->ours) {
    int err = DeleteOwnElement(reg->fd);
    if (err != 0) return ThrowSyscallError(env, "BPF_MAP_DELETE_ELEM", err);
  }
  close(reg->fd);
  st->registrations.erase(st->registrations.begin() + (reg - st->registrations.data()));
  return env.Undefined();
}

// registrationCount(): number — maps this thread is registered in through this addon.
Napi::Value RegistrationCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CurrentThread()->registrations.size()));
}

}  // namespace

bool DeleteOwnElements(ThreadState* st) {
  bool all = true;
  for (const Registration& reg : st->registrations) {
    // Another library's element is left to the kernel, which deletes it when the thread exits.
    if (reg.ours && DeleteOwnElement(reg.fd) != 0) all = false;
    close(reg.fd);
  }
  st->registrations.clear();
  return all;
}

void InitRegistrations(Napi::Env env, Napi::Object exports) {
  exports.Set("registerThread", Napi::Function::New(env, RegisterThread, "registerThread"));
  exports.Set("dropRegistration", Napi::Function::New(env, DropRegistration, "dropRegistration"));
  exports.Set("registrationCount", Napi::Function::New(env, RegistrationCount, "registrationCount"));
}

}  // namespace tld
