// SPDX-License-Identifier: MIT
/*
 * The route profiler: where one process spends its CPU, by the `route` each of its threads published with task
 * local data. Two consumers find the route by key name through tld_get_data() and its per-task key cache:
 *
 *   on-CPU time   on_sched_switch (tp_btf/sched_switch) stamps a thread when it is switched in and, when it is
 *                 switched out, charges the time since to its current route. on_syscall (tp_btf/sys_enter) closes
 *                 the running piece at each system call the same way, so a slice in which the thread served
 *                 several requests is split where the kernel sees it: a request's CPU runs between the syscall
 *                 that brought it in and the one that sends its answer.
 *   samples       on_cpu_sample (perf_event) counts CPU-clock samples (user space opens one event per CPU) by the
 *                 route of the thread they interrupt.
 *
 * Only threads of prof_config.tgid are looked at. Time is bpf_ktime_get_ns() (CLOCK_MONOTONIC) while the thread
 * is on a CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tld.bpf.h"
#include "tld_profile.h"

char LICENSE[] SEC("license") = "GPL";

/* The keys the profiler reads, each cached per task by tld_get_data(). */
struct tld_keys {
	tld_key_t route;
	tld_key_t req_id;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tld_profile_config);
} prof_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TLD_PROFILE_MAX_ROUTES);
	__type(key, struct tld_route_key);
	__type(value, struct tld_route_stats);
} route_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TLD_PROFILE_NR_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} prof_counters SEC(".maps");

/* When the task's running piece started (switch-in or last syscall); `stamped` is 0 while it is off CPU. */
struct on_cpu_since {
	__u64 ns;
	__u64 stamped;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct on_cpu_since);
} on_cpu_since SEC(".maps");

static __always_inline __u32 target_tgid(void)
{
	__u32 zero = 0;
	struct tld_profile_config *cfg = bpf_map_lookup_elem(&prof_config, &zero);

	return cfg ? cfg->tgid : 0;
}

static __always_inline void count(__u32 counter)
{
	__u64 *n = bpf_map_lookup_elem(&prof_counters, &counter);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * What `task` published. user space writes req_id last when a request starts and clears it first when it ends,
 * so a non-zero req_id means route is complete (not a string caught half-written); route is read only then.
 */
static __always_inline void route_of(struct task_struct *task, struct tld_route_key *key)
{
	struct tld_object obj = {};
	__u64 *req_id;
	char *route;
	bool end = false;
	int i, err;

	key->state = TLD_ROUTE_NONE;
	err = tld_object_init(task, &obj);
	if (err == -ENOMEM)
		key->state = TLD_ROUTE_UNREADABLE;
	if (err)
		return;
	req_id = tld_get_data(&obj, req_id, "req_id", sizeof(__u64));
	route = tld_get_data(&obj, route, "route", TLD_PROFILE_ROUTE_BYTES);
	if (!req_id || !route)
		return;
	key->state = TLD_ROUTE_IDLE;
	if (*(volatile __u64 *)req_id == 0)
		return;
	__builtin_memcpy(key->route, route, TLD_PROFILE_ROUTE_BYTES);
	/* One key per route: the bytes after the terminating NUL are zeroed, and a NUL is forced at the end. */
#pragma unroll
	for (i = 0; i < TLD_PROFILE_ROUTE_BYTES; i++) {
		if (end)
			key->route[i] = 0;
		else if (key->route[i] == 0)
			end = true;
	}
	key->route[TLD_PROFILE_ROUTE_BYTES - 1] = 0;
	if (key->route[0] != 0)
		key->state = TLD_ROUTE_SET;
}

static __always_inline void charge(struct tld_route_key *key, __u64 cpu_ns, __u64 pieces, __u64 samples)
{
	struct tld_route_stats *s = bpf_map_lookup_elem(&route_stats, key);

	if (!s) {
		struct tld_route_stats zero = {};

		/* Another CPU may insert the same key first (-EEXIST): the lookup below finds its element. */
		bpf_map_update_elem(&route_stats, key, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&route_stats, key);
		if (!s) {
			count(TLD_PROFILE_MAP_FULL);
			return;
		}
	}
	if (cpu_ns)
		__sync_fetch_and_add(&s->cpu_ns, cpu_ns);
	if (pieces)
		__sync_fetch_and_add(&s->pieces, pieces);
	if (samples)
		__sync_fetch_and_add(&s->samples, samples);
}

/*
 * The running piece of `task` ends now: charge it to the task's route. With `restart` (a syscall: the task keeps
 * running) the next piece starts now; otherwise (switched out) the task is off CPU until its next switch-in. A
 * thread already on a CPU when the program was attached has no stamp: the start of its piece is unknown, so it is
 * counted as UNSTAMPED instead of being guessed, and a syscall starts its first piece.
 */
static __always_inline void settle(struct task_struct *task, bool restart)
{
	struct on_cpu_since *since = bpf_task_storage_get(&on_cpu_since, task, 0,
							   restart ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	struct tld_route_key key = {};
	__u64 now = bpf_ktime_get_ns();

	if (!since || !since->stamped) {
		count(TLD_PROFILE_UNSTAMPED);
		if (since) {
			since->ns = now;
			since->stamped = restart;
		}
		return;
	}
	route_of(task, &key);
	charge(&key, now - since->ns, 1, 0);
	since->ns = now;
	since->stamped = restart;
}

static __always_inline void stamp(struct task_struct *next)
{
	struct on_cpu_since *since = bpf_task_storage_get(&on_cpu_since, next, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (since) {
		since->ns = bpf_ktime_get_ns();
		since->stamped = 1;
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u32 tgid = target_tgid();

	if (!tgid)
		return 0;
	if (prev->tgid == tgid)
		settle(prev, false);
	if (next->tgid == tgid)
		stamp(next);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_syscall, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = target_tgid();

	if (tgid && task->tgid == tgid)
		settle(task, true);
	return 0;
}

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tld_route_key key = {};
	__u32 tgid = target_tgid();

	if (!tgid || task->tgid != tgid)
		return 0;
	route_of(task, &key);
	charge(&key, 0, 0, 1);
	return 0;
}
