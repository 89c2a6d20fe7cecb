/* SPDX-License-Identifier: MIT */
/*
 * tld.bpf.h - read task local data from BPF programs. The protocol is PROTOCOL.md of @tld/protocol
 * (packages/protocol/PROTOCOL.md in the repository).
 *
 * Same calls as the Linux selftest header task_local_data.bpf.h, so a program can switch between the two:
 *
 *   #include "vmlinux.h"
 *   #include <bpf/bpf_helpers.h>
 *   #include "tld.bpf.h"
 *
 *   struct tld_keys {            // one tld_key_t per key the program reads; cached per task in tld_key_map
 *           tld_key_t req_id;
 *   };
 *
 *   struct tld_object obj;
 *   if (tld_object_init(task, &obj))       // 0, -ENODATA (thread never registered) or -ENOMEM
 *           return 0;
 *   __u64 *id = tld_get_data(&obj, req_id, "req_id", sizeof(__u64));   // NULL until user space created it
 *
 * Define TLD_NO_KEY_MAP before including this header when the program only uses tld_find_key() (run-time names)
 * and therefore has no struct tld_keys; TLD_DATA_MAP_NO_PIN when the loader supplies tld_data_map (see there).
 *
 * The byte layout comes from the generated tld_layout.h (@tld/protocol); nothing here restates an offset.
 */
#ifndef __TLD_BPF_H
#define __TLD_BPF_H

#include <bpf/bpf_helpers.h>
#include "tld_layout.h"

#ifndef ENODATA
#define ENODATA 61
#endif
#ifndef ENOMEM
#define ENOMEM 12
#endif
#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef EFAULT
#define EFAULT 14
#endif
#ifndef EINVAL
#define EINVAL 22
#endif
#ifndef EAGAIN
#define EAGAIN 11
#endif
#ifndef ESTALE
#define ESTALE 116
#endif

/*
 * The value type of tld_data_map: the 16-byte struct tld_map_value unless the program defines this before the
 * include (the task iterator reads maps with the 24-byte struct tld_map_value_v2 too: its data and meta
 * pointers are the same fields at the same offsets).
 */
#ifndef TLD_DATA_MAP_VALUE
#define TLD_DATA_MAP_VALUE struct tld_map_value
#endif

/* bpf_task_storage_get(F_CREATE) can fail transiently under memory pressure: retry a few times. */
#ifndef TLD_KEY_MAP_CREATE_RETRY
#define TLD_KEY_MAP_CREATE_RETRY 10
#endif

/*
 * Cached position of one key in a task's data page: > 0 is `start + off` (found); <= 0 is -(slots already
 * searched), so the next lookup only compares names of slots added since (PROTOCOL.md §6).
 */
typedef struct {
	__s16 off;
} tld_key_t;

/* Written by the program author: one tld_key_t member per key (see the example above). */
struct tld_keys;

struct tld_key_owner;

struct tld_object {
	TLD_DATA_MAP_VALUE *data_map;
	struct tld_keys *key_map;
	struct tld_key_owner *owner; /* NULL under TLD_NO_KEY_MAP */
};

/*
 * One map per host, pinned by name at /sys/fs/bpf/tld_data_map, so every consumer reads what every process
 * registered. A loader may override the pin path (tests use a private map). The maps and the dummy below are
 * weak so that several objects including this header can be linked into one (bpftool gen object).
 *
 * Define TLD_DATA_MAP_NO_PIN before including this header when the loader hands the map over itself (bpftool's
 * `map name tld_data_map pinned PATH`, bpf_map__reuse_fd()): libbpf would otherwise also reuse or create the pin
 * /sys/fs/bpf/tld_data_map, and bpftool's `pinmaps DIR` refuses a map that already has a pin path.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
#ifndef TLD_DATA_MAP_NO_PIN
	__uint(pinning, LIBBPF_PIN_BY_NAME);
#endif
	__type(key, int);
	__type(value, TLD_DATA_MAP_VALUE);
} tld_data_map SEC(".maps") __attribute__((weak));

/*
 * clang describes a struct reached only through a btf_type_tag'ed pointer as a forward declaration; the kernel
 * then sees the uptr fields as plain numbers and refuses them. This global names both pointees directly.
 */
struct tld_uptr_pointees {
	struct tld_data_u data;
	struct tld_meta_u meta;
};
struct tld_uptr_pointees *tld_uptr_dummy SEC(".data") __attribute__((weak));

#ifndef TLD_NO_KEY_MAP
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tld_keys);
} tld_key_map SEC(".maps") __attribute__((weak));

/*
 * The pages the task's tld_key_map entry was filled from. Offsets belong to one metadata page (and `start` to
 * one data page): user space may re-register the task with other pages (BPF_ANY update, PROTOCOL.md §1), and
 * the old offsets then point at unrelated bytes. A separate map because struct tld_keys is defined after this
 * header, so no value type here can contain it.
 */
