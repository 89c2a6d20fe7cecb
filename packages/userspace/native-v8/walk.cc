// Finds and verifies, on the calling thread's Isolate, the V8 facts a reader needs to walk from the thread to the
// record of the current run() (PROTOCOL.md §8). N-API cannot reach the continuation-preserved embedder data or an
// object's identity hash, hence V8's own API. Every number is found by looking, then proven by reading back objects
// whose contents we chose; nothing is taken from a table keyed by version. All reads of V8 memory go through
// process_vm_readv on our own process, so a wrong guess during the search fails a read instead of crashing.
#include <node.h>
#include <v8.h>

#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {

using Addr = uint64_t;

// Where the search looks: the CPED slot is in the Isolate's first page of fields (IsolateData), and every JS
// object we inspect keeps the words we look for in its first few fields.
constexpr size_t kIsolateScanBytes = 8192;
constexpr int kObjectScanWords = 16;
// A JS object starts with map, properties-or-hash, elements: the identity hash lives in one of these.
constexpr int kJsObjectHeaderWords = 3;
// A typed array's fields (buffer, byte offset and length, length, data pointer, base pointer) come before its
// embedder fields.
constexpr int kViewWords = 10;
constexpr int kMaxBuckets = 1024;
constexpr int kMaxChain = 8;

// V8 14 renamed the accessors (same slot, values typed as Data); choose by the headers we build against.
#if V8_MAJOR_VERSION >= 14
v8::Local<v8::Value> GetCped(v8::Isolate* isolate) {
  return isolate->GetContinuationPreservedEmbedderDataV2().As<v8::Value>();
}
void SetCped(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  isolate->SetContinuationPreservedEmbedderDataV2(value);
}
#else
v8::Local<v8::Value> GetCped(v8::Isolate* isolate) { return isolate->GetContinuationPreservedEmbedderData(); }
void SetCped(v8::Isolate* isolate, v8::Local<v8::Value> value) { isolate->SetContinuationPreservedEmbedderData(value); }
#endif

Addr TaggedOf(v8::Local<v8::Value> value) {
  return static_cast<Addr>(v8::internal::ValueHelper::ValueAsAddress(*value));
}

bool IsHeapObject(Addr word) { return (word & 3) == 1; }
bool IsSmi(Addr word) { return (word & 0xffffffffu) == 0; }
int64_t SmiValue(Addr word) { return static_cast<int64_t>(word) >> 32; }
Addr SmiOf(int64_t value) { return static_cast<Addr>(value) << 32; }

bool ReadMem(Addr address, void* out, size_t length) {
  struct iovec local = {out, length};
  struct iovec remote = {reinterpret_cast<void*>(address), length};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == static_cast<ssize_t>(length);
}

bool ReadWord(Addr address, Addr* out) { return ReadMem(address, out, sizeof(*out)); }

// The walk facts, as struct tld_walk names them.
struct Facts {
  Addr cped_slot = 0;
  Addr no_frame = 0;
  uint32_t als_hash = 0;
  int key_hash_off = -1;
  int frame_table_off = -1;
  int nelements_off = 16;
  int ndeleted_off = 24;
  int nbuckets_off = 32;
  int buckets_off = 40;
  int entry_words = 3;
  int entry_key = 0;
  int entry_value = 1;
  int entry_chain = 2;
  int store_record_off = -1;
  Addr als_address = 0;
};

enum class Found { kValue, kAbsent, kBroken };

