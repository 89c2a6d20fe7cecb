// SPDX-License-Identifier: MIT
/*
 * The profiler: where the threads of some processes (or every registered thread of the host) spend their CPU, by
 * the values of keys they published with task local data. The keys are chosen at load time: their names are
 * written into the read-only section .rodata.settings, so tld_get_context_data() finds them by name (bpf_strncmp needs a
 * constant of a frozen map) with its per-task key cache. Three consumers share the buckets:
 *
 *   on-CPU time   on_sched_switch (tp_btf/sched_switch) stamps a thread when it is switched in and, when it is
 *                 switched out, charges the time since to its current values. on_syscall (tp_btf/sys_enter)
 *                 closes the running piece at each system call the same way, so a slice in which the thread
 *                 served several requests is split where the kernel sees it.
 *   samples       on_cpu_sample (perf_event: user space opens a CPU-clock event per CPU) counts samples by the
 *                 values of the thread they interrupt and, with settings.stacks, by its user and kernel stacks.
 *
 * A bucket is (process, state, stacks, label values); see include/tld_profiler.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tld.bpf.h"
#include "tld_profiler.h"

char LICENSE[] SEC("license") = "GPL";

#define LB TLD_PROF_LABEL_BYTES
#define STRIDE TLD_PROF_NAME_STRIDE

#ifndef EEXIST
#define EEXIST 17
#endif
#ifndef ENOENT
#define ENOENT 2
#endif

/* Written by user space before the load; frozen by libbpf (BPF_F_RDONLY_PROG), so the verifier sees constants. */
const volatile struct tld_prof_settings settings SEC(".rodata.settings") = {};

/* One cached key position per label, and one for the request key. */
struct tld_keys {
	tld_key_t label0;
	tld_key_t label1;
	tld_key_t label2;
	tld_key_t label3;
	tld_key_t request;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TLD_PROF_MAX_TARGETS);
	__type(key, __u32);
	__type(value, __u8);
} prof_targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TLD_PROF_MAX_BUCKETS);
	__type(key, struct tld_prof_key);
	__type(value, struct tld_prof_stats);
} prof_buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, TLD_PROF_MAX_STACKS);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, TLD_PROF_STACK_DEPTH * sizeof(__u64));
} prof_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TLD_PROF_NR_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} prof_counters SEC(".maps");

/*
 * A bucket key is too big for the stack next to tld_get_context_data()'s state: it is built in a per-CPU scratch slot, one
 * per consumer kind, since a perf_event sample can interrupt a tracepoint program on the same CPU.
 */
#define SCRATCH_TRACE 0
#define SCRATCH_SAMPLE 1
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct tld_prof_key);
} prof_scratch SEC(".maps");

/* Request values a thread was last seen with: run() interleaves requests on one thread (A, B, A, B), so one
 * remembered value would count each of them again at every switch. */
#define RECENT_REQUESTS 8

/* Per thread: when its running piece started (switch-in or last syscall; `stamped` 0 while off CPU), and the
 * request values it was last seen with. */
struct prof_task {
	__u64 since_ns;
	__u64 stamped;
	__u64 recent[RECENT_REQUESTS];
	__u32 next;
	__u32 __pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct prof_task);
} prof_tasks SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *n = bpf_map_lookup_elem(&prof_counters, &counter);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * tld_get_context_data() of label `key` (name at slot `i`) with a constant size: its key's size rounded up to whole
 * words, the bytes the key takes in a run's record (a longer read would run past the record's values and fall back
 * to the page). The sizes are frozen settings, so the verifier sees one branch per label.
 */
