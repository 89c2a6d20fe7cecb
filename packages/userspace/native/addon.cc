// Entry point. Node-API modules are context-aware: Node dlopen()s the .node file once per process (so static
// state such as tld_meta_p is process-wide) and calls Init once per environment, i.e. once in the main thread
// and once in every worker thread that loads the package.
#include "common.h"
#include "thread-state.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tld::InitSyscalls(env, exports);
  tld::InitPages(env, exports);
  tld::InitRegistrations(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tld_userspace, Init)
