// SPDX-License-Identifier: MIT
/*
 * Watchers for lifecycle tests (src/lifecycle.ts): while threads come and go, a BPF writer keeps writing into
 * every registered page, and a check catches a thread unmapping its data page while it is still registered.
 * - "tld_canary_writer" (tp_btf/sched_switch): stores TLD_LIFECYCLE_CANARY into the u64 key
 *   TLD_LIFECYCLE_CANARY_KEY of both tasks of every context switch, when they are registered and have the key.
 * - "tld_unmap_check" (tp_btf/sys_enter): on munmap() by a registered thread whose u64 key TLD_LIFECYCLE_PAGE_KEY
 *   holds its data page's user address, counts the call, and counts a violation when it unmaps that page.
 * - "tld_lifecycle_stats" (syscall): copies the counters into struct tld_lifecycle_ctx.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define TLD_NO_KEY_MAP
#include "tld.bpf.h"
#include "tld_reader.h"

char LICENSE[] SEC("license") = "GPL";

#define NR_MUNMAP 11 /* x86-64 */

__u64 canary_writes;
__u64 unmap_checks;
__u64 unmap_violations;

/* The task's u64 key `name` (a constant string) as a pointer into its data page, or NULL. */
static __always_inline __u64 *u64_key(struct task_struct *task, const char *name)
{
	struct tld_object obj = {};
	__u16 size = 0;
	long pos;

	obj.data_map = bpf_task_storage_get(&tld_data_map, task, 0, 0);
	if (!obj.data_map || !obj.data_map->data || !obj.data_map->meta)
		return NULL;
	/* `name` must be spelled `name` here: __tld_match_const uses its argument as written. */
	pos = __tld_walk(&obj, 0, &size, __tld_match_const, name);
	barrier_var(pos);
	if (pos <= 0 || size != 8 || pos > TLD_PAGE_SIZE - 8)
		return NULL;
	return (__u64 *)((char *)obj.data_map->data + pos);
}

static __always_inline void write_canary(struct task_struct *task)
{
	__u64 *canary = u64_key(task, TLD_LIFECYCLE_CANARY_KEY);

	if (canary) {
		*canary = TLD_LIFECYCLE_CANARY;
		__sync_fetch_and_add(&canary_writes, 1);
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(tld_canary_writer, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	write_canary(prev);
	write_canary(next);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(tld_unmap_check, struct pt_regs *regs, long id)
{
	__u64 *page;

	if (id != NR_MUNMAP)
		return 0;
	page = u64_key(bpf_get_current_task_btf(), TLD_LIFECYCLE_PAGE_KEY);
	if (!page)
		return 0;
	__sync_fetch_and_add(&unmap_checks, 1);
	if (*page != 0 && regs->di == *page)
		__sync_fetch_and_add(&unmap_violations, 1);
	return 0;
}

SEC("syscall")
int tld_lifecycle_stats(struct tld_lifecycle_ctx *ctx)
{
	ctx->canary_writes = canary_writes;
	ctx->unmap_checks = unmap_checks;
	ctx->unmap_violations = unmap_violations;
	return 0;
}
