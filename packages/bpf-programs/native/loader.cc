// A small libbpf loader: open a BPF object, place each map (private or pinned at a path), load, hand out map and
// program fds, attach programs (links owned by the object), run a program with BPF_PROG_TEST_RUN on the calling
// thread, read an iterator program's output, and the map element commands. native/inspect.cc reads maps and links
// and opens perf events.
// JavaScript decides everything else (src/loader.ts validates arguments before calling in here).
#include <napi.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "errors.h"

namespace {

using tld_loader::LogCapture;
using tld_loader::ThrowErrno;

class LoadedObject : public Napi::ObjectWrap<LoadedObject> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "LoadedObject",
                       {InstanceMethod<&LoadedObject::Maps>("maps"),
                        InstanceMethod<&LoadedObject::Progs>("progs"),
                        InstanceMethod<&LoadedObject::CreatedPins>("createdPins"),
                        InstanceMethod<&LoadedObject::Attach>("attach"),
                        InstanceMethod<&LoadedObject::AttachPerfEvent>("attachPerfEvent"),
                        InstanceMethod<&LoadedObject::LinkFd>("linkFd"),
                        InstanceMethod<&LoadedObject::DestroyLink>("destroyLink"),
                        InstanceMethod<&LoadedObject::Close>("close")});
  }

  // new LoadedObject(path: string, pins: Record<mapName, string | number | null>, initial?: Record<mapName, Uint8Array>)
  // A map listed with a string is pinned at (or reused from) that path; with a number, it reuses that open map fd;
  // every other map is private to this object. `initial` gives the contents of internal maps (.rodata, .data and
  // their custom .rodata.* sections, found by section name) before the load: a read-only one is frozen with them.
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
      declared_names_.push_back(name);
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

    if (info.Length() >= 3 && info[2].IsObject()) {
      Napi::Object initial = info[2].As<Napi::Object>();
      Napi::Array sections = initial.GetPropertyNames();
      for (uint32_t i = 0; i < sections.Length(); i++) {
        std::string name = sections.Get(i).As<Napi::String>().Utf8Value();
        Napi::Value v = initial.Get(name);
        struct bpf_map *target = bpf_object__find_map_by_name(obj_, name.c_str());
        int err = target == nullptr ? -ENOENT : 0;
        if (!err && !v.IsTypedArray()) err = -EINVAL;
        if (!err) {
          Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
          // libbpf refuses a size other than the section's (-EINVAL).
          err = bpf_map__set_initial_value(target, bytes.Data(), bytes.ByteLength());
        }
        if (err) {
          ThrowErrno(env, err, "initial value of map '" + name + "' in " + path, log.text());
          Release();
          return;
        }
      }
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
  // Links first: each holds its program, which would otherwise stay attached after the object is closed.
  void Release() {
    for (struct bpf_link *&link : links_) {
      if (link != nullptr) bpf_link__destroy(link);
      link = nullptr;
    }
    if (obj_ != nullptr) bpf_object__close(obj_);
    obj_ = nullptr;
  }

  bool CheckOpen(Napi::Env env) {
    if (obj_ != nullptr) return true;
    Napi::Error::New(env, "BPF object is closed").ThrowAsJavaScriptException();
    return false;
  }

  // { [mapName]: fd } (internal maps such as .data included under their libbpf names). Names are the object's
  // declarations: bpf_map__reuse_fd() renames a reused map (pinned or by fd) after the kernel's map.
  Napi::Value Maps(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return env.Undefined();
    Napi::Object out = Napi::Object::New(env);
    struct bpf_map *map;
    size_t i = 0;
    bpf_object__for_each_map(map, obj_) out.Set(declared_names_[i++], Napi::Number::New(env, bpf_map__fd(map)));
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

  // The program named by info[0], or nullptr with a JavaScript exception pending.
  struct bpf_program *Program(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!CheckOpen(env)) return nullptr;
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(env, "program name must be a string").ThrowAsJavaScriptException();
      return nullptr;
    }
    std::string name = info[0].As<Napi::String>().Utf8Value();
    struct bpf_program *prog = bpf_object__find_program_by_name(obj_, name.c_str());
    if (prog == nullptr) ThrowErrno(env, ENOENT, "no program named '" + name + "'", "");
    return prog;
  }

  // Keeps `link` and returns its index for linkFd()/destroyLink(); throws libbpf's error `err` when it is null.
  Napi::Value AddLink(Napi::Env env, struct bpf_link *link, int err, const std::string &what, const LogCapture &log) {
    if (link == nullptr) return ThrowErrno(env, err, what, log.text());
    links_.push_back(link);
    return Napi::Number::New(env, static_cast<double>(links_.size() - 1));
  }

  // attach(program: string): number — bpf_program__attach(): attaches as the program's SEC() says (tp_btf/...).
  Napi::Value Attach(const Napi::CallbackInfo &info) {
    struct bpf_program *prog = Program(info);
    if (prog == nullptr) return info.Env().Undefined();
    LogCapture log;
    struct bpf_link *link = bpf_program__attach(prog);
    int err = errno;
    return AddLink(info.Env(), link, err, std::string("bpf_program__attach(") + bpf_program__name(prog) + ")", log);
  }

  // attachPerfEvent(program: string, perfFd: number): number — bpf_program__attach_perf_event(). On success the
  // link owns perfFd (libbpf closes it when the link is destroyed); on failure it stays the caller's.
  Napi::Value AttachPerfEvent(const Napi::CallbackInfo &info) {
    struct bpf_program *prog = Program(info);
    if (prog == nullptr) return info.Env().Undefined();
    if (info.Length() < 2 || !info[1].IsNumber()) {
      Napi::TypeError::New(info.Env(), "attachPerfEvent(program: string, perfFd: number)").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    int pfd = info[1].As<Napi::Number>().Int32Value();
    LogCapture log;
    struct bpf_link *link = bpf_program__attach_perf_event(prog, pfd);
    int err = errno;
    return AddLink(info.Env(), link, err,
                   std::string("bpf_program__attach_perf_event(") + bpf_program__name(prog) + ")", log);
  }

  // The slot of link info[0] (holding nullptr once destroyed), or nullptr with a JavaScript exception pending.
  struct bpf_link **LinkAt(const Napi::CallbackInfo &info) {
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(info.Env(), "link index must be a number").ThrowAsJavaScriptException();
      return nullptr;
    }
    uint32_t i = info[0].As<Napi::Number>().Uint32Value();
    if (i >= links_.size()) {
      Napi::RangeError::New(info.Env(), "no such link").ThrowAsJavaScriptException();
      return nullptr;
    }
    return &links_[i];
  }

  // linkFd(index: number): number — the link's fd, -1 once destroyed.
  Napi::Value LinkFd(const Napi::CallbackInfo &info) {
    struct bpf_link **link = LinkAt(info);
    if (link == nullptr) return info.Env().Undefined();
    return Napi::Number::New(info.Env(), *link != nullptr ? bpf_link__fd(*link) : -1);
  }

  // destroyLink(index: number): undefined — bpf_link__destroy(): detaches. Idempotent.
  Napi::Value DestroyLink(const Napi::CallbackInfo &info) {
    struct bpf_link **link = LinkAt(info);
    if (link != nullptr && *link != nullptr) {
      bpf_link__destroy(*link);
      *link = nullptr;
    }
    return info.Env().Undefined();
  }

  // Destroys the links (detaching their programs) and closes every fd of the object. Pins stay (they are
  // files); idempotent.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    Release();
    return info.Env().Undefined();
  }

  struct bpf_object *obj_ = nullptr;
  std::vector<std::string> pins_to_create_;
  // bpf_map__name() of each map right after open, in bpf_object__for_each_map() order.
  std::vector<std::string> declared_names_;
  std::vector<struct bpf_link *> links_;
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

