// The pages this process shares with the kernel (PROTOCOL.md §2, §4): the process's metadata page and this
// thread's data page, and the slot claim that must not be split by worker.terminate().
//
// Ownership rules:
// - The metadata page is process-wide, installed once into `tld_meta_p` and never freed.
// - A thread's data page is `tld_data_p`. We free only a page we mapped ourselves, and only at thread exit after
//   the thread's elements are gone (registrations.cc), or when the open() that mapped it fails before anything
//   else could see it. Once `tld_data_p` names our page, native code on the thread may have read the symbol and
//   kept pointers into the page, so nothing earlier frees it (PROTOCOL.md §5). A page other code installed is
//   never freed here.
// - No memory is ever freed from a GC finalizer: JavaScript sees the pages as external ArrayBuffers without a
//   finalizer. While JavaScript can still run (a failed open()), the data page's buffer is detached before the
//   page is unmapped, so stale typed arrays read as empty instead of touching unmapped memory.
//
// Memory coherence: JavaScript and BPF programs access these pages concurrently without locks. An aligned 8-byte
// (or smaller) store is seen whole by a reader; a longer value (string, bytes) can be seen half old, half new.
// The metadata page's `cnt` and slot `size` fields are accessed with atomics (see @tld/protocol).
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "common.h"
#include "thread-state.h"
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

thread_local ThreadState* state = nullptr;
// The metadata page this addon created and installed, if it won the install: its header is ours to repair.
struct tld_meta_u* ownMetaPage = nullptr;

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
    __atomic_store_n(&ownMetaPage, page, __ATOMIC_RELEASE);
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

// Unmaps our data page once nothing registers it; returns true when the page was freed. Only open() calls this,
// for a page it mapped itself in that same failed call: no other code on the thread can have seen it yet.
bool ReleaseDataPageIfUnused() {
  ThreadState* st = state;
  if (!st->registrations.empty() || !st->ownsDataPage || tld_data_p == nullptr) return false;
  if (!st->dataBuffer.IsEmpty()) {
    Napi::ArrayBuffer buffer = st->dataBuffer.Value();
    if (!buffer.IsDetached()) buffer.Detach();  // stale views read as empty instead of touching freed memory
  }
  FreeOwnDataPage(st);
  return true;
}

// Environment teardown, on the environment's own thread: unregister first, then free. No JavaScript runs any
// more, so the buffers are only released (no handle scope exists here to detach them).
void Cleanup() {
  ThreadState* st = state;
  if (st == nullptr) return;
  // A failed delete leaves the page registered: it must outlive the thread (the kernel drops the element).
  if (DeleteOwnElements(st)) FreeOwnDataPage(st);
  st->dataBuffer.Reset();
  st->metaBuffer.Reset();
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

// metaPageOwned(): boolean — whether tld_meta_p is the page this addon created (false: adopted from other code).
Napi::Value MetaPageOwned(const Napi::CallbackInfo& info) {
  auto* page = __atomic_load_n(&tld_meta_p, __ATOMIC_ACQUIRE);
  return Napi::Boolean::New(info.Env(), page != nullptr && page == __atomic_load_n(&ownMetaPage, __ATOMIC_ACQUIRE));
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

// threadDataPageOwned(): boolean — whether tld_data_p is a page this addon mapped (false: none, or other code's).
Napi::Value ThreadDataPageOwned(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tld_data_p != nullptr && state->ownsDataPage);
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

// releaseThreadDataPage(): boolean — frees this thread's data page if we mapped it and it is registered
// nowhere; detaches its ArrayBuffer first. Returns whether the page was freed. For open()'s failure path only:
// the caller frees a page it mapped in the same call, before any other code could read tld_data_p.
Napi::Value ReleaseThreadDataPage(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ReleaseDataPageIfUnused());
}

}  // namespace

ThreadState* CurrentThread() { return state; }

void FreeOwnDataPage(ThreadState* st) {
  st->dataBuffer.Reset();
  if (st->ownsDataPage && tld_data_p != nullptr) {
    munmap(tld_data_p, PageSize());
    tld_data_p = nullptr;
  }
  st->ownsDataPage = false;
}

void InitPages(Napi::Env env, Napi::Object exports) {
  if (state == nullptr) {
    state = new ThreadState();
    env.AddCleanupHook(Cleanup);
  }
  exports.Set("metaPage", Napi::Function::New(env, MetaPage, "metaPage"));
  exports.Set("metaPageAddress", Napi::Function::New(env, MetaPageAddress, "metaPageAddress"));
  exports.Set("metaPageOwned", Napi::Function::New(env, MetaPageOwned, "metaPageOwned"));
  exports.Set("threadDataPage", Napi::Function::New(env, ThreadDataPage, "threadDataPage"));
  exports.Set("threadDataPageAddress", Napi::Function::New(env, ThreadDataPageAddress, "threadDataPageAddress"));
  exports.Set("threadDataPageOwned", Napi::Function::New(env, ThreadDataPageOwned, "threadDataPageOwned"));
  exports.Set("claimSlot", Napi::Function::New(env, ClaimSlot, "claimSlot"));
  exports.Set("releaseThreadDataPage", Napi::Function::New(env, ReleaseThreadDataPage, "releaseThreadDataPage"));
}

}  // namespace tld