struct tld_key_owner {
	__u64 data;
	__u64 meta;
	tld_key_t walk; /* the cached position of key TLD_WALK_KEY_NAME, for tld_get_context_data() */
	__u16 __pad[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tld_key_owner);
} tld_key_owner SEC(".maps") __attribute__((weak));
#endif

/* bpf_task_storage_get(F_CREATE) with retries (it can fail transiently under memory pressure). */
#define __tld_storage_create(map, task)                                                                    \
	({                                                                                                 \
		void *__v = NULL;                                                                          \
		int __r;                                                                                   \
		for (__r = 0; __r < TLD_KEY_MAP_CREATE_RETRY && !__v; __r++)                               \
			__v = bpf_task_storage_get(&(map), (task), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);     \
		__v;                                                                                       \
	})

/*
 * Finds the task's registration. Returns 0 on success; -ENODATA when the task never registered (or its data or
 * metadata pointer is NULL), -ENOMEM when the per-task key cache cannot be created. When the task is now
 * registered with other pages than the cache was filled from, every cached key is reset to 0 (not searched).
 * `keys_size` is sizeof(struct tld_keys), known only where the program calls tld_object_init().
 */
static __always_inline int __tld_object_init(struct task_struct *task, struct tld_object *obj, __u32 keys_size)
{
	obj->key_map = NULL;
	obj->owner = NULL;
	obj->data_map = bpf_task_storage_get(&tld_data_map, task, 0, 0);
	if (!obj->data_map || !obj->data_map->data || !obj->data_map->meta)
		return -ENODATA;
#ifndef TLD_NO_KEY_MAP
	{
		struct tld_key_owner *owner = __tld_storage_create(tld_key_owner, task);
		/* The addresses as numbers: compared and stored, never dereferenced through the owner. */
		__u64 data = (__u64)obj->data_map->data, meta = (__u64)obj->data_map->meta;

		obj->key_map = __tld_storage_create(tld_key_map, task);
		if (!obj->key_map || !owner) {
			obj->key_map = NULL;
			return -ENOMEM;
		}
		if (owner->data != data || owner->meta != meta) {
			__builtin_memset(obj->key_map, 0, keys_size);
			owner->walk.off = 0;
			owner->data = data;
			owner->meta = meta;
		}
		obj->owner = owner;
	}
#else
	(void)keys_size;
#endif
	return 0;
}

/* tld_object_init(task, obj): same call as upstream; see __tld_object_init(). */
#ifndef TLD_NO_KEY_MAP
#define tld_object_init(task, obj) __tld_object_init((task), (obj), sizeof(struct tld_keys))
#else
#define tld_object_init(task, obj) __tld_object_init((task), (obj), 0)
#endif

/*
 * `start` of the task's data page, or -1 when it does not leave room for any value. Readers take it from the
 * page itself (PROTOCOL.md §6), as the upstream readers of the 16-byte map value do; our writer puts 8 there
 * whatever the value size, so pages it writes read correctly under every compatible revision (PROTOCOL.md §7).
 */
static __always_inline long __tld_data_start(struct tld_data_u *data)
{
	__u64 start = *(volatile __u64 *)&data->start;

	if (start < sizeof(data->start) || start >= TLD_PAGE_SIZE)
		return -1;
	return start;
}

/* Published size of slot i, 0 while its creator has not finished writing the name (PROTOCOL.md §3). */
static __always_inline __u16 __tld_slot_size(struct tld_meta_u *meta, int i)
{
	return *(volatile __u16 *)&meta->metadata[i].size;
}

/*
 * Walks the metadata slots from 0 and returns `start + off` of the first slot from `first` on whose name matches,
 * as decided by `match(meta, i, arg)`. Otherwise returns -(slots searched): slots past an unpublished slot are not
 * searched, since their offsets are not known yet. *size_out receives the key's size when found.
 */
#define __tld_walk(obj, first, size_out, match, arg)                                                       \
	({                                                                                                 \
		struct tld_data_u *__data = (obj)->data_map->data;                                         \
		struct tld_meta_u *__meta = (obj)->data_map->meta;                                         \
		long __ret = 0, __start, __off = 0;                                                        \
		int __i, __cnt;                                                                            \
		__u16 __sz;                                                                                \
                                                                                                           \
		if (__data && __meta && (__start = __tld_data_start(__data)) >= 0) {                       \
			__cnt = *(volatile __u16 *)&__meta->cnt;                                           \
			__ret = 0;                                                                         \
			_Pragma("clang loop unroll(disable)")                                              \
			for (__i = 0; __i < TLD_MAX_KEYS; __i++) {                                         \
				if (__i >= __cnt)                                                          \
					break;                                                             \
				__sz = __tld_slot_size(__meta, __i);                                       \
				if (__sz == 0 || __start + __off > TLD_PAGE_SIZE)                          \
					break;                                                             \
				if (__i >= (first) && match(__meta, __i, arg)) {                           \
					*(size_out) = __sz;                                                \
					__ret = __start + __off;                                           \
					break;                                                             \
				}                                                                          \
				__off += TLD_ROUND_UP_VALUE_SIZE(__sz);                                    \
				__ret = -(__i + 1);                                                        \
			}                                                                                  \
		}                                                                                          \
		__ret;                                                                                     \
	})

