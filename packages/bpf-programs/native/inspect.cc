// One-to-one wrappers for reading what attached programs collected and for feeding them events: the map element
// reads (BPF_MAP_LOOKUP_ELEM, BPF_MAP_GET_NEXT_KEY), object info (BPF_OBJ_GET_INFO_BY_FD for maps and links),
// perf_event_open(), opening a pin (BPF_OBJ_GET), and the calling thread's CPU clock. src/*.ts validates every argument first.
#include <napi.h>

#include <bpf/bpf.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace tld_loader {
namespace {

using tld_napi::IsUint8Array;

// mapLookupElem(fd: number, key: Uint8Array, value: Uint8Array): boolean
// One BPF_MAP_LOOKUP_ELEM into `value` (at least the map's value_size bytes); false when there is no such key.
Napi::Value MapLookupElem(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !IsUint8Array(info[1]) || !IsUint8Array(info[2])) {
    Napi::TypeError::New(env, "mapLookupElem(fd: number, key: Uint8Array, value: Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int err = bpf_map_lookup_elem(fd, info[1].As<Napi::Uint8Array>().Data(), info[2].As<Napi::Uint8Array>().Data());
  if (err == 0) return Napi::Boolean::New(env, true);
  err = err < 0 ? -err : errno;
  if (err == ENOENT) return Napi::Boolean::New(env, false);
  return ThrowErrno(env, err, "bpf_map_lookup_elem", "");
}

// mapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean
// One BPF_MAP_GET_NEXT_KEY: writes the key after `key` (the first key for null) into `next`; false at the end.
Napi::Value MapGetNextKey(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !(info[1].IsNull() || IsUint8Array(info[1])) ||
      !IsUint8Array(info[2])) {
    Napi::TypeError::New(env, "mapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  const void *key = info[1].IsNull() ? nullptr : info[1].As<Napi::Uint8Array>().Data();
  int err = bpf_map_get_next_key(fd, key, info[2].As<Napi::Uint8Array>().Data());
  if (err == 0) return Napi::Boolean::New(env, true);
  err = err < 0 ? -err : errno;
  if (err == ENOENT) return Napi::Boolean::New(env, false);
  return ThrowErrno(env, err, "bpf_map_get_next_key", "");
}

// linkInfo(fd: number): { type, id, progId }
Napi::Value LinkInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "linkInfo(fd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct bpf_link_info li = {};
  __u32 len = sizeof(li);
  int err = bpf_obj_get_info_by_fd(info[0].As<Napi::Number>().Int32Value(), &li, &len);
  if (err) return ThrowErrno(env, err < 0 ? -err : errno, "bpf_obj_get_info_by_fd(link)", "");
  Napi::Object out = Napi::Object::New(env);
  out.Set("type", Napi::Number::New(env, li.type));
  out.Set("id", Napi::Number::New(env, li.id));
  out.Set("progId", Napi::Number::New(env, li.prog_id));
  return out;
}


// perfEventOpen(type: number, config: number, sampleFreq: number, pid: number, cpu: number): number
// perf_event_open() of a sampling event at sampleFreq Hz, created disabled (attaching a program enables it) and
// close-on-exec. Returns the fd.
Napi::Value PerfEventOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  for (size_t i = 0; i < 5; i++) {
    if (info.Length() <= i || !info[i].IsNumber()) {
      Napi::TypeError::New(env, "perfEventOpen(type, config, sampleFreq, pid, cpu: number)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  struct perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = info[0].As<Napi::Number>().Uint32Value();
  attr.config = static_cast<__u64>(info[1].As<Napi::Number>().Int64Value());
  attr.sample_freq = static_cast<__u64>(info[2].As<Napi::Number>().Int64Value());
  attr.freq = 1;
  attr.disabled = 1;
  int pid = info[3].As<Napi::Number>().Int32Value();
  int cpu = info[4].As<Napi::Number>().Int32Value();
  long fd = syscall(__NR_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, errno, "perf_event_open", "");
  return Napi::Number::New(env, static_cast<double>(fd));
}

// threadCpuTimeNs(): number — clock_gettime(CLOCK_THREAD_CPUTIME_ID) of the calling thread, in nanoseconds:
// the scheduler's runtime of this thread (Node 20 has no per-thread CPU usage call).
Napi::Value ThreadCpuTimeNs(const Napi::CallbackInfo &info) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
    return ThrowErrno(info.Env(), errno, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)", "");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec));
}

}  // namespace

void InitInspect(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookupElem", Napi::Function::New<MapLookupElem>(env, "mapLookupElem"));
  exports.Set("mapGetNextKey", Napi::Function::New<MapGetNextKey>(env, "mapGetNextKey"));
  exports.Set("mapInfo", Napi::Function::New<tld_napi::MapInfo>(env, "mapInfo"));
  exports.Set("linkInfo", Napi::Function::New<LinkInfo>(env, "linkInfo"));
  exports.Set("objGet", Napi::Function::New<tld_napi::ObjGet>(env, "objGet"));
  exports.Set("perfEventOpen", Napi::Function::New<PerfEventOpen>(env, "perfEventOpen"));
  exports.Set("threadCpuTimeNs", Napi::Function::New<ThreadCpuTimeNs>(env, "threadCpuTimeNs"));
}

}  // namespace tld_loader
