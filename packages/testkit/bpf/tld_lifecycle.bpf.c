// SPDX-License-Identifier: MIT
/*
 * Watchers for lifecycle tests (src/lifecycle.ts): while threads come and go, a BPF writer keeps writing into
 * every registered page, every page a thread registered must be unmapped again, and never while registered.
 * - "tld_canary_writer" (tp_btf/sched_switch): for both tasks of every context switch that are registered,
 *   stores TLD_LIFECYCLE_CANARY into their u64 key TLD_LIFECYCLE_CANARY_KEY, and records the page address their
 *   u64 key TLD_LIFECYCLE_PAGE_KEY holds (the user address of their data page) in tld_pages_seen.
 * - "tld_unmap_check" (tp_btf/sys_enter): on munmap() of a recorded page, forgets it (it was unmapped); when the
 *   calling thread is still registered with that page, counts a violation.
 * - "tld_lifecycle_stats" (syscall): copies the counters into struct tld_lifecycle_ctx.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define TLD_NO_KEY_MAP
#include "tld.bpf.h"
#include "tld_testkit.h"

char LICENSE[] SEC("license") = "GPL";

#define NR_MUNMAP 11 /* x86-64 */

__u64 canary_writes;
__u64 pages_seen;
__u64 pages_unmapped;
__u64 unmap_violations;

/* User addresses of data pages seen registered and not unmapped since. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u32); /* tid */
} tld_pages_seen SEC(".maps");

/* The task's u64 key `name` (a constant string) as a pointer into its data page, or NULL. */
static __always_inline __u64 *u64_key(struct task_struct *task, const char *name)
{
	struct tld_object obj = {};
	struct tld_data_u *data;
	__u16 size = 0;
	long pos;

	obj.data_map = bpf_task_storage_get(&tld_data_map, task, 0, 0);
	if (!obj.data_map || !obj.data_map->meta)
		return NULL;
	data = obj.data_map->data; /* read once: the verifier needs the pointer it null-checked */
	if (!data)
		return NULL;
	/* `name` must be spelled `name` here: __tld_match_const uses its argument as written. */
	pos = __tld_walk(&obj, 0, &size, __tld_match_const, name);
	barrier_var(pos);
	if (pos <= 0 || size != 8 || pos > TLD_PAGE_SIZE - 8)
		return NULL;
	return (__u64 *)((char *)data + pos);
}

static __always_inline void visit(struct task_struct *task)
{
	__u64 *canary = u64_key(task, TLD_LIFECYCLE_CANARY_KEY);
	__u64 *page = u64_key(task, TLD_LIFECYCLE_PAGE_KEY);
	__u64 address;
	__u32 tid;

	if (canary) {
		*canary = TLD_LIFECYCLE_CANARY;
		__sync_fetch_and_add(&canary_writes, 1);
	}
	if (page && (address = *page) != 0) {
		tid = task->pid;
		if (bpf_map_update_elem(&tld_pages_seen, &address, &tid, BPF_NOEXIST) == 0)
			__sync_fetch_and_add(&pages_seen, 1);
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tld_canary_writer, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	visit(prev);
	visit(next);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(tld_unmap_check, struct pt_regs *regs, long id)
{
	__u64 address, *page;

	if (id != NR_MUNMAP)
		return 0;
	address = regs->di;
	if (bpf_map_delete_elem(&tld_pages_seen, &address) == 0)
		__sync_fetch_and_add(&pages_unmapped, 1);
	page = u64_key(bpf_get_current_task_btf(), TLD_LIFECYCLE_PAGE_KEY);
	if (page && *page == address)
		__sync_fetch_and_add(&unmap_violations, 1);
	return 0;
}

SEC("syscall")
int tld_lifecycle_stats(struct tld_lifecycle_ctx *ctx)
{
	ctx->canary_writes = canary_writes;
	ctx->pages_seen = pages_seen;
	ctx->pages_unmapped = pages_unmapped;
	ctx->unmap_violations = unmap_violations;
	return 0;
}
