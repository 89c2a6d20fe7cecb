// The pages this process shares with the kernel (PROTOCOL.md §2, §4, §5) and the thread's registrations.
//
// Ownership rules:
// - The metadata page is process-wide, installed once into `tld_meta_p` and never freed.
// - A thread's data page is `tld_data_p`. We free only a page we mapped ourselves, and only after the thread's
//   element is gone from every map it was registered in: the kernel keeps the page pinned and BPF programs keep
//   writing to it while an element points at it, so freeing it earlier corrupts memory. When a delete fails
//   (other than ENOENT: nothing registered), the page is leaked instead.
// - No memory is ever freed from a GC finalizer: JavaScript sees the pages as external ArrayBuffers without a
//   finalizer, and the data page's buffer is detached before the page is unmapped, so stale typed arrays read
//   as empty instead of touching unmapped memory.
//
// Memory coherence: JavaScript and BPF programs access these pages concurrently without locks. An aligned 8-byte
// (or smaller) store is seen whole by a reader; a longer value (string, bytes) can be seen half old, half new.
// The metadata page's `cnt` and slot `size` fields are accessed with atomics (see @tld/protocol).
#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common.h"
#include "tld_layout.h"

extern "C" {
// PROTOCOL.md §4: the process's metadata page, shared by every protocol implementation in the process.
// Weak with default visibility (as upstream declares it) so the first definition in the global symbol scope
// wins; accessed only with atomic builtins so it stays layout-compatible with C's `_Atomic` pointer.
__attribute__((weak, visibility("default"))) struct tld_meta_u* tld_meta_p = nullptr;
// PROTOCOL.md §4: the calling thread's data page.
__attribute__((weak, visibility("default"))) __thread struct tld_data_u* tld_data_p = nullptr;
}

