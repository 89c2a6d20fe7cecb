// SPDX-License-Identifier: MIT
/*
 * The context readers: what BPF reads of a thread's values through the walk of tld.bpf.h
 * (tld_get_context_data()), for the keys req_id (u64), route (TLD_CONTEXT_ROUTE_BYTES), weight (f64) and mark
 * (u64).
 *
 * "tld_read_context" (SEC("syscall"), BPF_PROG_TEST_RUN on a thread; ctx_in = struct tld_context_ctx): reads them
 * for the calling thread with bpf_probe_read_user(); "tld_read_context_task" the same with bpf_copy_from_user_task()
 * (tld_get_context_data_task(), what sleepable programs reading other tasks use).
 *
 * "tld_context_on_cpu" (perf_event: a CPU-clock sample of whatever runs) and "tld_context_on_idle"
 * (tp_btf/sys_enter of epoll_wait, epoll_pwait, epoll_pwait2: an event loop going idle between callbacks) record a
 * struct tld_context_sample for each thread of process tld_context_config.tgid into the ring tld_context_samples.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tld.bpf.h"
#include "tld_testkit.h"

char LICENSE[] SEC("license") = "GPL";

struct tld_keys {
	tld_key_t req_id;
	tld_key_t route;
	tld_key_t weight;
	tld_key_t mark;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tld_context_config);
} tld_context_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TLD_CONTEXT_MAX_SAMPLES);
	__type(key, __u32);
	__type(value, struct tld_context_sample);
} tld_context_samples SEC(".maps");

/* Reads the four keys for the current task (remote == 0) or `task` (remote == 1). */
static __always_inline void read_keys(struct tld_object *obj, struct tld_context_values *out,
				      struct task_struct *task, const int remote)
{
	if (remote) {
		out->ret[0] = tld_get_context_data_task(obj, task, req_id, "req_id", &out->req_id, sizeof(__u64));
		out->ret[1] = tld_get_context_data_task(obj, task, route, "route", out->route, TLD_CONTEXT_ROUTE_BYTES);
		out->ret[2] = tld_get_context_data_task(obj, task, weight, "weight", &out->weight, sizeof(__u64));
		out->ret[3] = tld_get_context_data_task(obj, task, mark, "mark", &out->mark, sizeof(__u64));
	} else {
		out->ret[0] = tld_get_context_data(obj, req_id, "req_id", &out->req_id, sizeof(__u64));
		out->ret[1] = tld_get_context_data(obj, route, "route", out->route, TLD_CONTEXT_ROUTE_BYTES);
		out->ret[2] = tld_get_context_data(obj, weight, "weight", &out->weight, sizeof(__u64));
		out->ret[3] = tld_get_context_data(obj, mark, "mark", &out->mark, sizeof(__u64));
	}
}

/*
 * The user memory reads one walk of the current task to req_id makes, through tld.bpf.h's internals: tests check
 * that the walk takes from its copies what they hold. 0 when the walk gives no value from the run's record.
 */
static __always_inline __u32 walk_reads(struct tld_object *obj)
{
	struct tld_data_u *data = obj->data_map->data;
	struct tld_ctx_loc loc = {};
	struct tld_walk *w;
	long pos, start;
	__u64 v;

	if (!obj->owner || !data)
		return 0;
	w = __tld_get_data(obj, &obj->owner->walk.off, TLD_WALK_KEY_NAME, sizeof(struct tld_walk));
	if (!w || !__tld_get_data(obj, &obj->key_map->req_id.off, "req_id", sizeof(v)))
		return 0;
	pos = *(volatile __s16 *)&obj->key_map->req_id.off;
	start = __tld_data_start(data);
	if (__tld_ctx_locate_current(w, &loc) != TLD_FROM_CONTEXT ||
	    __tld_ctx_copy(&loc, pos - start, &v, sizeof(v), NULL, 0) != TLD_FROM_CONTEXT)
		return 0;
	return loc.reads;
}

/* Both programs: the calling thread's four keys, read one way or the other. */
static __always_inline int read_context(struct tld_context_ctx *ctx, const int remote)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tld_context_values out = {};
	struct tld_object obj;
	int err;

	ctx->tid = task->pid;
	err = tld_object_init(task, &obj);
	ctx->init_err = err;
	if (err)
		return 0;
	read_keys(&obj, &out, task, remote);
	__builtin_memcpy(&ctx->read, &out, sizeof(out));
	ctx->walk_reads = remote ? 0 : walk_reads(&obj);
	return 0;
}

SEC("syscall")
int tld_read_context(struct tld_context_ctx *ctx)
{
	return read_context(ctx, 0);
}

SEC("syscall")
int tld_read_context_task(struct tld_context_ctx *ctx)
{
	return read_context(ctx, 1);
}

/* One reading of the current task into the ring, when it belongs to the watched process and is registered. */
static __always_inline void sample(__u32 kind)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tld_context_config *config;
	struct tld_context_sample *s;
	struct tld_object obj;
	__u32 zero = 0, slot;

	config = bpf_map_lookup_elem(&tld_context_config, &zero);
	if (!config || !config->tgid || task->tgid != config->tgid)
		return;
	/* Looked up, not created: a thread that never registered gets no cache entries from a sampler. */
	if (!bpf_task_storage_get(&tld_data_map, task, 0, 0) || tld_object_init(task, &obj))
		return;
	slot = __sync_fetch_and_add(&config->next, 1) % TLD_CONTEXT_MAX_SAMPLES;
	s = bpf_map_lookup_elem(&tld_context_samples, &slot);
	if (!s)
		return;
	s->ns = bpf_ktime_get_ns();
	s->tid = task->pid;
	s->kind = kind;
	read_keys(&obj, &s->read, task, 0);
}

SEC("perf_event")
int tld_context_on_cpu(void *ctx)
{
	sample(TLD_CONTEXT_SAMPLE_CPU);
	return 0;
}

/* x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl); the Makefile builds for x86 only. */
#define NR_EPOLL_WAIT 232
#define NR_EPOLL_PWAIT 281
#define NR_EPOLL_PWAIT2 441

SEC("tp_btf/sys_enter")
int BPF_PROG(tld_context_on_idle, struct pt_regs *regs, long id)
{
	if (id == NR_EPOLL_WAIT || id == NR_EPOLL_PWAIT || id == NR_EPOLL_PWAIT2)
		sample(TLD_CONTEXT_SAMPLE_IDLE);
	return 0;
}