// One OrderedHashMap lookup as a reader does it: bucket by hash, chain bounded, every word checked. A key matches
// when `match(key)` says so; the value goes to *value.
template <typename Match>
Found Lookup(const Facts& f, Addr table, uint32_t hash, Match match, Addr* value) {
  if (!IsHeapObject(table)) return Found::kBroken;
  Addr t = table - 1;
  Addr nel = 0, ndel = 0, nb = 0;
  if (!ReadWord(t + f.nelements_off, &nel) || !ReadWord(t + f.ndeleted_off, &ndel) ||
      !ReadWord(t + f.nbuckets_off, &nb)) {
    return Found::kBroken;
  }
  if (!IsSmi(nel) || !IsSmi(ndel) || !IsSmi(nb)) return Found::kBroken;
  int64_t nbuckets = SmiValue(nb), used = SmiValue(nel) + SmiValue(ndel);
  if (nbuckets <= 0 || nbuckets > kMaxBuckets || (nbuckets & (nbuckets - 1)) != 0) return Found::kBroken;
  if (SmiValue(nel) < 0 || SmiValue(ndel) < 0 || used > 2 * nbuckets) return Found::kBroken;
  Addr entry_word = 0;
  if (!ReadWord(t + f.buckets_off + 8 * (hash & (nbuckets - 1)), &entry_word) || !IsSmi(entry_word)) {
    return Found::kBroken;
  }
  int64_t entry = SmiValue(entry_word);
  Addr entries = t + f.buckets_off + 8 * nbuckets;
  for (int step = 0; step < kMaxChain; step++) {
    if (entry == -1) return Found::kAbsent;
    if (entry < 0 || entry >= used) return Found::kBroken;
    Addr at = entries + 8 * f.entry_words * entry;
    Addr key = 0, chain = 0;
    if (!ReadWord(at + 8 * f.entry_key, &key) || !ReadWord(at + 8 * f.entry_chain, &chain)) return Found::kBroken;
    if (match(key)) return ReadWord(at + 8 * f.entry_value, value) ? Found::kValue : Found::kBroken;
    if (!IsSmi(chain)) return Found::kBroken;
    entry = SmiValue(chain);
  }
  return Found::kBroken;
}

// The frame's entry for our AsyncLocalStorage, the way a BPF reader finds it (by identity hash in the key).
Found LookupStore(const Facts& f, Addr frame, Addr* store) {
  if (!IsHeapObject(frame)) return Found::kBroken;
  Addr table = 0;
  if (!ReadWord(frame - 1 + f.frame_table_off, &table)) return Found::kBroken;
  // By the published address first, as a reader does (no read of the key), else by the hash word.
  auto match = [&](Addr key) {
    Addr word = 0;
    if (IsHeapObject(key) && key == f.als_address) return true;
    return IsHeapObject(key) && ReadWord(key - 1 + f.key_hash_off, &word) && word == SmiOf(f.als_hash);
  };
  return Lookup(f, table, f.als_hash, match, store);
}

// Offset (in bytes) of the word of `object`'s first `scan_words` words (after its map word) equal to `wanted`;
// -2 when more than one holds it, -1 when none does.
int FindWord(Addr object, Addr wanted, int scan_words) {
  Addr words[kObjectScanWords];
  if (scan_words > kObjectScanWords || !IsHeapObject(object) || !ReadMem(object - 1, words, 8 * scan_words)) return -1;
  int found = -1;
  for (int i = 1; i < scan_words; i++) {
    if (words[i] != wanted) continue;
    if (found != -1) return -2;
    found = i * 8;
  }
  return found;
}

Addr ViewData(v8::Local<v8::Uint8Array> view) {
  return reinterpret_cast<Addr>(view->Buffer()->Data()) + view->ByteOffset();
}

struct Failure {
  std::string reason;
};

