// A small libbpf loader: open a BPF object, place each map (private or pinned at a path), load, hand out map and
// program fds, run a program with BPF_PROG_TEST_RUN on the calling thread, and the map element commands.
// JavaScript decides everything else (src/loader.ts validates arguments before calling in here).
#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

// libbpf reports through one process-wide print callback. Each thread collects what libbpf printed during its
// own call, so a failure's message carries the verifier log or libbpf's reason (libbpf 1.1 turns E2BIG and
// EOPNOTSUPP from map creation into EINVAL; its log still says what the kernel answered).
thread_local std::string *tl_log = nullptr;

int CaptureLibbpfPrint(enum libbpf_print_level level, const char *fmt, va_list args) {
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
  const std::string &text() const { return log_; }

 private:
  std::string log_;
  std::string *prev_;
};

// Throws an Error with .syscall, .errno (positive), .code ("ENOENT") and .log (what libbpf printed), the shape
// @tld/protocol's BpfSyscallError is made from; returns undefined for convenience.
Napi::Value ThrowErrno(Napi::Env env, int err, const std::string &what, const std::string &log) {
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

class LoadedObject : public Napi::ObjectWrap<LoadedObject> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "LoadedObject",
                       {InstanceMethod<&LoadedObject::Maps>("maps"),
                        InstanceMethod<&LoadedObject::Progs>("progs"),
                        InstanceMethod<&LoadedObject::CreatedPins>("createdPins"),
                        InstanceMethod<&LoadedObject::Attach>("attach"),
                        InstanceMethod<&LoadedObject::Iterate>("iterate"),
                        InstanceMethod<&LoadedObject::Close>("close")});
  }

  // new LoadedObject(path: string, pins: Record<mapName, string | number | null>)
  // A map listed with a string is pinned at (or reused from) that path; with a number, it reuses that open map fd;
  // every other map is private to this object.
  explicit LoadedObject(const Napi::CallbackInfo &info) : Napi::ObjectWrap<LoadedObject>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
      Napi::TypeError::New(env, "LoadedObject(path: string, pins: object)").ThrowAsJavaScriptException();
      return;
    }
    std::string path = info[0].As<Napi::String>().Utf8Value();
    Napi::Object pins = info[1].As<Napi::Object>();
    LogCapture log;

    obj_ = bpf_object__open_file(path.c_str(), nullptr);
    if (obj_ == nullptr) {
      ThrowErrno(env, errno, "bpf_object__open_file(" + path + ")", log.text());
      return;
    }

    std::map<std::string, std::string> wanted;
    std::map<std::string, int> reused;
    Napi::Array names = pins.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      std::string name = names.Get(i).As<Napi::String>().Utf8Value();
      Napi::Value v = pins.Get(name);
      if (v.IsString()) wanted[name] = v.As<Napi::String>().Utf8Value();
      if (v.IsNumber()) reused[name] = v.As<Napi::Number>().Int32Value();
    }

    struct bpf_map *map;
    bpf_object__for_each_map(map, obj_) {
      std::string name = bpf_map__name(map);
      auto it = wanted.find(name);
      auto fd = reused.find(name);
      int err;
      if (fd != reused.end()) {
        // bpf_object__load checks the reused map's type, sizes and flags against the declaration.
        err = bpf_map__set_pin_path(map, nullptr);
        if (!err) err = bpf_map__reuse_fd(map, fd->second);
        reused.erase(fd);
      } else if (it == wanted.end()) {
        // Private: drop LIBBPF_PIN_BY_NAME so the host's /sys/fs/bpf/<name> is neither reused nor created.
        err = bpf_map__set_pin_path(map, nullptr);
      } else {
        if (access(it->second.c_str(), F_OK) != 0) pins_to_create_.push_back(it->second);
        err = bpf_map__set_pin_path(map, it->second.c_str());
        wanted.erase(it);
      }
      if (err) {
        ThrowErrno(env, err, "bpf_map__set_pin_path(" + name + ")", log.text());
        Release();
        return;
      }
    }
    if (!wanted.empty() || !reused.empty()) {
      std::string missing = !wanted.empty() ? wanted.begin()->first : reused.begin()->first;
      ThrowErrno(env, ENOENT, "no map named '" + missing + "' in " + path, log.text());
      Release();
      return;
    }

    int err = bpf_object__load(obj_);
    if (err) {
      ThrowErrno(env, err, "bpf_object__load(" + path + ")", log.text());
      Release();
      return;
    }
    // The kernel already creates pins 0600 minus umask; say it explicitly, as the protocol requires.
    for (const std::string &pin : pins_to_create_) {
      if (chmod(pin.c_str(), 0600) != 0) {
        ThrowErrno(env, errno, "chmod(" + pin + ", 0600)", log.text());
        Release();
        return;
      }
    }
  }

  ~LoadedObject() override { Release(); }

 private:
  void Release() {
    for (struct bpf_link *link : links_) bpf_link__destroy(link);
    links_.clear();
    if (obj_ != nullptr) bpf_object__close(obj_);
    obj_ = nullptr;
  }

  // The program called `name` (a TypeError or RangeError is pending when there is none).
  struct bpf_program *Program(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return nullptr;
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(env, "program name must be a string").ThrowAsJavaScriptException();
      return nullptr;
    }
    std::string name = info[0].As<Napi::String>().Utf8Value();
    struct bpf_program *prog = bpf_object__find_program_by_name(obj_, name.c_str());
    if (prog == nullptr) Napi::RangeError::New(env, "no program " + name).ThrowAsJavaScriptException();
    return prog;
  }

  // attach(program: string): undefined — bpf_program__attach (tracing programs attach to their SEC() target);
  // the link lives until close().
  Napi::Value Attach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    struct bpf_program *prog = Program(info);
    if (prog == nullptr) return env.Undefined();
    LogCapture log;
    struct bpf_link *link = bpf_program__attach(prog);
    if (link == nullptr) return ThrowErrno(env, errno, "bpf_program__attach", log.text());
    links_.push_back(link);
    return env.Undefined();
  }

  // iterate(program: string, pid: number): Uint8Array — attaches the iter program (task iterators: only the
  // threads of process `pid` when pid > 0), creates an iterator, reads it to the end and detaches again.
  Napi::Value Iterate(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    struct bpf_program *prog = Program(info);
    if (prog == nullptr) return env.Undefined();
    if (info.Length() < 2 || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "iterate(program: string, pid: number)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    LogCapture log;
    union bpf_iter_link_info linfo;
    std::memset(&linfo, 0, sizeof(linfo));
    linfo.task.pid = info[1].As<Napi::Number>().Uint32Value();
    LIBBPF_OPTS(bpf_iter_attach_opts, opts);
    if (linfo.task.pid != 0) {
      opts.link_info = &linfo;
      opts.link_info_len = sizeof(linfo);
    }
    struct bpf_link *link = bpf_program__attach_iter(prog, &opts);
    if (link == nullptr) return ThrowErrno(env, errno, "bpf_program__attach_iter", log.text());
    int fd = bpf_iter_create(bpf_link__fd(link));
    if (fd < 0) {
      int err = errno;
      bpf_link__destroy(link);
      return ThrowErrno(env, err, "bpf_iter_create", log.text());
    }
    std::string out;
    char buf[16384];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        close(fd);
        bpf_link__destroy(link);
        return ThrowErrno(env, err, "read(bpf_iter)", log.text());
      }
      out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    bpf_link__destroy(link);
    Napi::Uint8Array bytes = Napi::Uint8Array::New(env, out.size());
    std::memcpy(bytes.Data(), out.data(), out.size());
    return bytes;
  }

  bool CheckOpen(Napi::Env env) {
    if (obj_ != nullptr) return true;
    Napi::Error::New(env, "BPF object is closed").ThrowAsJavaScriptException();
    return false;
  }

  // { [mapName]: fd } (internal maps such as .data included under their libbpf names)
  Napi::Value Maps(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    struct bpf_map *map;
    bpf_object__for_each_map(map, obj_) out.Set(bpf_map__name(map), Napi::Number::New(env, bpf_map__fd(map)));
    return out;
  }

  // { [programName]: fd }
  Napi::Value Progs(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, obj_) {
      out.Set(bpf_program__name(prog), Napi::Number::New(env, bpf_program__fd(prog)));
    }
    return out;
  }

  // Pin paths that did not exist before this load (the caller removes them when done).
  Napi::Value CreatedPins(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, pins_to_create_.size());
    for (size_t i = 0; i < pins_to_create_.size(); i++) out.Set(i, Napi::String::New(env, pins_to_create_[i]));
    return out;
  }

  // Closes every fd of the object. Pins stay (they are files); idempotent.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    Release();
    return info.Env().Undefined();
  }

  struct bpf_object *obj_ = nullptr;
  std::vector<struct bpf_link *> links_;
  std::vector<std::string> pins_to_create_;
};

