/* SPDX-License-Identifier: MIT */
/*
 * Context layouts of the SEC("syscall") programs in src/, shared by the BPF side and by whoever runs them with
 * BPF_PROG_TEST_RUN (ctx_in = ctx_out = one of these structs). Mirrored in src/index.ts; test/layout.test.ts
 * checks both agree. All fields are naturally aligned: syscall programs may only access ctx at multiples of the
 * access size.
 */
#ifndef __TLD_READER_H
#define __TLD_READER_H

#include "tld_layout.h"

/* ---- tld_reader.bpf.c: program "tld_read" reads up to TLD_READER_MAX_KEYS run-time key names ---- */
#define TLD_READER_MAX_KEYS 16
/* TLD_NAME_LEN rounded up to whole 8-byte words. */
#define TLD_READER_NAME_BYTES 64
/* Bytes of each value copied out; the rest of a longer value is not. */
#define TLD_READER_VALUE_BYTES 64

/* tld_reader_ctx.status bits */
#define TLD_READER_STORAGE 0x1 /* the task has an element in tld_data_map */
#define TLD_READER_DATA 0x2    /* ... with a non-NULL data page */
#define TLD_READER_META 0x4    /* ... with a non-NULL metadata page */
#define TLD_READER_REGISTERED (TLD_READER_STORAGE | TLD_READER_DATA | TLD_READER_META)

struct tld_reader_key {
	char name[TLD_READER_NAME_BYTES];   /* in: NUL-padded key name */
	__u8 value[TLD_READER_VALUE_BYTES]; /* out: first min(size, 64) bytes of the value; the rest zero */
	__s32 offset;                       /* out: start + off when found, else -(slots searched) */
	__u16 size;                         /* out: the key's size when found, else 0 */
	__u8 found;                         /* out: 1 when found */
	__u8 bad_name;                      /* out: 1 when name is empty or has no NUL in TLD_NAME_LEN bytes */
};

struct tld_reader_ctx {
	__u32 nr_keys;  /* in: keys[0 .. nr_keys-1] are looked up (at most TLD_READER_MAX_KEYS) */
	__u32 status;   /* out: TLD_READER_* bits */
	__u32 tid;      /* out: task->pid of the calling thread as BPF saw it */
	__u32 tgid;     /* out: task->tgid */
	__u64 start;    /* out: `start` read from the data page */
	__u16 meta_cnt; /* out: meta.cnt */
	__u16 meta_size; /* out: meta.size */
	__u32 __pad;
	struct tld_reader_key keys[TLD_READER_MAX_KEYS];
};

/* ---- tld_cached.bpf.c: program "tld_read_cached" uses tld_get_data() with two fixed keys ---- */
#define TLD_CACHED_ROUTE_BYTES 32

struct tld_cached_ctx {
	__s32 init_err;     /* out: tld_object_init() result (0, -ENODATA, -ENOMEM) */
	__u32 found;        /* out: bit 0 req_id found, bit 1 route found */
	__u64 req_id;       /* out: value of "req_id" (u64) */
	char route[TLD_CACHED_ROUTE_BYTES]; /* out: value of "route" (32-byte string) */
	__s32 req_id_cache_before; /* out: tld_key_map's cached position of req_id before / after the lookup */
	__s32 req_id_cache_after;
	__s32 route_cache_before;  /* out: the same for route */
	__s32 route_cache_after;
	__u32 tid;          /* out */
	__u32 __pad;
};

#define TLD_CACHED_FOUND_REQ_ID 0x1
#define TLD_CACHED_FOUND_ROUTE 0x2

#endif /* __TLD_READER_H */