// Finds the CPED slot: the one word of the Isolate that follows SetContinuationPreservedEmbedderData through two
// objects of our own and back to the value it had. Nothing allocates between a set and the scan after it, so no
// GC can move the objects meanwhile.
bool FindCpedSlot(v8::Isolate* isolate, Facts* f, int* offset, Failure* fail) {
  v8::Local<v8::Value> saved = GetCped(isolate);
  v8::Local<v8::Object> a = v8::Object::New(isolate);
  v8::Local<v8::Object> b = v8::Object::New(isolate);
  // Per call, not static: worker threads discover their own isolates at the same time.
  std::vector<Addr> block(kIsolateScanBytes / 8);
  Addr base = reinterpret_cast<Addr>(isolate);
  int candidates[8];
  int count = 0;

  SetCped(isolate, a);
  bool read = ReadMem(base, block.data(), kIsolateScanBytes);
  Addr ta = TaggedOf(a);
  for (size_t i = 0; read && i < kIsolateScanBytes / 8 && count < 8; i++) {
    if (block[i] == ta) candidates[count++] = static_cast<int>(i * 8);
  }
  SetCped(isolate, b);
  Addr tb = TaggedOf(b);
  int kept = 0;
  for (int i = 0; i < count; i++) {
    Addr word = 0;
    if (ReadWord(base + candidates[i], &word) && word == tb) candidates[kept++] = candidates[i];
  }
  SetCped(isolate, v8::Undefined(isolate));
  Addr undefined_word = TaggedOf(v8::Undefined(isolate));
  int kept2 = 0;
  for (int i = 0; i < kept; i++) {
    Addr word = 0;
    if (ReadWord(base + candidates[i], &word) && word == undefined_word) candidates[kept2++] = candidates[i];
  }
  SetCped(isolate, saved);
  Addr ts = TaggedOf(saved);
  int kept3 = 0;
  for (int i = 0; i < kept2; i++) {
    Addr word = 0;
    if (ReadWord(base + candidates[i], &word) && word == ts) candidates[kept3++] = candidates[i];
  }
  if (!read || kept3 != 1) {
    fail->reason = "the continuation-preserved embedder data slot was not found in the Isolate (" +
                   std::to_string(kept3) + " words followed SetContinuationPreservedEmbedderData)";
    return false;
  }
  *offset = candidates[0];
  f->cped_slot = base + candidates[0];
  f->no_frame = undefined_word;
  return true;
}

// Proves the OrderedHashMap layout on a Map built in JavaScript with known keys and values (one deleted), and finds
// the JSMap's table field: lookups of every key must return its value, the deleted key must be absent, and the
// table's length must be what the layout implies.
bool VerifyMapLayout(v8::Local<v8::Map> map, v8::Local<v8::Array> keys, v8::Local<v8::Array> values,
                     v8::Local<v8::Object> deleted, v8::Local<v8::Context> context, Facts* f, Failure* fail) {
  Addr map_word = TaggedOf(map);
  Addr words[kObjectScanWords];
  if (!ReadMem(map_word - 1, words, sizeof(words))) {
    fail->reason = "a Map object could not be read";
    return false;
  }
  uint32_t n = keys->Length();
  for (int i = 1; i < 8; i++) {
    if (!IsHeapObject(words[i])) continue;
    Facts trial = *f;
    trial.frame_table_off = i * 8;
    Addr table = words[i];
    Addr header[5];
    if (!ReadMem(table - 1, header, sizeof(header))) continue;
    // FixedArray: map, length; then element count, deleted count, bucket count.
    if (!IsSmi(header[1]) || !IsSmi(header[2]) || !IsSmi(header[3]) || !IsSmi(header[4])) continue;
    int64_t nbuckets = SmiValue(header[4]);
    if (SmiValue(header[2]) != static_cast<int64_t>(map->Size()) || SmiValue(header[3]) != 1) continue;
    if (nbuckets <= 0 || (nbuckets & (nbuckets - 1)) != 0) continue;
    int64_t length_words = (trial.buckets_off - 16) / 8 + nbuckets + trial.entry_words * 2 * nbuckets;
    if (SmiValue(header[1]) != length_words) continue;
    bool ok = true;
    for (uint32_t k = 0; ok && k < n; k++) {
      v8::Local<v8::Value> key, value;
      if (!keys->Get(context, k).ToLocal(&key) || !values->Get(context, k).ToLocal(&value) || !key->IsObject()) {
        ok = false;
        break;
      }
      Addr tk = TaggedOf(key);
      Addr got = 0;
      uint32_t hash = static_cast<uint32_t>(key.As<v8::Object>()->GetIdentityHash());
      ok = Lookup(trial, table, hash, [&](Addr w) { return w == tk; }, &got) == Found::kValue && got == TaggedOf(value);
    }
    Addr td = TaggedOf(deleted);
    Addr ignored = 0;
    uint32_t dhash = static_cast<uint32_t>(deleted->GetIdentityHash());
    if (ok && Lookup(trial, table, dhash, [&](Addr w) { return w == td; }, &ignored) != Found::kAbsent) ok = false;
    if (ok) {
      *f = trial;
      return true;
    }
  }
  fail->reason = "the Map's OrderedHashMap layout did not read back the keys and values it was built with";
  return false;
}