#define READ_LABEL(key, i)                                                                                          \
	switch ((settings.label_size[i] + 7) / 8) {                                                                \
	case 1: r = tld_get_context_data(obj, key, (const char *)settings.names + (i) * STRIDE, dst, 8); break;   \
	case 2: r = tld_get_context_data(obj, key, (const char *)settings.names + (i) * STRIDE, dst, 16); break;  \
	case 3: r = tld_get_context_data(obj, key, (const char *)settings.names + (i) * STRIDE, dst, 24); break;  \
	case 4: r = tld_get_context_data(obj, key, (const char *)settings.names + (i) * STRIDE, dst, 32); break;  \
	case 5: r = tld_get_context_data(obj, key, (const char *)settings.names + (i) * STRIDE, dst, 40); break;  \
	case 6: r = tld_get_context_data(obj, key, (const char *)settings.names + (i) * STRIDE, dst, 48); break;  \
	case 7: r = tld_get_context_data(obj, key, (const char *)settings.names + (i) * STRIDE, dst, 56); break;  \
	default: r = tld_get_context_data(obj, key, (const char *)settings.names + (i) * STRIDE, dst, 64); break; \
	}

/*
 * The one place a key's value is read: key `slot` (a label, or TLD_PROF_REQUEST_SLOT: a u64) of the thread behind
 * `obj`, as its current async context sees it (tld_get_context_data: the innermost run()'s record by the
 * async-context walk, else the page, which set() and the page mechanism of run() write), into dst (LB bytes, zeroed
 * first). Returns 0 when the thread has a value, negative otherwise (no such key, or a walk that failed: never a
 * guess).
 */
static __always_inline int read_key(struct tld_object *obj, int slot, __u8 *dst)
{
	int r = -ENOENT;

	__builtin_memset(dst, 0, LB);
	switch (slot) {
	case 0:
		READ_LABEL(label0, 0);
		break;
	case 1:
		READ_LABEL(label1, 1);
		break;
	case 2:
		READ_LABEL(label2, 2);
		break;
	case 3:
		READ_LABEL(label3, 3);
		break;
	case TLD_PROF_REQUEST_SLOT:
		r = tld_get_context_data(obj, request, (const char *)settings.names + TLD_PROF_REQUEST_SLOT * STRIDE, dst,
					 sizeof(__u64));
		break;
	}
	return r < 0 ? r : 0;
}

/* Keeps the first `size` bytes of a label (its key's size); the bytes after belong to the next keys. */
static __always_inline void trim(__u8 *label, __u32 size)
{
	int i;

#pragma unroll
	for (i = 0; i < LB; i++)
		if (i >= size)
			label[i] = 0;
}

/* Whether the profiler follows `task`: a thread of a target process, or with all_tasks any registered thread. */
static __always_inline bool wanted(struct task_struct *task)
{
	__u32 tgid = task->tgid;

	if (settings.all_tasks)
		return bpf_task_storage_get(&tld_data_map, task, 0, 0) != NULL;
	return bpf_map_lookup_elem(&prof_targets, &tgid) != NULL;
}

/*
 * Fills `key` (zeroed by the caller) with what `task` published; *request receives its request value (0: none).
 * user space writes the request key last when a request starts and clears it first when it ends, so a non-zero
 * request means the labels are complete.
 */
static __always_inline void bucket_of(struct task_struct *task, struct tld_prof_key *key, __u64 *request)
{
	struct tld_object obj = {};
	int err, i;

	*request = 0;
	key->tgid = task->tgid;
	key->user_stack = -1;
	key->kernel_stack = -1;
	key->state = TLD_PROF_STATE_NONE;
	err = tld_object_init(task, &obj);
	if (err == -ENOMEM)
		key->state = TLD_PROF_STATE_UNREADABLE;
	if (err)
		return;
	if (settings.request) {
		/* The request value is read into the label area, which is cleared again below. */
		if (read_key(&obj, TLD_PROF_REQUEST_SLOT, key->labels) < 0)
			return;
		*request = *(__u64 *)key->labels;
		__builtin_memset(key->labels, 0, LB);
		if (*request == 0) {
			key->state = TLD_PROF_STATE_IDLE;
			return;
		}
	}
	key->state = TLD_PROF_STATE_SET;
#pragma unroll
	for (i = 0; i < TLD_PROF_MAX_LABELS; i++) {
		if (i >= settings.nr_labels)
			break;
		if (read_key(&obj, i, key->labels + i * LB) == 0) {
			key->present |= 1 << i;
			trim(key->labels + i * LB, settings.label_size[i]);
		}
	}
}

