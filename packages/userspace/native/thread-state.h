// Per-thread state shared by pages.cc (the pages) and registrations.cc (the map elements that pin them).
//
// Node runs exactly one environment per OS thread (main thread or worker), so per-thread state is
// per-environment state. It is heap-allocated and freed by the environment's cleanup hook, which runs on the
// environment's own thread while that thread is still alive: a worker that exits normally, by terminate() or
// by an uncaught error deletes its elements there, before its page is unmapped (PROTOCOL.md §5).
#ifndef TLD_USERSPACE_THREAD_STATE_H
#define TLD_USERSPACE_THREAD_STATE_H

#include <cstdint>
#include <vector>

#include "common.h"

namespace tld {

// This thread's element in one map. Kept until the thread exits: once tld_data_p names the page, native code
// on the thread may hold pointers into it and rely on the registration (PROTOCOL.md §5), so no close() removes it.
struct Registration {
  int fd;          // our dup of the map fd: the handle JavaScript holds, and how teardown reaches the map
  uint32_t mapId;
  bool ours;       // we created the element; false: another library did, with the pages we adopted
};

struct ThreadState {
  bool ownsDataPage = false;  // tld_data_p points at a page we mapped
  std::vector<Registration> registrations;
  Napi::Reference<Napi::ArrayBuffer> dataBuffer;
  Napi::Reference<Napi::ArrayBuffer> metaBuffer;
};

// The calling thread's state (created by InitPages before any binding runs on the thread).
ThreadState* CurrentThread();

// Forgets the data page's ArrayBuffer and unmaps the page when we mapped it. The caller has made sure no element
// points at it any more, and detached the buffer if JavaScript can still run.
void FreeOwnDataPage(ThreadState* st);

// Environment teardown of the registrations (registrations.cc): deletes every element we created; returns
// false when a delete failed, so the page must be leaked rather than freed.
bool DeleteOwnElements(ThreadState* st);

void InitRegistrations(Napi::Env env, Napi::Object exports);

}  // namespace tld

#endif