// discover(als, store, otherStore, map, keys, values, deletedKey): called inside als.run(store, ...). Returns the
// facts, or { reason } saying which verification failed.
void Discover(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> result = v8::Object::New(isolate);
  auto set = [&](const char* name, v8::Local<v8::Value> value) {
    result->Set(context, v8::String::NewFromUtf8(isolate, name).ToLocalChecked(), value).Check();
  };
  auto fail_with = [&](const std::string& reason) {
    set("reason", v8::String::NewFromUtf8(isolate, reason.c_str()).ToLocalChecked());
    info.GetReturnValue().Set(result);
  };
  if (info.Length() < 7 || !info[0]->IsObject() || !info[1]->IsUint8Array() || !info[2]->IsUint8Array() ||
      !info[3]->IsMap() || !info[4]->IsArray() || !info[5]->IsArray() || !info[6]->IsObject()) {
    return fail_with("discover() was called with the wrong arguments");
  }
  v8::Local<v8::Object> als = info[0].As<v8::Object>();
  v8::Local<v8::Uint8Array> store = info[1].As<v8::Uint8Array>();
  v8::Local<v8::Uint8Array> other = info[2].As<v8::Uint8Array>();
  Facts f;
  Failure fail;
  int cped_offset = 0;

  v8::Local<v8::Value> frame = GetCped(isolate);
  if (!frame->IsMap()) return fail_with("the current async context frame is not a Map (no AsyncContextFrame?)");
  if (!FindCpedSlot(isolate, &f, &cped_offset, &fail)) return fail_with(fail.reason);
  if (!VerifyMapLayout(info[3].As<v8::Map>(), info[4].As<v8::Array>(), info[5].As<v8::Array>(),
                       info[6].As<v8::Object>(), context, &f, &fail)) {
    return fail_with(fail.reason);
  }

  // Our AsyncLocalStorage's identity hash (the frame's Map made it when run() inserted it) and the one word of
  // the object that holds it; a key of the test Map must hold its own hash at the same offset.
  f.als_hash = static_cast<uint32_t>(als->GetIdentityHash());
  f.key_hash_off = FindWord(TaggedOf(als), SmiOf(f.als_hash), kJsObjectHeaderWords);
  if (f.key_hash_off < 0) return fail_with("the AsyncLocalStorage's identity hash was not found in one word of it");
  v8::Local<v8::Value> key0;
  if (!info[4].As<v8::Array>()->Get(context, 0).ToLocal(&key0) || !key0->IsObject()) {
    return fail_with("discover() needs object keys");
  }
  Addr key0_hash = 0;
  if (!ReadWord(TaggedOf(key0) - 1 + f.key_hash_off, &key0_hash) ||
      key0_hash != SmiOf(static_cast<uint32_t>(key0.As<v8::Object>()->GetIdentityHash()))) {
    return fail_with("another object does not keep its identity hash where the AsyncLocalStorage does");
  }

  // The store's record address: the view's data pointer (its buffer's data + its byte offset), in one word, at the
  // same offset in two views at different offsets.
  Addr data = ViewData(store);
  f.store_record_off = FindWord(TaggedOf(store), data, kViewWords);
  if (data == 0 || f.store_record_off < 0 || ViewData(other) == data ||
      FindWord(TaggedOf(other), ViewData(other), kViewWords) != f.store_record_off) {
    return fail_with("a Uint8Array's data pointer was not found at one offset of the object");
  }

  // The whole walk, as a reader does it, from the slot to the store's data.
  Addr frame_word = 0, store_word = 0, record = 0;
  if (!ReadWord(f.cped_slot, &frame_word) || frame_word != TaggedOf(frame) ||
      LookupStore(f, frame_word, &store_word) != Found::kValue || store_word != TaggedOf(store) ||
      !ReadWord(store_word - 1 + f.store_record_off, &record) || record != data) {
    return fail_with("the walk from the slot did not reach the run's store");
  }

  auto big = [&](Addr v) { return v8::BigInt::NewFromUnsigned(isolate, v); };
  auto num = [&](double v) { return v8::Number::New(isolate, v); };
  set("cpedSlot", big(f.cped_slot));
  set("cpedOffset", num(cped_offset));
  set("noFrame", big(f.no_frame));
  set("alsHash", num(f.als_hash));
  set("keyHashOff", num(f.key_hash_off));
  set("frameTableOff", num(f.frame_table_off));
  set("tableNelementsOff", num(f.nelements_off));
  set("tableNdeletedOff", num(f.ndeleted_off));
  set("tableNbucketsOff", num(f.nbuckets_off));
  set("tableBucketsOff", num(f.buckets_off));
  set("entryWords", num(f.entry_words));
  set("entryKey", num(f.entry_key));
  set("entryValue", num(f.entry_value));
  set("entryChain", num(f.entry_chain));
  set("storeRecordOff", num(f.store_record_off));
  info.GetReturnValue().Set(result);
}