static __always_inline struct tld_prof_key *scratch(__u32 slot)
{
	struct tld_prof_key *key = bpf_map_lookup_elem(&prof_scratch, &slot);

	if (key)
		__builtin_memset(key, 0, sizeof(*key));
	return key;
}

static __always_inline void charge(struct tld_prof_key *key, __u64 cpu_ns, __u64 pieces, __u64 samples,
				   __u64 requests)
{
	struct tld_prof_stats *s = bpf_map_lookup_elem(&prof_buckets, key);

	if (!s) {
		struct tld_prof_stats zero = {};

		/* Another CPU may insert the same key first (-EEXIST): the lookup below finds its element. */
		bpf_map_update_elem(&prof_buckets, key, &zero, BPF_NOEXIST);
		s = bpf_map_lookup_elem(&prof_buckets, key);
		if (!s) {
			count(TLD_PROF_MAP_FULL);
			return;
		}
	}
	if (cpu_ns)
		__sync_fetch_and_add(&s->cpu_ns, cpu_ns);
	if (pieces)
		__sync_fetch_and_add(&s->pieces, pieces);
	if (samples)
		__sync_fetch_and_add(&s->samples, samples);
	if (requests)
		__sync_fetch_and_add(&s->requests, requests);
}

/* 1 when `request` is not among the last RECENT_REQUESTS requests `t` was seen in (and remembers it). */
static __always_inline __u64 new_request(struct prof_task *t, __u64 request)
{
	int i;

	if (!t || !request)
		return 0;
#pragma unroll
	for (i = 0; i < RECENT_REQUESTS; i++)
		if (t->recent[i] == request)
			return 0;
	t->recent[t->next & (RECENT_REQUESTS - 1)] = request;
	t->next++;
	return 1;
}

/*
 * The running piece of `task` ends now: charge it to the task's values. With `restart` (a syscall: the task keeps
 * running) the next piece starts now; otherwise (switched out) the task is off CPU until its next switch-in. A
 * thread already on a CPU when the program was attached has no stamp: its piece is counted as UNSTAMPED instead
 * of being guessed, and a syscall starts its first piece.
 */
static __always_inline void settle(struct task_struct *task, bool restart)
{
	struct prof_task *t = bpf_task_storage_get(&prof_tasks, task, 0, restart ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	__u64 now = bpf_ktime_get_ns(), request;
	struct tld_prof_key *key;

	if (!t || !t->stamped) {
		count(TLD_PROF_UNSTAMPED);
		if (t) {
			t->since_ns = now;
			t->stamped = restart;
		}
		return;
	}
	key = scratch(SCRATCH_TRACE);
	if (key) {
		bucket_of(task, key, &request);
		charge(key, now - t->since_ns, 1, 0, new_request(t, request));
	}
	t->since_ns = now;
	t->stamped = restart;
}

static __always_inline void stamp(struct task_struct *next)
{
	struct prof_task *t = bpf_task_storage_get(&prof_tasks, next, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (t) {
		t->since_ns = bpf_ktime_get_ns();
		t->stamped = 1;
	}
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	if (wanted(prev))
		settle(prev, false);
	if (wanted(next))
		stamp(next);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_syscall, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (wanted(task))
		settle(task, true);
	return 0;
}

SEC("perf_event")
int on_cpu_sample(struct bpf_perf_event_data *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tld_prof_key *key;
	struct prof_task *t;
	__u64 request;

	if (!wanted(task))
		return 0;
	key = scratch(SCRATCH_SAMPLE);
	if (!key)
		return 0;
	bucket_of(task, key, &request);
	if (settings.stacks) {
		key->user_stack = bpf_get_stackid(ctx, &prof_stacks, BPF_F_USER_STACK);
		key->kernel_stack = bpf_get_stackid(ctx, &prof_stacks, 0);
		if (key->user_stack == -EEXIST || key->user_stack == -ENOMEM)
			count(TLD_PROF_STACK_LOST);
	}
	t = request ? bpf_task_storage_get(&prof_tasks, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE) : NULL;
	charge(key, 0, 0, 1, new_request(t, request));
	return 0;
}