/* Name match against a compile-time string (bpf_strncmp needs a read-only constant), as upstream does. */
#define __tld_match_const(meta, i, str) (bpf_strncmp((meta)->metadata[i].name, TLD_NAME_LEN, (str)) == 0)

/* State of one cached lookup's walk over the metadata slots (__tld_walk_const_slot, one call per slot). */
struct __tld_walk_const {
	struct tld_meta_u *meta;
	const char *name;
	long start;
	long off;
	long ret;
	int first;
	int cnt;
};

/*
 * One step of __tld_walk() for the cached lookup, as a bpf_loop callback: the verifier checks a callback once for
 * any slot index, where it followed an open-coded loop slot by slot for every path into it (270k instructions for
 * the two keys of tld_read_cached; four keys in one program exceeded the 1M limit).
 */
static long __attribute__((unused)) __tld_walk_const_slot(__u32 i, void *arg)
{
	struct __tld_walk_const *w = arg;
	struct tld_meta_u *meta = w->meta;
	long slot = i;
	__u16 sz;

	if (!meta || slot >= TLD_MAX_KEYS || slot >= w->cnt)
		return 1;
	barrier_var(slot); /* clang would otherwise index with a fresh, unchecked copy of i */
	sz = __tld_slot_size(meta, slot);
	if (sz == 0 || w->start + w->off > TLD_PAGE_SIZE)
		return 1;
	if (slot >= w->first && __tld_match_const(meta, slot, w->name)) {
		w->ret = w->start + w->off;
		return 1;
	}
	w->off += TLD_ROUND_UP_VALUE_SIZE(sz);
	w->ret = -(slot + 1);
	return 0;
}

/*
 * The cached lookup behind tld_get_data(). `cache` is the task's tld_key_t for this key; `size` must be a
 * constant. Returns a pointer to the value in the task's data page, or NULL.
 */
static __always_inline void *__tld_get_data(struct tld_object *obj, __s16 *cache, const char *name, __u32 size)
{
	struct tld_data_u *data = obj->data_map->data;
	struct tld_meta_u *meta = obj->data_map->meta;
	long off = *cache;
	int cnt;

	if (!data || !meta)
		return NULL;
	if (off <= 0) {
		struct __tld_walk_const w = { .meta = meta, .name = name, .first = -off };

		cnt = *(volatile __u16 *)&meta->cnt;
		if (-off >= cnt)
			return NULL; /* no slot added since the last miss */
		w.start = __tld_data_start(data);
		w.cnt = cnt;
		if (w.start < 0)
			return NULL;
		bpf_loop(TLD_MAX_KEYS, __tld_walk_const_slot, &w, 0);
		*cache = w.ret;
		/* Read back: the verifier then knows nothing of how the walk ended, and states after it compare equal. */
		off = *(volatile __s16 *)cache;
		if (off <= 0)
			return NULL;
	}
	barrier_var(off);
	if (off <= 0 || off > TLD_PAGE_SIZE - size)
		return NULL;
	return (char *)data + off;
}

/*
 * tld_get_data(obj, key, name, size) - pointer to the task's value of key `name`, or NULL when user space has not
 * created it (yet) or `size` bytes from its offset would leave the page. `key` names the struct tld_keys member
 * that caches the key's position; `size` must be a constant. Same contract as upstream.
 */
#define tld_get_data(obj, key, name, size) __tld_get_data((obj), &(obj)->key_map->key.off, (name), (size))

/*
 * Run-time name match. `name` points to TLD_NAME_LEN bytes rounded up to 8 (64 bytes, 8-byte aligned), the name
 * NUL-padded; `mask` holds one mask per 8-byte word selecting the name's bytes and its terminating NUL, so a
 * match means what bpf_strncmp(slot, TLD_NAME_LEN, name) == 0 means.
 */
#define TLD_NAME_WORDS ((TLD_NAME_LEN + 7) / 8)

struct tld_name_query {
	__u64 word[TLD_NAME_WORDS];
	__u64 mask[TLD_NAME_WORDS];
};

static __always_inline int __tld_match_query(struct tld_meta_u *meta, int i, struct tld_name_query *q)
{
	/* The last word runs 2 bytes into the slot's size field; its mask never selects them. */
	__u64 *slot = (__u64 *)meta->metadata[i].name;
	__u64 diff = 0;
	int w;

#pragma unroll
	for (w = 0; w < TLD_NAME_WORDS; w++)
		diff |= (slot[w] ^ q->word[w]) & q->mask[w];
	return diff == 0;
}

