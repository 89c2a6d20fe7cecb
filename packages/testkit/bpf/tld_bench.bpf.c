// SPDX-License-Identifier: MIT
/*
 * Benchmarks of the BPF side (tools/bench runs them; nothing here ships in a reader):
 *
 * "tld_bench_<kind>_<keys>" time reads in the kernel: a bpf_loop of `iterations` iterations, each one what a
 * program run does to read task local data, timed with bpf_ktime_get_ns() around the loop (SEC("syscall")
 * programs take no BPF_PROG_TEST_RUN repeat). User space creates u64 keys "bench_00" .. "bench_62" in slot order
 * first (ctx_in = ctx_out = struct tld_bench_ctx). One program per configuration, so each iteration's code is
 * fixed at compile time as in a real reader.
 *
 * "tld_trace_begin" / "tld_trace_end" (SEC("syscall"), run on a thread) and "tld_trace_enter" / "tld_trace_exit"
 * (tp_btf/sys_enter, sys_exit; attached by the benchmark) add up the time a thread spends in each kind of system
 * call between begin and end: how long registering a thread takes in pidfd_open, map updates and mmap.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tld.bpf.h"
#include "tld_testkit.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef EINVAL
#define EINVAL 22
#endif

struct tld_keys {
	tld_key_t k[TLD_MAX_KEYS];
};

struct loop_state {
	__s32 err;
	__u64 sum;
};

/* Adds the value at `p` (a __u64 *) to the loop's sum; a missing key ends the loop with -ENOENT. */
#define ADD(st, p)                                      \
	do {                                            \
		__u64 *__p = (p);                       \
		if (!__p) {                             \
			(st)->err = -ENOENT;            \
			return 1;                       \
		}                                       \
		(st)->sum += *(volatile __u64 *)__p;    \
	} while (0)

/* The key `name`, which user space created in slot `i`. */
#define GET(obj, i, name) ((__u64 *)tld_get_data((obj), k[i], name, sizeof(__u64)))

/*
 * The value of the key in slot i at the offset it has when every key before it is 8 bytes: what a program that
 * hard-codes the layout reads instead of looking keys up, the floor for tld_get_data().
 */
#define FIXED(data, i) (*(volatile __u64 *)&(data)->data[8 * (i)])

/* One iteration = what one program run does: find the task, then read. */
static long empty_1(__u32 i, struct loop_state *st)
{
	st->sum += bpf_get_current_task_btf()->pid;
	return 0;
}

static __always_inline struct tld_data_u *fixed_data(struct loop_state *st)
{
	struct tld_map_value *v = bpf_task_storage_get(&tld_data_map, bpf_get_current_task_btf(), 0, 0);

	if (!v || !v->data)
		st->err = -ENODATA;
	return v ? v->data : NULL;
}

#define FIXED_ITER(n)                                                   \
	static long fixed_##n(__u32 i, struct loop_state *st)           \
	{                                                               \
		struct tld_data_u *data = fixed_data(st);               \
		int j;                                                  \
                                                                        \
		if (!data)                                              \
			return 1;                                       \
		_Pragma("unroll") for (j = 0; j < (n); j++)             \
			st->sum += FIXED(data, j);                      \
		return 0;                                               \
	}
FIXED_ITER(1)
FIXED_ITER(4)
FIXED_ITER(16)

static __always_inline int object(struct tld_object *obj, struct loop_state *st)
{
	if (tld_object_init(bpf_get_current_task_btf(), obj)) {
		st->err = -ENODATA;
		return -1;
	}
	return 0;
}

static long cached_1(__u32 i, struct loop_state *st)
{
	struct tld_object obj;

	if (object(&obj, st))
		return 1;
	ADD(st, GET(&obj, 0, "bench_00"));
	return 0;
}

static long cached_4(__u32 i, struct loop_state *st)
{
	struct tld_object obj;

	if (object(&obj, st))
		return 1;
	ADD(st, GET(&obj, 0, "bench_00"));
	ADD(st, GET(&obj, 1, "bench_01"));
	ADD(st, GET(&obj, 2, "bench_02"));
	ADD(st, GET(&obj, 3, "bench_03"));
	return 0;
}

