// SPDX-License-Identifier: MIT
/*
 * "tld_read": returns the calling thread's task local data for a list of run-time key names.
 * Run it with BPF_PROG_TEST_RUN on the thread to inspect (ctx_in = ctx_out = struct tld_reader_ctx).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TLD_NO_KEY_MAP /* run-time names: no fixed struct tld_keys to cache */
#include "tld.bpf.h"
#include "tld_reader.h"

char LICENSE[] SEC("license") = "GPL";

#define VALUE_WORDS (TLD_READER_VALUE_BYTES / 8)

/* Copies min(size, 64) bytes of the value at page offset `pos` into out[] word by word, zeroing the rest. */
static __always_inline void copy_value(__u64 *out, struct tld_data_u *data, long pos, __u16 size)
{
	long n = size < TLD_READER_VALUE_BYTES ? size : TLD_READER_VALUE_BYTES;
	int w;

#pragma unroll
	for (w = 0; w < VALUE_WORDS; w++) {
		long at = pos + w * 8;
		__u64 word = 0;

		barrier_var(at);
		if (w * 8 < n && at >= 0 && at <= TLD_PAGE_SIZE - 8) {
			word = *(__u64 *)((char *)data + at);
			if (n - w * 8 < 8)
				word &= (1ULL << ((n - w * 8) * 8)) - 1;
		} else if (w * 8 < n && at >= 0 && at < TLD_PAGE_SIZE) {
			/* a value ending within the page's last 8 bytes: byte by byte */
			int b;
#pragma unroll
			for (b = 0; b < 8; b++) {
				long p = at + b;
				barrier_var(p);
				if (w * 8 + b < n && p >= 0 && p < TLD_PAGE_SIZE)
					word |= (__u64)*((__u8 *)data + p) << (b * 8);
			}
		}
		out[w] = word;
	}
}

static __always_inline void read_key(struct tld_object *obj, struct tld_reader_key *key)
{
	struct tld_name_query q;
	__u64 value[VALUE_WORDS] = {};
	__u16 size = 0;
	long pos;
	int w;

	key->found = 0;
	key->size = 0;
	key->bad_name = 0;
	key->offset = 0;
	if (tld_name_query_init(&q, key->name) < 0) {
		key->bad_name = 1;
	} else if (obj->data_map) {
		pos = tld_find_key(obj, &q, &size);
		key->offset = pos;
		if (pos > 0) {
			key->found = 1;
			key->size = size;
			copy_value(value, obj->data_map->data, pos, size);
		}
	}
#pragma unroll
	for (w = 0; w < VALUE_WORDS; w++)
		((__u64 *)key->value)[w] = value[w];
}

SEC("syscall")
int tld_read(struct tld_reader_ctx *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tld_object obj = {};
	struct tld_map_value *v;
	__u32 nr = ctx->nr_keys, status = 0;

	ctx->tid = task->pid;
	ctx->tgid = task->tgid;
	ctx->start = 0;
	ctx->meta_cnt = 0;
	ctx->meta_size = 0;

	v = bpf_task_storage_get(&tld_data_map, task, 0, 0);
	if (v) {
		status |= TLD_READER_STORAGE;
		if (v->data) {
			status |= TLD_READER_DATA;
			ctx->start = *(volatile __u64 *)&v->data->start;
		}
		if (v->meta) {
			status |= TLD_READER_META;
			ctx->meta_cnt = *(volatile __u16 *)&v->meta->cnt;
			ctx->meta_size = v->meta->size;
		}
	}
	ctx->status = status;
	/* Only a complete registration is searched; otherwise every key reads as absent. */
	if (status == TLD_READER_REGISTERED)
		obj.data_map = v;

	/*
	 * Spelled out, not a loop: ctx may only be accessed at constant offsets, and clang will not unroll a loop
	 * around the slot walk.
	 */
#define READ_KEY(k)                                  \
	if (k >= nr)                                 \
		return 0;                            \
	read_key(&obj, &ctx->keys[k]);
	READ_KEY(0) READ_KEY(1) READ_KEY(2) READ_KEY(3)
	READ_KEY(4) READ_KEY(5) READ_KEY(6) READ_KEY(7)
	READ_KEY(8) READ_KEY(9) READ_KEY(10) READ_KEY(11)
	READ_KEY(12) READ_KEY(13) READ_KEY(14) READ_KEY(15)
#undef READ_KEY
	_Static_assert(TLD_READER_MAX_KEYS == 16, "READ_KEY list above must cover TLD_READER_MAX_KEYS");
	return 0;
}