/*
 * Prepares a run-time name for tld_find_key(): copies the NUL-padded name (64 readable bytes, 8-byte aligned,
 * may be in the ctx) and builds the word masks. Returns the name's length, or -1 when it is empty or has no
 * NUL within TLD_NAME_LEN bytes.
 */
static __always_inline int tld_name_query_init(struct tld_name_query *q, const void *name)
{
	const __u64 *src = name;
	int w, b, len = -1;

#pragma unroll
	for (w = 0; w < TLD_NAME_WORDS; w++) {
		q->word[w] = src[w];
		q->mask[w] = 0;
	}
#pragma unroll
	for (w = 0; w < TLD_NAME_WORDS; w++) {
#pragma unroll
		for (b = 0; b < 8; b++) {
			if (len >= 0 || w * 8 + b >= TLD_NAME_LEN)
				continue;
			q->mask[w] |= 0xffULL << (b * 8);
			if (((q->word[w] >> (b * 8)) & 0xff) == 0)
				len = w * 8 + b;
		}
	}
	if (len <= 0)
		return -1;
	return len;
}

/*
 * Looks up a key by a run-time name (prepared with tld_name_query_init) without using tld_key_map.
 * Returns `start + off` (> 0) with *size_out set when found, else -(slots searched) (<= 0).
 */
static __always_inline long tld_find_key(struct tld_object *obj, struct tld_name_query *q, __u16 *size_out)
{
	return __tld_walk(obj, 0, size_out, __tld_match_query, q);
}

/*
 * The current async context's values: a run() of @tld/userspace on a Node.js with AsyncContextFrame keeps its
 * values in an off-heap record reached from V8's continuation-preserved embedder data (CPED) of the thread, and
 * publishes once, as key TLD_WALK_KEY_NAME ("tld.walk") of the thread's page, what a reader needs to walk there
 * (struct tld_walk, PROTOCOL.md §8). The walk reads user memory of the task; every step is checked, and a step that does not check out
 * gives no value, never a wrong one. The CPED is a JS Map (V8 OrderedHashMap) from each AsyncLocalStorage to its
 * store; official Node.js builds have no pointer compression: a word is a 64-bit tagged pointer (low bit 1) or a
 * Smi (the value in the high 32 bits, the low 32 zero).
 */
#define TLD_FROM_PAGE 0    /* the page's value: outside any run, or the run does not set this key */
#define TLD_FROM_CONTEXT 1 /* the run's value, from its record */

/* Bounds of the walk: a frame holds one entry per AsyncLocalStorage in use, a handful in practice. */
#ifndef TLD_CTX_MAX_BUCKETS
#define TLD_CTX_MAX_BUCKETS 1024
#endif
#ifndef TLD_CTX_MAX_CHAIN
#define TLD_CTX_MAX_CHAIN 8
#endif
#define TLD_CTX_MAX_ENTRY_WORDS 4

#define __TLD_V8_HEAP_OBJECT(w) (((w) & 1) == 1)
#define __TLD_V8_IS_SMI(w) (((w) & 0xffffffffULL) == 0)
#define __TLD_V8_SMI_VALUE(w) ((__s64)(w) >> 32)

/*
 * bpf_probe_read_user() costs about 70 ns a call on the machines we measured whatever it copies (8 or 640 bytes), so
 * the walk reads in few, larger pieces. The walk of the current task copies 640 bytes around the frame: V8
 * bump-allocates a run's store, then its frame (a JS Map), then the frame's table, so one copy usually holds the
 * frame's table pointer, the table's counts, buckets and first entries, and the store's record pointer. Then 320
 * bytes of the record: its header, the first word of its presence bitmap and the first values. Every word is
 * taken from a copy only when the copy holds it; any other word is read on its own, so a copy that misses (objects
 * a GC moved apart, a frame of many stores) costs reads, never correctness. The reader of another task copies 112
 * bytes of the table (counts, buckets, first three entries) and the record's header with its first bitmap word.
 */
#define TLD_CTX_FRAME_BEFORE  256
#define TLD_CTX_FRAME_WINDOW  640
#define TLD_CTX_TABLE_WINDOW 112
#define TLD_CTX_RECORD_WINDOW 320
#define TLD_CTX_ATTEMPTS      3 /* walks of the current task before a lost copy gives -EAGAIN */

/*
 * The copies of the current task's walk, per CPU: they do not fit the BPF stack beside a caller's. A program that
 * interrupts another on the same CPU (or runs while it is preempted) may walk through the same copies, so each walk
 * draws a ticket first and trusts what it took from the copies only while the ticket is still the latest.
 */
struct __tld_ctx_scratch {
	__u64 ticket;
	__u64 window[TLD_CTX_FRAME_WINDOW / 8];
	__u64 record[TLD_CTX_RECORD_WINDOW / 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct __tld_ctx_scratch);
} tld_ctx_scratch SEC(".maps") __attribute__((weak));