static long cached_16(__u32 i, struct loop_state *st)
{
	struct tld_object obj;

	if (object(&obj, st))
		return 1;
	ADD(st, GET(&obj, 0, "bench_00"));
	ADD(st, GET(&obj, 1, "bench_01"));
	ADD(st, GET(&obj, 2, "bench_02"));
	ADD(st, GET(&obj, 3, "bench_03"));
	ADD(st, GET(&obj, 4, "bench_04"));
	ADD(st, GET(&obj, 5, "bench_05"));
	ADD(st, GET(&obj, 6, "bench_06"));
	ADD(st, GET(&obj, 7, "bench_07"));
	ADD(st, GET(&obj, 8, "bench_08"));
	ADD(st, GET(&obj, 9, "bench_09"));
	ADD(st, GET(&obj, 10, "bench_10"));
	ADD(st, GET(&obj, 11, "bench_11"));
	ADD(st, GET(&obj, 12, "bench_12"));
	ADD(st, GET(&obj, 13, "bench_13"));
	ADD(st, GET(&obj, 14, "bench_14"));
	ADD(st, GET(&obj, 15, "bench_15"));
	return 0;
}

/*
 * A cold cache: the key's entry is cleared first (one store), so tld_get_data() walks the metadata from slot 0,
 * comparing names up to the key's slot, as on a program's first read of that key in a task.
 */
#define COLD_ITER(n, name)                                              \
	static long cold_##n(__u32 i, struct loop_state *st)            \
	{                                                               \
		struct tld_object obj;                                  \
                                                                        \
		if (object(&obj, st))                                   \
			return 1;                                       \
		obj.key_map->k[(n) - 1].off = 0;                        \
		ADD(st, GET(&obj, (n) - 1, name));                      \
		return 0;                                               \
	}
COLD_ITER(1, "bench_00")
COLD_ITER(16, "bench_15")
COLD_ITER(63, "bench_62")

/*
 * The walk to the current async context: tld_get_context_data() of bench_00, which user space runs inside a run()
 * that sets it, so every iteration walks from the CPED slot to the run's record and copies the value from there.
 * A value from anywhere else ends the loop with an error (-ENOMSG when it came from the page).
 */
#ifndef ENOMSG
#define ENOMSG 42
#endif
static long context_1(__u32 i, struct loop_state *st)
{
	struct tld_object obj;
	__u64 v;
	int r;

	if (object(&obj, st))
		return 1;
	r = tld_get_context_data(&obj, k[0], "bench_00", &v, sizeof(v));
	if (r != TLD_FROM_CONTEXT) {
		st->err = r < 0 ? r : -ENOMSG;
		return 1;
	}
	st->sum += v;
	return 0;
}

/*
 * One bpf_probe_read_user() of 8 bytes (the CPED slot the walk starts from) after tld_object_init() and the lookup
 * of tld.walk: what each of the walk's reads costs, against the cached read.
 */
static long user_1(__u32 i, struct loop_state *st)
{
	struct tld_object obj;
	struct tld_walk *w;
	__u64 v;

	if (object(&obj, st))
		return 1;
	w = __tld_get_data(&obj, &obj.owner->walk.off, TLD_WALK_KEY_NAME, sizeof(struct tld_walk));
	if (!w || bpf_probe_read_user(&v, sizeof(v), (const void *)w->cped_slot)) {
		st->err = -ENOENT;
		return 1;
	}
	st->sum += 1;
	return 0;
}