namespace tld {

namespace {

// Per-thread state. Node runs exactly one environment per OS thread (main thread or worker), so per-thread
// state is per-environment state. Heap-allocated and freed by the environment's cleanup hook, so no
// thread_local destructor ever runs napi calls after the environment is gone.
// One map this thread's element lives in. Every TaskLocalData of the thread on that map shares it; the element
// is deleted when the last one closes. Kept here, next to the pages it pins, so one count covers the thread
// however many copies of the JavaScript module it runs.
struct Registration {
  int fd;         // our dup of the map fd: the handle JavaScript holds
  uint32_t mapId;
  uint32_t refs;
};

struct ThreadState {
  bool ownsDataPage = false;  // tld_data_p points at a page we mapped
  std::vector<Registration> registrations;
  Napi::Reference<Napi::ArrayBuffer> dataBuffer;
  Napi::Reference<Napi::ArrayBuffer> metaBuffer;
};

thread_local ThreadState* state = nullptr;

void* MapPage() {
  void* page = mmap(nullptr, PageSize(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return page == MAP_FAILED ? nullptr : page;
}

// Bytes from `p` to the end of its page: a page installed by other native code may not be page-aligned.
size_t BytesToPageEnd(const void* p) {
  return PageSize() - (reinterpret_cast<uintptr_t>(p) & (PageSize() - 1));
}

// Calls `initialize(buffer)` on a fresh page so JavaScript fills it from @tld/protocol before anyone else can see
// it; false (with a JavaScript exception pending) when the callback threw.
bool InitializePage(Napi::Env env, const Napi::Function& initialize, void* page) {
  Napi::ArrayBuffer fresh = Napi::ArrayBuffer::New(env, page, PageSize());
  initialize.Call({fresh});
  fresh.Detach();  // the page is handed out again below, as the buffer the thread keeps
  return !env.IsExceptionPending();
}

// Returns the process's metadata page, creating, initialising and installing it on first use. nullptr with
// errno set when mmap fails, or with a JavaScript exception pending when initialisation threw.
struct tld_meta_u* EnsureMetaPage(Napi::Env env, const Napi::Function& initialize) {
  struct tld_meta_u* current = __atomic_load_n(&tld_meta_p, __ATOMIC_ACQUIRE);
  if (current != nullptr) return current;
  auto* page = static_cast<struct tld_meta_u*>(MapPage());
  if (page == nullptr) return nullptr;
  if (!InitializePage(env, initialize, page)) {
    munmap(page, PageSize());
    return nullptr;
  }
  // Install with compare-exchange from NULL (PROTOCOL.md §4), after the page is initialised.
  struct tld_meta_u* expected = nullptr;
  if (__atomic_compare_exchange_n(&tld_meta_p, &expected, page, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    return page;
  }
  munmap(page, PageSize());  // another thread or library installed its page first: use that one
  return expected;
}

// Returns this thread's data page, mapping and initialising it on first use unless other code already set
// tld_data_p. Failures as EnsureMetaPage.
struct tld_data_u* EnsureDataPage(Napi::Env env, const Napi::Function& initialize) {
  if (tld_data_p != nullptr) return tld_data_p;
  auto* page = static_cast<struct tld_data_u*>(MapPage());
  if (page == nullptr) return nullptr;
  if (!InitializePage(env, initialize, page)) {
    munmap(page, PageSize());
    return nullptr;
  }
  tld_data_p = page;
  state->ownsDataPage = true;
  return page;
}

// Deletes this thread's element from the map behind `mapFd`; returns 0 or an errno (ENOENT counts as success).
int DeleteOwnElement(int mapFd) {
  int pidfd = OpenOwnPidfd();
  if (pidfd < 0) return errno;
  int err = MapElemCommand(BPF_MAP_DELETE_ELEM, mapFd, &pidfd, nullptr, 0) < 0 ? errno : 0;
  close(pidfd);
  return err == ENOENT ? 0 : err;
}

// Unmaps our data page once nothing registers it; returns true when the page was freed.
bool ReleaseDataPageIfUnused() {
  if (!state->registrations.empty() || !state->ownsDataPage || tld_data_p == nullptr) return false;
  if (!state->dataBuffer.IsEmpty()) {
    Napi::ArrayBuffer buffer = state->dataBuffer.Value();
    if (!buffer.IsDetached()) buffer.Detach();
    state->dataBuffer.Reset();
  }
  munmap(tld_data_p, PageSize());
  tld_data_p = nullptr;
  state->ownsDataPage = false;
  return true;
}

// Environment teardown (a worker exiting runs this on its own thread, while the thread is still alive):
// unregister first, then free.
void Cleanup() {
  ThreadState* st = state;
  if (st == nullptr) return;
  bool leak = false;
  for (const Registration& reg : st->registrations) {
    if (DeleteOwnElement(reg.fd) != 0) leak = true;  // still registered: the page must outlive the thread
    close(reg.fd);
  }
  st->registrations.clear();
  st->dataBuffer.Reset();
  st->metaBuffer.Reset();
  if (!leak && st->ownsDataPage && tld_data_p != nullptr) {
    munmap(tld_data_p, PageSize());
    tld_data_p = nullptr;
  }
  state = nullptr;
  delete st;
}

bool ArgFunction(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() >= 1 && info[0].IsFunction()) return true;
  Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
  return false;
}

// metaPage(initialize): ArrayBuffer over the process's metadata page (the same object on every call in this
// thread). A page this call creates is passed to initialize(buffer) before it is installed.
Napi::Value MetaPage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!state->metaBuffer.IsEmpty()) return state->metaBuffer.Value();
  if (!ArgFunction(info, "metaPage(initialize: (page: ArrayBuffer) => void)")) return env.Undefined();
  struct tld_meta_u* page = EnsureMetaPage(env, info[0].As<Napi::Function>());
  if (env.IsExceptionPending()) return env.Undefined();
  if (page == nullptr) return ThrowSyscallError(env, "mmap", errno);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, page, BytesToPageEnd(page));
  state->metaBuffer = Napi::Persistent(buffer);
  return buffer;
}

// metaPageAddress(): bigint — user address of the metadata page (0n before metaPage() created it).
Napi::Value MetaPageAddress(const Napi::CallbackInfo& info) {
  auto* page = __atomic_load_n(&tld_meta_p, __ATOMIC_ACQUIRE);
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(page)));
}