/* Where a located record is, and its seqlock word and first bitmap word as read with its header. */
struct tld_ctx_loc {
	__u64 record;
	__u64 values;  /* record + values_off */
	__u64 present; /* record + present_off: one bit per 8-byte word of the values area */
	__u64 bits0;   /* the bitmap's first word (words 0-63 of the values area), when bits0_ok */
	__u64 ticket;  /* current task: the walk's ticket on this CPU's tld_ctx_scratch */
	__u32 bits0_ok;
	__u32 values_size;
	__u32 seq;
	__u32 record_bytes; /* current task: bytes of the record in this CPU's copy */
	__u32 reads;	    /* user memory reads the walk and the copy made */
	__u32 __pad;
};

/* The record header and the bitmap word after it, read at once. */
struct __tld_record_head {
	struct tld_ctx_record hdr;
	__u64 bits0;
};

/*
 * Reads user memory of the current task (remote == 0: bpf_probe_read_user, any tracing program) or of `task`
 * (remote == 1: bpf_copy_from_user_task, sleepable programs only), and counts the read in *reads (the reads are
 * what the walk costs; tests check how many it makes). `remote` is a constant at every call, so the helper the
 * program may not call is compiled out.
 */
static __always_inline long __tld_user_read(void *dst, __u32 size, __u64 src, struct task_struct *task,
					    const int remote, __u32 *reads)
{
	*reads += 1;
	if (remote)
		return bpf_copy_from_user_task(dst, size, (const void *)src, task, 0);
	return bpf_probe_read_user(dst, size, (const void *)src);
}

/*
 * The word at user address `addr`: from `copy` (`room` bytes, holding `len` bytes copied from `base`) when it holds
 * the word, else read.
 */
static __always_inline long __tld_copy_word(__u64 *copy, const __u32 room, __u64 base, __u64 len, __u64 addr,
					    __u64 *out, struct task_struct *task, const int remote, __u32 *reads)
{
	__u64 d = addr - base;

	if (addr >= base && !(d & 7) && d < len) {
		d /= 8;
		barrier_var(d);
		if (d < room / 8) {
			*out = copy[d];
			return 0;
		}
	}
	return __tld_user_read(out, sizeof(*out), addr, task, remote, reads);
}

/*
 * Walks from the task's CPED slot to the record of the innermost run() (struct tld_walk `w` from the task's page).
 * `s` is this CPU's scratch for the current task (remote == 0), NULL for another task. Returns TLD_FROM_CONTEXT
 * with *loc filled; TLD_FROM_PAGE when no walk is published (version != TLD_WALK_VERSION), the slot holds no frame, or
 * our AsyncLocalStorage is not in the frame (outside any run); -EFAULT when user memory could not be read; -EINVAL when
 * a word is not what the layout says (tag, Smi, bucket count, bounds, chain too long, record alignment, magic,
 * self); -ESTALE when the record's run has ended; -EAGAIN when the record is being changed.
 */
static __always_inline int __tld_ctx_locate(struct tld_walk *w, struct task_struct *task, const int remote,
					    struct tld_ctx_loc *loc, struct __tld_ctx_scratch *s)
{
	/* Another task's copies, on the stack: the table's is done with before the record's head is read. */
	union {
		__u64 table[TLD_CTX_TABLE_WINDOW / 8];
		struct __tld_record_head head;
	} u;
	/* Which copies this walk uses: `remote` is a constant, so each build of the walk sees one kind of memory. */
	__u64 *copy = remote ? u.table : s->window;
	const __u32 room = remote ? TLD_CTX_TABLE_WINDOW : TLD_CTX_FRAME_WINDOW;
	struct __tld_record_head *head = remote ? &u.head : (struct __tld_record_head *)s->record;
	const __u32 record_room = remote ? sizeof(u.head) : TLD_CTX_RECORD_WINDOW;
	__u64 frame, table, nb, ne, nd, word, key, hashword, store = 0, rec, magic, entries, entry, lo, als;
	__u64 base = 0, len = 0; /* the copy at `copy`: user memory [base, base + len) */
	__s64 nbuckets, nelements, ndeleted, idx;
	__u32 hash, ew, ek, ev, ec;
	int step;

	loc->reads = 0;
#define __TLD_WORD(addr, out) __tld_copy_word(copy, room, base, len, (addr), (out), task, remote, &loc->reads)
	if (*(volatile __u32 *)&w->version != TLD_WALK_VERSION)
		return TLD_FROM_PAGE;
	barrier(); /* the version is written last: the facts are read after it */
	hash = w->als_hash;
	ew = w->entry_words;
	ek = w->entry_key;
	ev = w->entry_value;
	ec = w->entry_chain;
	magic = w->record_magic;
	als = *(volatile __u64 *)&w->als_address;
	if (ew == 0 || ew > TLD_CTX_MAX_ENTRY_WORDS || ek >= ew || ev >= ew || ec >= ew || magic == 0)
		return -EINVAL;