// iterRead(progFd: number, pid: number): Uint8Array
// Attaches an iterator program (BPF_LINK_CREATE with BPF_TRACE_ITER), opens an iterator on the link
// (BPF_ITER_CREATE) and reads it to the end. For an iter/task program, pid > 0 limits the walk to the threads of
// that process; 0 walks every task on the host.
Napi::Value IterRead(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "iterRead(progFd: number, pid: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int prog_fd = info[0].As<Napi::Number>().Int32Value();
  uint32_t pid = info[1].As<Napi::Number>().Uint32Value();
  union bpf_iter_link_info link_info;
  memset(&link_info, 0, sizeof(link_info));
  LIBBPF_OPTS(bpf_link_create_opts, opts);
  if (pid > 0) {
    link_info.task.pid = pid;
    opts.iter_info = &link_info;
    opts.iter_info_len = sizeof(link_info);
  }
  int link_fd = bpf_link_create(prog_fd, 0, BPF_TRACE_ITER, &opts);
  if (link_fd < 0) return ThrowErrno(env, errno, "bpf_link_create(BPF_TRACE_ITER)", "");
  int iter_fd = bpf_iter_create(link_fd);
  if (iter_fd < 0) {
    int err = errno;
    close(link_fd);
    return ThrowErrno(env, err, "bpf_iter_create", "");
  }
  std::vector<uint8_t> out;
  uint8_t chunk[64 * 1024];
  int err = 0;
  for (;;) {
    ssize_t n = read(iter_fd, chunk, sizeof(chunk));
    if (n > 0) {
      out.insert(out.end(), chunk, chunk + n);
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      err = errno;
      break;
    }
  }
  close(iter_fd);
  close(link_fd);
  if (err) return ThrowErrno(env, err, "read(BPF iterator)", "");
  Napi::Uint8Array result = Napi::Uint8Array::New(env, out.size());
  if (!out.empty()) memcpy(result.Data(), out.data(), out.size());
  return result;
}

// libbpfVersion(): "v1.1" — the libbpf this addon runs with.
Napi::Value LibbpfVersion(const Napi::CallbackInfo &info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

Napi::Value GetTid(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), static_cast<double>(gettid()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // libbpf_set_print is process-wide (workers load this addon too); the callback itself is thread-aware.
  static std::once_flag print_set;
  std::call_once(print_set, [] { libbpf_set_print(tld_loader::CaptureLibbpfPrint); });
  exports.Set("LoadedObject", LoadedObject::Init(env));
  exports.Set("testRun", Napi::Function::New<TestRun>(env, "testRun"));
  exports.Set("gettid", Napi::Function::New<GetTid>(env, "gettid"));
  exports.Set("iterRead", Napi::Function::New<IterRead>(env, "iterRead"));
  exports.Set("libbpfVersion", Napi::Function::New<LibbpfVersion>(env, "libbpfVersion"));
  exports.Set("mapUpdateElem", Napi::Function::New<MapUpdateElem>(env, "mapUpdateElem"));
  exports.Set("mapDeleteElem", Napi::Function::New<MapDeleteElem>(env, "mapDeleteElem"));
  tld_loader::InitInspect(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tld_loader, Init)
