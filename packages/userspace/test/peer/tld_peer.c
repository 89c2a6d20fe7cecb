/* See tld_peer.h. Only the library: the Node-API functions the tests call are in peer_napi.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tld_layout.h"
#include "tld_peer.h"

/* PROTOCOL.md §4: weak, default visibility, so the first definition in the global scope wins. */
__attribute__((weak, visibility("default"))) struct tld_meta_u *_Atomic tld_meta_p;
__attribute__((weak, visibility("default"))) __thread struct tld_data_u *tld_data_p;

#define PAGE TLD_PAGE_SIZE
#define DYN_DATA_SIZE 64 /* dynamic room of a metadata page this library creates (PROTOCOL.md §7) */

#ifdef PEER_CNT_U8
typedef __u8 cnt_t; /* byte 0 of the u16 field; byte 1 stays 0 */
#else
typedef __u16 cnt_t;
#endif

#ifdef PEER_VALUE_V2
typedef struct tld_map_value_v2 map_value_t;
#else
typedef struct tld_map_value map_value_t;
#endif

peer_key_t peer_static_id = -ENOENT, peer_static_tag = -ENOENT;
static _Atomic int registrations;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static __thread struct tld_data_u *own_data; /* the block this thread installed as tld_data_p */

static cnt_t *cnt_of(struct tld_meta_u *meta)
{
	return (cnt_t *)&meta->cnt;
}

/* The process's metadata page: ours if we install one first, else whoever's is in tld_meta_p. */
static struct tld_meta_u *meta_page(void)
{
	struct tld_meta_u *meta = atomic_load(&tld_meta_p), *fresh;

	if (meta)
		return meta;
	fresh = aligned_alloc(PAGE, PAGE);
	if (!fresh)
		return NULL;
	memset(fresh, 0, PAGE);
	fresh->size = DYN_DATA_SIZE;
	if (!atomic_compare_exchange_strong(&tld_meta_p, &meta, fresh)) {
		free(fresh);
		return meta;
	}
	return fresh;
}

/* PROTOCOL.md §3, as upstream runs it: no lookup (-EEXIST), spin until a claimed slot is published. */
static peer_key_t create_key(const char *name, size_t size, int is_static)
{
	struct tld_meta_u *meta = meta_page();
	size_t rounded = TLD_ROUND_UP_VALUE_SIZE(size), off = 0;
	int i = 0;

	if (!meta)
		return -ENOMEM;
	if (!name[0] || strlen(name) >= TLD_NAME_LEN || size == 0 || size > TLD_DATA_BYTES)
		return -EINVAL;
	while (i < TLD_MAX_KEYS) {
		cnt_t cnt = __atomic_load_n(cnt_of(meta), __ATOMIC_ACQUIRE);
		__u16 published;

		if (i < cnt) {
			while (!(published = __atomic_load_n(&meta->metadata[i].size, __ATOMIC_ACQUIRE)))
				sched_yield();
			if (!strncmp(meta->metadata[i].name, name, TLD_NAME_LEN))
				return -EEXIST;
			off += TLD_ROUND_UP_VALUE_SIZE(published);
			i++;
			continue;
		}
		/* A static key must fit a data page and brings its own room; a dynamic one must fit meta.size. */
		if (off + rounded > (is_static ? TLD_DATA_BYTES : meta->size))
			return -E2BIG;
		if (!__atomic_compare_exchange_n(cnt_of(meta), &cnt, (cnt_t)(cnt + 1), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue; /* lost slot i: look at it again */
		strncpy(meta->metadata[i].name, name, TLD_NAME_LEN);
		if (is_static)
			meta->size += rounded; /* a plain read-modify-write, as upstream does */
		__atomic_store_n(&meta->metadata[i].size, (__u16)size, __ATOMIC_RELEASE);
		return (peer_key_t)off;
	}
	return -ENOSPC;
}

peer_key_t peer_create_key(const char *name, size_t size)
{
	return create_key(name, size, 0);
}

#ifdef PEER_STATIC_KEYS
/* TLD_DEFINE_KEY upstream: keys created by constructors while the library loads. */
__attribute__((constructor)) static void define_static_keys(void)
{
	peer_static_id = create_key("peer_static_id", 8, 1);
	peer_static_tag = create_key("peer_static_tag", 16, 1);
}
#endif

/* The pthread-key destructor: the block lives until its thread exits. */
static void free_block_at_exit(void *raw)
{
	if (tld_data_p == own_data)
		tld_data_p = NULL;
	own_data = NULL;
	free(raw);
}

static void make_exit_key(void)
{
	pthread_key_create(&exit_key, free_block_at_exit);
}

static int register_thread(int map_fd, char *block, struct tld_meta_u *meta)
{
	uintptr_t base = (uintptr_t)block & ~(uintptr_t)(PAGE - 1);
	map_value_t value;
	union bpf_attr attr;
	int pidfd, err = 0;

	memset(&value, 0, sizeof(value));
	value.data = (struct tld_data_u *)base;
	value.meta = meta;
#ifdef PEER_VALUE_V2
	value.start = (__u16)((uintptr_t)block - base + sizeof(__u64));
#endif
	pidfd = syscall(SYS_pidfd_open, syscall(SYS_gettid), O_EXCL /* PIDFD_THREAD */);
	if (pidfd < 0)
		return -errno;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uintptr_t)&pidfd;
	attr.value = (uintptr_t)&value;
	attr.flags = BPF_ANY;
	if (syscall(SYS_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr)) < 0)
		err = -errno;
	close(pidfd);
	registrations++;
	return err;
}

/* Allocates this thread's block (PROTOCOL.md §7), registers it and installs it as tld_data_p. */
static struct tld_data_u *init_data(int map_fd)
{
	struct tld_meta_u *meta = meta_page();
	size_t size = sizeof(__u64) + (meta ? meta->size : 0);
	char *raw, *block;
	int err;

	if (!meta) {
		errno = ENOMEM;
		return NULL;
	}
#ifndef PEER_ALIGNED_ALLOC
	if (2 * size < PAGE) {
		/* 2 * size bytes always hold `size` bytes that do not cross a page boundary. */
		raw = malloc(2 * size);
		if (!raw)
			return NULL;
		block = raw;
		if (((uintptr_t)raw & (PAGE - 1)) + size > PAGE)
			block = (char *)(((uintptr_t)raw + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
	} else
#endif
	{
		raw = block = aligned_alloc(PAGE, PAGE);
		if (!raw)
			return NULL;
		size = PAGE;
	}
	memset(block, 0, size);
#ifndef PEER_VALUE_V2
	/* start counts from the page base the map value names: the block's page offset plus the start field. */
	((struct tld_data_u *)block)->start = ((uintptr_t)block & (PAGE - 1)) + sizeof(__u64);
#endif
	err = register_thread(map_fd, block, meta);
	if (err) {
		free(raw);
		errno = -err;
		return NULL;
	}
	pthread_once(&exit_key_once, make_exit_key);
	pthread_setspecific(exit_key, raw);
	own_data = (struct tld_data_u *)block;
	tld_data_p = own_data;
	return tld_data_p;
}

void *peer_get_data(int map_fd, peer_key_t key)
{
	struct tld_data_u *data = tld_data_p;

	if (key < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (!data && !(data = init_data(map_fd)))
		return NULL;
	/* No bound check against the block: upstream trusts meta.size. */
	return data->data + key;
}

int peer_registrations(void)
{
	return registrations;
}
