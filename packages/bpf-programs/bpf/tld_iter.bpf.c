// SPDX-License-Identifier: MIT
/*
 * "tld_iter" (iter/task): one record per task that has an element in tld_data_map, for user space to decode
 * (src/iter.ts): struct tld_iter_record, then a copy of the task's metadata page and of its data page as BPF
 * sees them. User space cannot read the pages itself: a lookup of a uptr map value returns the pointers zeroed
 * (PROTOCOL.md §1). `tld dump`, `tld map show` and the lifecycle tests all read threads through this.
 * Built twice: for the 16-byte map value here, and for the 24-byte one by tld_iter_v2.bpf.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "tld_layout.h"
#include "tld_reader.h"

char LICENSE[] SEC("license") = "GPL";

#ifdef TLD_ITER_V2
#define TLD_ITER_VALUE struct tld_map_value_v2
#else
#define TLD_ITER_VALUE struct tld_map_value
#endif

/* Not tld.bpf.h's declaration: that one is fixed to the 16-byte value. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__type(key, int);
	__type(value, TLD_ITER_VALUE);
} tld_data_map SEC(".maps");

/* Keeps the uptr pointees defined in BTF, as tld.bpf.h's tld_uptr_dummy does (see there). */
struct tld_iter_pointees {
	struct tld_data_u data;
	struct tld_meta_u meta;
};
struct tld_iter_pointees *tld_iter_dummy SEC(".data");

SEC("iter/task")
int tld_iter(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct tld_iter_record rec = {};
	struct tld_data_u *data;
	struct tld_meta_u *meta;
	TLD_ITER_VALUE *v;

	if (!task)
		return 0;
	v = bpf_task_storage_get(&tld_data_map, task, 0, 0);
	if (!v)
		return 0;
	/* Each pointer read once: user space may re-register the task meanwhile. */
	data = v->data;
	meta = v->meta;
	rec.tid = task->pid;
	rec.tgid = task->tgid;
	bpf_probe_read_kernel_str(rec.comm, sizeof(rec.comm), task->comm);
	rec.status = TLD_READER_STORAGE;
#ifdef TLD_ITER_V2
	rec.value_start = v->start;
#endif
	if (data) {
		rec.status |= TLD_READER_DATA;
		rec.start = *(volatile __u64 *)&data->start;
		rec.data_bytes = sizeof(*data);
	}
	if (meta) {
		rec.status |= TLD_READER_META;
		rec.meta_cnt = *(volatile __u16 *)&meta->cnt;
		rec.meta_size = meta->size;
		rec.meta_bytes = sizeof(*meta);
	}
	/*
	 * A record that does not fit the read buffer is dropped whole and written again by the next read. The pages
	 * are user memory the kernel pinned at registration, copied as they are now: a value being stored meanwhile
	 * may be seen half written.
	 */
	bpf_seq_write(seq, &rec, sizeof(rec));
	if (meta)
		bpf_seq_write(seq, meta, sizeof(*meta));
	if (data)
		bpf_seq_write(seq, data, sizeof(*data));
	return 0;
}