// testRun(progFd: number, ctx: Uint8Array): number
// Runs a SEC("syscall") program on the calling thread with ctx as ctx_in, which the kernel overwrites with what the
// program wrote; returns the program's return value. Any thread may call it with an fd another thread opened.
Napi::Value TestRun(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "testRun(progFd: number, ctx: Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array ctx = info[1].As<Napi::Uint8Array>();
  LogCapture log;
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  // SEC("syscall") programs take no ctx_out (EINVAL): the kernel copies the ctx back into ctx_in.
  opts.ctx_in = ctx.Data();
  opts.ctx_size_in = static_cast<__u32>(ctx.ByteLength());
  int err = bpf_prog_test_run_opts(fd, &opts);
  if (err) return ThrowErrno(env, err < 0 ? -err : errno, "bpf_prog_test_run_opts", log.text());
  return Napi::Number::New(env, opts.retval);
}

// mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number): undefined
// One BPF_MAP_UPDATE_ELEM, for benchmarks that compare a syscall per update with a store into a pinned page.
// The kernel checks the key and value sizes against the map's; src/index.ts checks the argument types.
Napi::Value MapUpdateElem(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsTypedArray() ||
      !info[3].IsNumber() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "mapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags: number)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array key = info[1].As<Napi::Uint8Array>();
  Napi::Uint8Array value = info[2].As<Napi::Uint8Array>();
  __u64 flags = static_cast<__u64>(info[3].As<Napi::Number>().Int64Value());
  // libbpf 1.x returns -errno; errno is set too.
  int err = bpf_map_update_elem(fd, key.Data(), value.Data(), flags);
  if (err) return ThrowErrno(env, err < 0 ? -err : errno, "bpf_map_update_elem", "");
  return env.Undefined();
}