/* Program tld_bench_<kind>_<keys>: `iterations` iterations of <kind>_<keys>, timed in the kernel. */
#define BENCH(kind, n)                                                  \
	SEC("syscall") int tld_bench_##kind##_##n(struct tld_bench_ctx *ctx) \
	{                                                               \
		struct loop_state st = {};                              \
		__u64 t0;                                               \
                                                                        \
		if (ctx->iterations == 0) {                             \
			ctx->err = -EINVAL;                             \
			return 0;                                       \
		}                                                       \
		t0 = bpf_ktime_get_ns();                                \
		bpf_loop(ctx->iterations, kind##_##n, &st, 0);          \
		ctx->ns = bpf_ktime_get_ns() - t0;                      \
		ctx->sum = st.sum;                                      \
		ctx->err = st.err;                                      \
		return 0;                                               \
	}
BENCH(empty, 1)
BENCH(fixed, 1)
BENCH(fixed, 4)
BENCH(fixed, 16)
BENCH(cached, 1)
BENCH(cached, 4)
BENCH(cached, 16)
BENCH(cold, 1)
BENCH(cold, 16)
BENCH(cold, 63)
BENCH(context, 1)
BENCH(user, 1)

/* Per traced thread: the system call in progress and the time spent so far in each kind. */
struct trace_state {
	__u64 enter_ns;
	__u32 step;
	__u32 active;
	__u64 ns[TLD_TRACE_STEPS];
	__u32 count[TLD_TRACE_STEPS];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct trace_state);
} tld_trace_map SEC(".maps");

/* x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl); the Makefile builds for x86 only. */
#define NR_CLOSE 3
#define NR_MMAP 9
#define NR_MUNMAP 11
#define NR_BPF 321
#define NR_PIDFD_OPEN 434
#define CMD_MAP_UPDATE_ELEM 2 /* enum bpf_cmd */

SEC("tp_btf/sys_enter")
int BPF_PROG(tld_trace_enter, struct pt_regs *regs, long id)
{
	struct trace_state *st = bpf_task_storage_get(&tld_trace_map, bpf_get_current_task_btf(), 0, 0);

	if (!st || !st->active)
		return 0;
	switch (id) {
	case NR_PIDFD_OPEN: st->step = TLD_TRACE_PIDFD_OPEN; break;
	case NR_BPF: st->step = regs->di == CMD_MAP_UPDATE_ELEM ? TLD_TRACE_MAP_UPDATE : TLD_TRACE_BPF_OTHER; break;
	case NR_MMAP:
	case NR_MUNMAP: st->step = TLD_TRACE_MMAP; break;
	default: st->step = TLD_TRACE_OTHER;
	}
	st->enter_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(tld_trace_exit, struct pt_regs *regs, long ret)
{
	struct trace_state *st = bpf_task_storage_get(&tld_trace_map, bpf_get_current_task_btf(), 0, 0);
	__u32 step;

	/* enter_ns is 0 for the call that ran tld_trace_begin, which entered before tracing started. */
	if (!st || !st->active || !st->enter_ns)
		return 0;
	step = st->step;
	if (step < TLD_TRACE_STEPS) {
		st->ns[step] += bpf_ktime_get_ns() - st->enter_ns;
		st->count[step] += 1;
	}
	st->enter_ns = 0;
	return 0;
}

/* Starts tracing the calling thread (its counters start at zero). */
SEC("syscall")
int tld_trace_begin(struct tld_trace_ctx *ctx)
{
	struct trace_state *st = bpf_task_storage_get(&tld_trace_map, bpf_get_current_task_btf(), 0,
						      BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!st)
		return -ENOMEM;
	__builtin_memset(st, 0, sizeof(*st));
	st->active = 1;
	return 0;
}

/* Stops tracing the calling thread and reports its counters; the call running this one is not counted. */
SEC("syscall")
int tld_trace_end(struct tld_trace_ctx *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct trace_state *st = bpf_task_storage_get(&tld_trace_map, task, 0, 0);
	int i;

	ctx->active = 0;
	if (!st)
		return 0;
	ctx->active = st->active;
	st->active = 0;
#pragma unroll
	for (i = 0; i < TLD_TRACE_STEPS; i++) {
		ctx->ns[i] = st->ns[i];
		ctx->count[i] = st->count[i];
	}
	bpf_task_storage_delete(&tld_trace_map, task);
	return 0;
}