// threadDataPage(initialize): ArrayBuffer over this thread's data page (the same object until the page is
// released). A page this call creates is passed to initialize(buffer) first.
Napi::Value ThreadDataPage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!state->dataBuffer.IsEmpty()) return state->dataBuffer.Value();
  if (!ArgFunction(info, "threadDataPage(initialize: (page: ArrayBuffer) => void)")) return env.Undefined();
  struct tld_data_u* page = EnsureDataPage(env, info[0].As<Napi::Function>());
  if (env.IsExceptionPending()) return env.Undefined();
  if (page == nullptr) return ThrowSyscallError(env, "mmap", errno);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, page, BytesToPageEnd(page));
  state->dataBuffer = Napi::Persistent(buffer);
  return buffer;
}

// threadDataPageAddress(): bigint — user address of this thread's data page (0n when there is none).
Napi::Value ThreadDataPageAddress(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(tld_data_p)));
}

Registration* FindRegistration(uint32_t mapId) {
  for (Registration& reg : state->registrations) {
    if (reg.mapId == mapId) return &reg;
  }
  return nullptr;
}

Registration* FindHandle(int handle) {
  for (Registration& reg : state->registrations) {
    if (reg.fd == handle) return &reg;
  }
  return nullptr;
}

// registerThread(mapFd, mapId, value: Uint8Array): { handle, created } — PROTOCOL.md §5. When this thread is
// already registered in map `mapId`, counts one more user and returns its handle (created: false). Otherwise
// pidfd_open(gettid(), PIDFD_THREAD), BPF_MAP_UPDATE_ELEM(BPF_ANY), close; keeps a dup of the map fd so the
// element can be deleted at environment teardown after the caller closed its fd, and returns that dup as the
// handle. On failure nothing is registered and nothing stays open.
Napi::Value RegisterThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "registerThread(mapFd: number, mapId: number, value: Uint8Array)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int mapFd = info[0].As<Napi::Number>().Int32Value();
  uint32_t mapId = info[1].As<Napi::Number>().Uint32Value();
  Napi::Uint8Array value = info[2].As<Napi::Uint8Array>();
  Napi::Object result = Napi::Object::New(env);
  Registration* existing = FindRegistration(mapId);
  if (existing != nullptr) {
    existing->refs++;
    result.Set("handle", existing->fd);
    result.Set("created", false);
    return result;
  }
  state->registrations.reserve(state->registrations.size() + 1);  // so recording cannot fail after the update
  int reg = fcntl(mapFd, F_DUPFD_CLOEXEC, 0);
  if (reg < 0) return ThrowSyscallError(env, "dup", errno);
  int pidfd = OpenOwnPidfd();
  if (pidfd < 0) {
    int err = errno;
    close(reg);
    return ThrowSyscallError(env, "pidfd_open", err);
  }
  if (MapElemCommand(BPF_MAP_UPDATE_ELEM, reg, &pidfd, value.Data(), BPF_ANY) < 0) {
    int err = errno;
    close(pidfd);
    close(reg);
    return ThrowSyscallError(env, "BPF_MAP_UPDATE_ELEM", err);
  }
  close(pidfd);
  state->registrations.push_back(Registration{reg, mapId, 1});
  result.Set("handle", reg);
  result.Set("created", true);
  return result;
}

// unregisterThread(handle): undefined — one user of a registerThread() handle is done. The last one deletes
// this thread's element from the map (ENOENT: already gone, fine) and forgets the handle. When the delete
// fails the registration is kept, still counting that user (retry, or teardown retries), and the error is thrown.
Napi::Value UnregisterThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "unregisterThread(handle: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Registration* reg = FindHandle(info[0].As<Napi::Number>().Int32Value());
  if (reg == nullptr) {
    Napi::Error::New(env, "not a registration handle of this thread").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (reg->refs > 1) {
    reg->refs--;
    return env.Undefined();
  }
  int err = DeleteOwnElement(reg->fd);
  if (err != 0) return ThrowSyscallError(env, "BPF_MAP_DELETE_ELEM", err);
  close(reg->fd);
  state->registrations.erase(state->registrations.begin() + (reg - state->registrations.data()));
  return env.Undefined();
}

