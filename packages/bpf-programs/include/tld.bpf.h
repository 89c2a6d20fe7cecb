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

struct tld_object {
	struct tld_map_value *data_map;
	struct tld_keys *key_map;
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
	__type(value, struct tld_map_value);
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
			owner->data = data;
			owner->meta = meta;
		}
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

#endif /* __TLD_BPF_H */
