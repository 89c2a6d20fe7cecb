// SPDX-License-Identifier: MIT
/*
 * "tld_dump": a task iterator over every thread on the host. For each one with an element in tld_data_map it
 * writes a struct tld_dump_record, then the thread's metadata page and data page as the kernel sees them.
 * User space cannot read them itself: a lookup of a uptr map value returns the pointers zeroed (PROTOCOL.md §1).
 * Attach it with BPF_LINK_CREATE (BPF_TRACE_ITER), optionally limited to one process, and read the iterator fd.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TLD_NO_KEY_MAP /* reads whole pages, looks up no key */
#include "tld.bpf.h"
#include "tld_reader.h"

char LICENSE[] SEC("license") = "GPL";

SEC("iter/task")
int tld_dump(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct tld_dump_record rec = {};
	struct tld_map_value *v;
	struct tld_meta_u *meta;
	struct tld_data_u *data;

	if (!task) /* the end of the iteration */
		return 0;
	v = bpf_task_storage_get(&tld_data_map, task, 0, 0);
	if (!v)
		return 0;
	meta = v->meta;
	data = v->data;
	rec.tid = task->pid;
	rec.tgid = task->tgid;
	bpf_probe_read_kernel_str(rec.comm, sizeof(rec.comm), task->comm);
	rec.status = TLD_READER_STORAGE;
	if (meta) {
		rec.status |= TLD_READER_META;
		rec.meta_bytes = sizeof(*meta);
	}
	if (data) {
		rec.status |= TLD_READER_DATA;
		rec.data_bytes = sizeof(*data);
	}
	/*
	 * The pages are user memory the kernel pinned at registration: the helper copies them as they are now. A value
	 * being stored meanwhile may be seen half written; user space decodes what arrived.
	 */
	bpf_seq_write(seq, &rec, sizeof(rec));
	if (meta)
		bpf_seq_write(seq, meta, sizeof(*meta));
	if (data)
		bpf_seq_write(seq, data, sizeof(*data));
	return 0;
}