// claimSlot(meta: Uint8Array, expectedCnt, index, nameField: Uint8Array(62), size): boolean — PROTOCOL.md §3's
// claim and publish as one native step: compare-exchange cnt, write the slot's name, release-store its size.
// JavaScript can be terminated (worker.terminate()) between any two of its statements but not inside a native
// call, so no terminated worker leaves a slot claimed and never published. False when the exchange lost.
Napi::Value ClaimSlot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber() ||
      !info[3].IsTypedArray() || !info[4].IsNumber() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "claimSlot(meta: Uint8Array, expectedCnt, index, nameField: Uint8Array, size)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array meta = info[0].As<Napi::Uint8Array>();
  uint32_t expected = info[1].As<Napi::Number>().Uint32Value();
  uint32_t index = info[2].As<Napi::Number>().Uint32Value();
  Napi::Uint8Array name = info[3].As<Napi::Uint8Array>();
  uint32_t size = info[4].As<Napi::Number>().Uint32Value();
  size_t slot = offsetof(struct tld_meta_u, metadata) + static_cast<size_t>(index) * sizeof(struct tld_metadata);
  uint8_t* base = meta.Data();
  if (name.ByteLength() != sizeof(((struct tld_metadata*)nullptr)->name) || expected >= 0xffff || size == 0 ||
      size > 0xffff || slot + sizeof(struct tld_metadata) > meta.ByteLength() ||
      (reinterpret_cast<uintptr_t>(base) & 1) != 0) {
    Napi::RangeError::New(env, "claimSlot: slot, name field or size out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* cnt = reinterpret_cast<uint16_t*>(base + offsetof(struct tld_meta_u, cnt));
  auto* entry = reinterpret_cast<struct tld_metadata*>(base + slot);
  uint16_t seen = static_cast<uint16_t>(expected);
  if (!__atomic_compare_exchange_n(cnt, &seen, static_cast<uint16_t>(expected + 1), false, __ATOMIC_SEQ_CST,
                                   __ATOMIC_SEQ_CST)) {
    return Napi::Boolean::New(env, false);
  }
  memcpy(entry->name, name.Data(), sizeof(entry->name));
  __atomic_store_n(&entry->size, static_cast<__u16>(size), __ATOMIC_SEQ_CST);
  return Napi::Boolean::New(env, true);
}

// registrationCount(): number — maps this thread is registered in through this addon.
Napi::Value RegistrationCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(state->registrations.size()));
}

// releaseThreadDataPage(): boolean — frees this thread's data page if we mapped it and it is registered
// nowhere; detaches its ArrayBuffer first. Returns whether the page was freed.
Napi::Value ReleaseThreadDataPage(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ReleaseDataPageIfUnused());
}

}  // namespace

void InitPages(Napi::Env env, Napi::Object exports) {
  if (state == nullptr) {
    state = new ThreadState();
    env.AddCleanupHook(Cleanup);
  }
  exports.Set("metaPage", Napi::Function::New(env, MetaPage, "metaPage"));
  exports.Set("metaPageAddress", Napi::Function::New(env, MetaPageAddress, "metaPageAddress"));
  exports.Set("threadDataPage", Napi::Function::New(env, ThreadDataPage, "threadDataPage"));
  exports.Set("threadDataPageAddress", Napi::Function::New(env, ThreadDataPageAddress, "threadDataPageAddress"));
  exports.Set("registerThread", Napi::Function::New(env, RegisterThread, "registerThread"));
  exports.Set("unregisterThread", Napi::Function::New(env, UnregisterThread, "unregisterThread"));
  exports.Set("registrationCount", Napi::Function::New(env, RegistrationCount, "registrationCount"));
  exports.Set("claimSlot", Napi::Function::New(env, ClaimSlot, "claimSlot"));
  exports.Set("releaseThreadDataPage", Napi::Function::New(env, ReleaseThreadDataPage, "releaseThreadDataPage"));
}

}  // namespace tld