	if (__tld_user_read(&frame, sizeof(frame), w->cped_slot, task, remote, &loc->reads))
		return -EFAULT;
	if (frame == w->no_frame)
		return TLD_FROM_PAGE;
	if (!__TLD_V8_HEAP_OBJECT(frame))
		return -EINVAL;
	if (!remote) {
		/* A copy that faults (the frame near the edge of a mapping) is no copy: every word is then read. */
		base = frame - 1 - TLD_CTX_FRAME_BEFORE;
		if (!__tld_user_read(copy, TLD_CTX_FRAME_WINDOW, base, task, remote, &loc->reads))
			len = TLD_CTX_FRAME_WINDOW;
	}
	if (__TLD_WORD(frame - 1 + w->frame_table_off, &table))
		return -EFAULT;
	if (!__TLD_V8_HEAP_OBJECT(table))
		return -EINVAL;
	table -= 1;
	/* The table's copy starts at the first of its counts; the buckets and entries follow them in V8's layout. */
	lo = w->table_nelements_off;
	if (w->table_ndeleted_off < lo)
		lo = w->table_ndeleted_off;
	if (w->table_nbuckets_off < lo)
		lo = w->table_nbuckets_off;
	if (table + lo < base || table + lo + TLD_CTX_TABLE_WINDOW > base + len) {
		base = table + lo;
		len = TLD_CTX_TABLE_WINDOW;
		if (__tld_user_read(copy, TLD_CTX_TABLE_WINDOW, base, task, remote, &loc->reads))
			return -EFAULT;
	}
	if (__TLD_WORD(table + w->table_nbuckets_off, &nb) || __TLD_WORD(table + w->table_nelements_off, &ne) ||
	    __TLD_WORD(table + w->table_ndeleted_off, &nd))
		return -EFAULT;
	if (!__TLD_V8_IS_SMI(nb) || !__TLD_V8_IS_SMI(ne) || !__TLD_V8_IS_SMI(nd))
		return -EINVAL;
	nbuckets = __TLD_V8_SMI_VALUE(nb);
	nelements = __TLD_V8_SMI_VALUE(ne);
	ndeleted = __TLD_V8_SMI_VALUE(nd);
	/* A table has room for 2 entries per bucket, and the bucket count is a power of two. */
	if (nbuckets < 1 || nbuckets > TLD_CTX_MAX_BUCKETS || (nbuckets & (nbuckets - 1)) || nelements < 0 ||
	    ndeleted < 0 || nelements + ndeleted > 2 * nbuckets)
		return -EINVAL;
	if (__TLD_WORD(table + w->table_buckets_off + 8 * (hash & (nbuckets - 1)), &word))
		return -EFAULT;
	entries = table + w->table_buckets_off + 8 * nbuckets;

#pragma unroll
	for (step = 0; step < TLD_CTX_MAX_CHAIN; step++) {
		if (!__TLD_V8_IS_SMI(word))
			return -EINVAL;
		idx = __TLD_V8_SMI_VALUE(word);
		if (idx == -1)
			return TLD_FROM_PAGE; /* the chain ends: our AsyncLocalStorage has no store in this frame */
		if (idx < 0 || idx >= nelements + ndeleted)
			return -EINVAL;
		entry = entries + (__u64)idx * ew * 8;
		if (__TLD_WORD(entry + 8 * ek, &key))
			return -EFAULT;
		/*
		 * Our AsyncLocalStorage is the key at the address the writer published after the last GC (0 while one
		 * runs), else the key whose hash word matches. A deleted entry's key is the hole: neither.
		 */
		if (__TLD_V8_HEAP_OBJECT(key)) {
			if (key != als) {
				if (__tld_user_read(&hashword, sizeof(hashword), key - 1 + w->key_hash_off, task,
						    remote, &loc->reads))
					return -EFAULT;
			}
			if (key == als || hashword == (__u64)hash << 32) {
				if (__TLD_WORD(entry + 8 * ev, &store))
					return -EFAULT;
				if (!store)
					return -EINVAL;
				break;
			}
		}
		if (__TLD_WORD(entry + 8 * ec, &word))
			return -EFAULT;
	}
	if (!store)
		return -EINVAL; /* a chain longer than any real frame's */
	/*
	 * Node leaves a run by a frame that maps our AsyncLocalStorage to undefined: outside our runs. Matched by
	 * address, the key's hash word must agree first: no record check follows to catch a stale address.
	 */
	if (store == w->no_frame) {
		if (key == als && (__tld_user_read(&hashword, sizeof(hashword), key - 1 + w->key_hash_off, task, remote,
						   &loc->reads) ||
				   hashword != (__u64)hash << 32))
			return -EINVAL;
		return TLD_FROM_PAGE;
	}
	if (!__TLD_V8_HEAP_OBJECT(store))
		return -EINVAL;
	if (__TLD_WORD(store - 1 + w->store_record_off, &rec))
		return -EFAULT;
#undef __TLD_WORD
	if (rec == 0 || (rec & 7))
		return -EINVAL;
	/* The whole copy, else the head with its bitmap word, else the header alone (the record at a mapping's end). */
	loc->record_bytes = record_room;
	if (__tld_user_read(head, record_room, rec, task, remote, &loc->reads)) {
		loc->record_bytes = 0;
		if (record_room > sizeof(*head) &&
		    !__tld_user_read(head, sizeof(*head), rec, task, remote, &loc->reads))
			loc->record_bytes = sizeof(*head);
	}
	if (loc->record_bytes < sizeof(*head) &&
	    __tld_user_read(&head->hdr, sizeof(head->hdr), rec, task, remote, &loc->reads))
		return -EFAULT;
	/* A pointer that lands on a copy of a record, or on anything else, fails one of these. */
	if (head->hdr.magic != magic || head->hdr.self != rec)
		return -EINVAL;
	if (head->hdr.valid != 1)
		return -ESTALE;
	if (head->hdr.seq & 1)
		return -EAGAIN;
	if (head->hdr.values_size > TLD_CTX_RECORD_MAX_VALUES || head->hdr.values_off < sizeof(head->hdr) ||
	    head->hdr.present_off < sizeof(head->hdr))
		return -EINVAL;
	/* The word after the header is the bitmap's first only where the bitmap starts there. */
	loc->bits0_ok = loc->record_bytes >= sizeof(*head) && head->hdr.present_off == sizeof(head->hdr) &&
			head->hdr.values_size;
	loc->bits0 = head->bits0;
	loc->record = rec;
	loc->values = rec + head->hdr.values_off;
	loc->present = rec + head->hdr.present_off;
	loc->values_size = head->hdr.values_size;
	loc->seq = head->hdr.seq;
	return TLD_FROM_CONTEXT;
}