// mapDeleteElem(fd: number, key: Uint8Array): undefined
// One BPF_MAP_DELETE_ELEM, so a test that registered its own pages can unregister before unmapping them.
Napi::Value MapDeleteElem(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(env, "mapDeleteElem(fd: number, key: Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array key = info[1].As<Napi::Uint8Array>();
  int err = bpf_map_delete_elem(fd, key.Data());
  if (err) return ThrowErrno(env, err < 0 ? -err : errno, "bpf_map_delete_elem", "");
  return env.Undefined();
}

Napi::Value GetTid(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), static_cast<double>(gettid()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // libbpf_set_print is process-wide (workers load this addon too); the callback itself is thread-aware.
  static std::once_flag print_set;
  std::call_once(print_set, [] { libbpf_set_print(CaptureLibbpfPrint); });
  exports.Set("LoadedObject", LoadedObject::Init(env));
  exports.Set("testRun", Napi::Function::New<TestRun>(env, "testRun"));
  exports.Set("gettid", Napi::Function::New<GetTid>(env, "gettid"));
  exports.Set("mapUpdateElem", Napi::Function::New<MapUpdateElem>(env, "mapUpdateElem"));
  exports.Set("mapDeleteElem", Napi::Function::New<MapDeleteElem>(env, "mapDeleteElem"));
  return exports;
}

}  // namespace

NODE_API_MODULE(tld_loader, Init)