// dataAddress(buffer): the address of an ArrayBuffer's data (a record slab's base; its records' `self`).
void DataAddress(const v8::FunctionCallbackInfo<v8::Value>& info) {
  if (info.Length() < 1 || !info[0]->IsArrayBuffer()) return;
  Addr address = reinterpret_cast<Addr>(info[0].As<v8::ArrayBuffer>()->Data());
  info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(info.GetIsolate(), address));
}

// walk(facts): the reader's walk over this thread's memory, for tests and `tld dump`-style checks. Returns the
// record address (bigint), 0 outside any run of ours (the page applies), or -1 when a check failed.
void Walk(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  auto ret = [&](int64_t v) { info.GetReturnValue().Set(v8::BigInt::New(isolate, v)); };
  if (info.Length() < 1 || !info[0]->IsUint8Array()) return ret(-1);
  v8::Local<v8::Uint8Array> bytes = info[0].As<v8::Uint8Array>();
  if (bytes->ByteLength() < 64) return ret(-1);
  unsigned char w[64];
  bytes->CopyContents(w, sizeof(w));
  auto u16 = [&](int at) {
    uint16_t v;
    std::memcpy(&v, w + at, 2);
    return static_cast<int>(v);
  };
  uint32_t version, hash;
  std::memcpy(&version, w, 4);
  std::memcpy(&hash, w + 4, 4);
  if (version != 2) return ret(0);
  Facts f;
  std::memcpy(&f.cped_slot, w + 8, 8);
  std::memcpy(&f.no_frame, w + 16, 8);
  f.als_hash = hash;
  f.key_hash_off = u16(32);
  f.frame_table_off = u16(34);
  f.nelements_off = u16(36);
  f.ndeleted_off = u16(38);
  f.nbuckets_off = u16(40);
  f.buckets_off = u16(42);
  f.entry_words = u16(44);
  f.entry_key = u16(46);
  f.entry_value = u16(48);
  f.entry_chain = u16(50);
  f.store_record_off = u16(52);
  std::memcpy(&f.als_address, w + 56, 8);
  Addr frame = 0, store = 0, record = 0;
  if (!ReadWord(f.cped_slot, &frame)) return ret(-1);
  if (frame == f.no_frame) return ret(0);
  switch (LookupStore(f, frame, &store)) {
    case Found::kAbsent:
      return ret(0);
    case Found::kBroken:
      return ret(-1);
    case Found::kValue:
      break;
  }
  if (store == f.no_frame) return ret(0);
  if (!IsHeapObject(store) || !ReadWord(store - 1 + f.store_record_off, &record) || (record & 7) != 0) return ret(-1);
  info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(isolate, record));
}