/*
 * The walk as a BPF subprogram: its state is its own, not repeated in the caller's frame for every key the caller
 * reads. The current-task walk is a global function, which the verifier checks once for the program whatever calls
 * it (a static one is checked again at every call, with every result it can return); weak, so that several units
 * including this header link into one object.
 */
__attribute__((weak, noinline)) int __tld_ctx_locate_current(struct tld_walk *w, struct tld_ctx_loc *loc)
{
	struct __tld_ctx_scratch *s;
	__u32 zero = 0;
	int r, attempt;

	if (!w || !loc)
		return -EINVAL;
	s = bpf_map_lookup_elem(&tld_ctx_scratch, &zero);
	if (!s)
		return -EFAULT;
	/*
	 * Another walk on this CPU that took the copies meanwhile (a sampler interrupting this program) makes what this
	 * one decided from them untrustworthy: walk again, a few times, rather than give no value.
	 */
	for (attempt = 0; attempt < TLD_CTX_ATTEMPTS; attempt++) {
		loc->ticket = __sync_add_and_fetch(&s->ticket, 1);
		r = __tld_ctx_locate(w, NULL, 0, loc, s);
		if (*(volatile __u64 *)&s->ticket == loc->ticket)
			return r;
	}
	return -EAGAIN;
}

static __noinline __attribute__((unused)) int __tld_ctx_locate_task(struct tld_walk *w, struct task_struct *task,
								   struct tld_ctx_loc *loc)
{
	return __tld_ctx_locate(w, task, 1, loc, NULL);
}

/*
 * Copies `size` bytes at offset `off` of the values area of a located record into dst, inside the record's
 * seqlock. Returns TLD_FROM_CONTEXT; TLD_FROM_PAGE when the run does not set the word at `off` (or the area does
 * not cover the value); -EFAULT, or -EAGAIN when the writer changed the record meanwhile.
 */
static __always_inline int __tld_ctx_copy(struct tld_ctx_loc *loc, long off, void *dst, __u32 size,
					  struct task_struct *task, const int remote)
{
	__u64 at;
	__u32 seq;
	__u8 bits;

