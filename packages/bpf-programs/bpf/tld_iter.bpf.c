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

#ifdef TLD_ITER_V2
#define TLD_DATA_MAP_VALUE struct tld_map_value_v2
#endif
#define TLD_NO_KEY_MAP /* no per-task key cache: the iterator looks up one key, tld.walk, per task */
#include "tld.bpf.h"
#include "tld_reader.h"

char LICENSE[] SEC("license") = "GPL";

/* The values area of a task's run record, on its way to bpf_seq_write(). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[TLD_DATA_BYTES]);
} tld_iter_ctx_buf SEC(".maps");

/*
 * Walks from `task`'s CPED to the record of the run() it is in (tld.bpf.h) and copies the record's presence bitmap
 * into rec and its values area into *buf. Returns TLD_FROM_CONTEXT with rec->ctx_bytes set, TLD_FROM_PAGE when the
 * task is outside any run (or publishes no walk), or the walk's negative errno.
 */
static __always_inline int copy_context(TLD_DATA_MAP_VALUE *v, struct task_struct *task,
					 struct tld_iter_record *rec, char *buf)
{
	struct tld_object obj = { .data_map = v };
	struct tld_ctx_loc loc;
	struct tld_walk *w;
	__s16 walk_off = 0;
	__u32 n, bitmap, seq;
	int r;

	w = __tld_get_data(&obj, &walk_off, TLD_WALK_KEY_NAME, sizeof(struct tld_walk));
	if (!w)
		return TLD_FROM_PAGE;
	r = __tld_ctx_locate_task(w, task, &loc);
	if (r != TLD_FROM_CONTEXT)
		return r;
	n = loc.values_size;
	bitmap = (n / 8 + 7) / 8;
	if (n > TLD_CTX_RECORD_MAX_VALUES || n > TLD_DATA_BYTES || bitmap > TLD_ITER_PRESENT_BYTES)
		return -EINVAL;
	if (bitmap && bpf_copy_from_user_task(rec->ctx_present, bitmap, (const void *)loc.present, task, 0))
		return -EFAULT;
	if (n && bpf_copy_from_user_task(buf, n, (const void *)loc.values, task, 0))
		return -EFAULT;
	if (bpf_copy_from_user_task(&seq, sizeof(seq), (const void *)(loc.record + __builtin_offsetof(struct tld_ctx_record, seq)),
				    task, 0))
		return -EFAULT;
	if (seq != loc.seq)
		return -EAGAIN;
	rec->ctx_bytes = n;
	return TLD_FROM_CONTEXT;
}

/* Sleepable: the walk reads the task's memory with bpf_copy_from_user_task(). */
SEC("iter.s/task")
int tld_iter(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct tld_iter_record rec = {};
	struct tld_data_u *data;
	struct tld_meta_u *meta;
	TLD_DATA_MAP_VALUE *v;
	__u32 zero = 0;
	char *buf;

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
	buf = bpf_map_lookup_elem(&tld_iter_ctx_buf, &zero);
	rec.ctx_status = data && meta && buf ? copy_context(v, task, &rec, buf) : TLD_FROM_PAGE;
	bpf_seq_write(seq, &rec, sizeof(rec));
	if (meta)
		bpf_seq_write(seq, meta, sizeof(*meta));
	if (data)
		bpf_seq_write(seq, data, sizeof(*data));
	if (buf && rec.ctx_bytes && rec.ctx_bytes <= TLD_DATA_BYTES)
		bpf_seq_write(seq, buf, rec.ctx_bytes);
	return 0;
}
