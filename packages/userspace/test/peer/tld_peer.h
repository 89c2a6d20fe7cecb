/*
 * A native library that shares task-local data with @tld/userspace the way the Linux selftests' C library does,
 * written from PROTOCOL.md (§3, §4, §5, §7) for the tests. Build options (-D):
 *   PEER_CNT_U8        meta.cnt is a u8 with a padding byte (the revision merged in 6.18); default u16
 *   PEER_ALIGNED_ALLOC data blocks are aligned_alloc'd pages; default malloc(2 * size), usually not page-aligned
 *   PEER_VALUE_V2      24-byte map value carrying start; the block's first 8 bytes stay unused (0)
 *   PEER_STATIC_KEYS   defines two static keys at load time: peer_static_id (8 bytes), peer_static_tag (16)
 */
#ifndef TLD_PEER_H
#define TLD_PEER_H

#include <stddef.h>

/* Offset of a key's value in data[], or -errno: -EEXIST, -E2BIG, -ENOSPC, -EINVAL, -ENOMEM. */
typedef long peer_key_t;

/* Creates a dynamic key (bounded by meta.size); an existing name is -EEXIST, as upstream. */
peer_key_t peer_create_key(const char *name, size_t size);

/*
 * Pointer to this thread's value of `key`. On the thread's first access, when tld_data_p is NULL, allocates the
 * block and registers the thread in map `map_fd` with BPF_ANY. NULL with errno set on failure. The pointer stays
 * valid until the thread exits.
 */
void *peer_get_data(int map_fd, peer_key_t key);

/* BPF_MAP_UPDATE_ELEM calls this library made (all threads). */
int peer_registrations(void);

/* The static keys (PEER_STATIC_KEYS), -ENOENT without them. */
extern peer_key_t peer_static_id, peer_static_tag;

#endif