// Keeps tld_walk.als_address (PROTOCOL.md §8) at the AsyncLocalStorage's current address in every page this
// thread published its facts in. V8 moves objects only inside a GC: the prologue clears the word (a reader then
// matches by the key's hash word) and the epilogue stores where the object is now.
struct AlsTracker {
  v8::Global<v8::Object> als;
  // Each target word lives in a page; the backing store keeps a JavaScript-allocated page alive.
  std::vector<std::pair<std::shared_ptr<v8::BackingStore>, uint64_t*>> targets;
};

thread_local AlsTracker* tracker = nullptr;

void StoreAddress(AlsTracker* t, Addr address) {
  for (auto& target : t->targets) __atomic_store_n(target.second, address, __ATOMIC_RELAXED);
}

void OnGcStart(v8::Isolate*, v8::GCType, v8::GCCallbackFlags, void* data) {
  StoreAddress(static_cast<AlsTracker*>(data), 0);
}

void OnGcEnd(v8::Isolate* isolate, v8::GCType, v8::GCCallbackFlags, void* data) {
  auto* t = static_cast<AlsTracker*>(data);
  v8::HandleScope scope(isolate);
  StoreAddress(t, TaggedOf(t->als.Get(isolate)));
}

// Environment teardown. Registered after @tld/userspace's own hook (the page exists before trackAls is called),
// so it runs before that hook unmaps the thread's data page: no GC callback writes into a freed page.
void StopTracking(void* data) {
  auto* t = static_cast<AlsTracker*>(data);
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) {
    isolate->RemoveGCPrologueCallback(OnGcStart, t);
    isolate->RemoveGCEpilogueCallback(OnGcEnd, t);
  }
  StoreAddress(t, 0);
  if (tracker == t) tracker = nullptr;
  delete t;
}

// trackAls(als, page, byteOffset): keeps the 8 bytes at byteOffset of page (an ArrayBuffer) equal to als's tagged
// address, from now until the environment ends. Returns false for bad arguments (nothing changes then).
void TrackAls(const v8::FunctionCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  auto ret = [&](bool ok) { info.GetReturnValue().Set(v8::Boolean::New(isolate, ok)); };
  if (info.Length() < 3 || !info[0]->IsObject() || !info[1]->IsArrayBuffer() || !info[2]->IsUint32()) {
    return ret(false);
  }
  v8::Local<v8::ArrayBuffer> page = info[1].As<v8::ArrayBuffer>();
  uint32_t offset = info[2].As<v8::Uint32>()->Value();
  std::shared_ptr<v8::BackingStore> store = page->GetBackingStore();
  auto* base = static_cast<unsigned char*>(store->Data());
  if (base == nullptr || offset % 8 != 0 || offset + 8 > store->ByteLength() ||
      reinterpret_cast<uintptr_t>(base) % 8 != 0) {
    return ret(false);
  }
  if (tracker == nullptr) {
    tracker = new AlsTracker();
    isolate->AddGCPrologueCallback(OnGcStart, tracker, v8::kGCTypeAll);
    isolate->AddGCEpilogueCallback(OnGcEnd, tracker, v8::kGCTypeAll);
    node::AddEnvironmentCleanupHook(isolate, StopTracking, tracker);
  }
  tracker->als.Reset(isolate, info[0].As<v8::Object>());
  auto* word = reinterpret_cast<uint64_t*>(base + offset);
  bool known = false;
  for (auto& target : tracker->targets) known = known || target.second == word;
  if (!known) tracker->targets.emplace_back(std::move(store), word);
  StoreAddress(tracker, TaggedOf(info[0]));
  ret(true);
}

}  // namespace

NODE_MODULE_INIT(/* exports, module, context */) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  auto add = [&](const char* name, v8::FunctionCallback callback) {
    exports
        ->Set(context, v8::String::NewFromUtf8(isolate, name).ToLocalChecked(),
              v8::FunctionTemplate::New(isolate, callback)->GetFunction(context).ToLocalChecked())
        .Check();
  };
  add("discover", Discover);
  add("dataAddress", DataAddress);
  add("walk", Walk);
  add("trackAls", TrackAls);
}