	if (off < 0 || off + size > loc->values_size)
		return TLD_FROM_PAGE;
	if (loc->bits0_ok && off < 512) {
		if (!((loc->bits0 >> (off >> 3)) & 1))
			return TLD_FROM_PAGE;
	} else {
		if (__tld_user_read(&bits, sizeof(bits), loc->present + (off >> 6), task, remote, &loc->reads))
			return -EFAULT;
		if (!((bits >> ((off >> 3) & 7)) & 1))
			return TLD_FROM_PAGE;
	}
	/* The current task's value from this CPU's copy of the record, while no other walk has taken the copy since. */
	at = loc->values - loc->record + off;
	if (!remote && at + size <= loc->record_bytes) {
		__u32 zero = 0;
		struct __tld_ctx_scratch *s = bpf_map_lookup_elem(&tld_ctx_scratch, &zero);

		if (s && !bpf_probe_read_kernel(dst, size, (char *)s->record + at) &&
		    *(volatile __u64 *)&s->ticket == loc->ticket)
			return TLD_FROM_CONTEXT;
	}
	if (__tld_user_read(dst, size, loc->values + off, task, remote, &loc->reads))
		return -EFAULT;
	/*
	 * Only the thread that runs a run's code writes its record. Reading the current task, that thread is stopped
	 * here (in the kernel, or interrupted): an even seq read with the header stays even, and the value copied is
	 * the one it covers. Another task may be running on another CPU: read seq again after the copy, as a seqlock
	 * reader does (PROTOCOL.md §8).
	 */
	if (!remote)
		return TLD_FROM_CONTEXT;
	if (__tld_user_read(&seq, sizeof(seq), loc->record + __builtin_offsetof(struct tld_ctx_record, seq), task,
			    remote, &loc->reads))
		return -EFAULT;
	if (seq != loc->seq)
		return -EAGAIN;
	return TLD_FROM_CONTEXT;
}

#ifndef TLD_NO_KEY_MAP
/*
 * The value of the key cached at `cache` as the task's current async context sees it (see tld_get_context_data).
 * `size` must be a constant.
 */
static __always_inline int __tld_get_context_data(struct tld_object *obj, __s16 *cache, const char *name, void *dst,
						  __u32 size, struct task_struct *task, const int remote)
{
	struct tld_data_u *data = obj->data_map->data;
	struct tld_ctx_loc loc;
	struct tld_walk *w = NULL;
	long pos, start;
	void *page;
	int r;

	page = data ? __tld_get_data(obj, cache, name, size) : NULL;
	if (!page) {
		bpf_probe_read_kernel(dst, size, NULL); /* zeroes dst, see below */
		return -ENOENT;
	}
	pos = *(volatile __s16 *)cache;
	start = __tld_data_start(data);
	if (obj->owner)
		w = __tld_get_data(obj, &obj->owner->walk.off, TLD_WALK_KEY_NAME, sizeof(struct tld_walk));
	if (!w)
		r = TLD_FROM_PAGE;
	else if (remote)
		r = __tld_ctx_locate_task(w, task, &loc);
	else
		r = __tld_ctx_locate_current(w, &loc);
	if (r > TLD_FROM_CONTEXT || r < -4095)
		r = -EINVAL; /* no such result of the walk */
	if (r == TLD_FROM_CONTEXT) {
		r = __tld_ctx_copy(&loc, pos - start, dst, size, task, remote);
		if (r == TLD_FROM_CONTEXT)
			return TLD_FROM_CONTEXT;
	}
	/*
	 * Every other path ends in this one call, which writes dst: the page's value, or zeros (reading NULL fails and
	 * zeroes the destination). The verifier cannot always tell these paths apart (to it a global function returns
	 * any number), and a memset the compiler may drop would leave it a path where the caller reads dst unwritten.
	 */
	bpf_probe_read_kernel(dst, size, r == TLD_FROM_PAGE ? page : NULL);
	return r;
}

/*
 * tld_get_context_data(obj, key, name, dst, size) - copies key `name` (size bytes) as the current task's current
 * async context sees it into dst. Returns TLD_FROM_CONTEXT (1): from the innermost run()'s record;
 * TLD_FROM_PAGE (0): from the page (outside any run, no walk published, or the run does not set this key);
 * -ENOENT: no such key (yet) or no page; any other negative value: the walk failed (-EFAULT), found a word that is
 * not what the layout says (-EINVAL), a run that has ended (-ESTALE) or a record being changed (-EAGAIN): no value,
 * dst zeroed. `key` is the struct tld_keys member caching the key's position, as for tld_get_data(); `size` must
 * be a constant. Reads user memory with bpf_probe_read_user(): perf_event, tp_btf, kprobe, raw_tp and syscall
 * programs running on the task (call tld_object_init() with bpf_get_current_task_btf()).
 */
#define tld_get_context_data(obj, key, name, dst, size)                                                     \
	__tld_get_context_data((obj), &(obj)->key_map->key.off, (name), (dst), (size), NULL, 0)

/*
 * tld_get_context_data_task(obj, task, key, name, dst, size) - the same for another task, from sleepable programs
 * (iter.s/task, syscall): reads with bpf_copy_from_user_task(). `obj` comes from tld_object_init(task, ...).
 */
#define tld_get_context_data_task(obj, task, key, name, dst, size)                                          \
	__tld_get_context_data((obj), &(obj)->key_map->key.off, (name), (dst), (size), (task), 1)
#endif

#endif /* __TLD_BPF_H */
