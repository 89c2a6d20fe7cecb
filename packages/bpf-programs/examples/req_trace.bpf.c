// SPDX-License-Identifier: MIT
// The README example: report the request id and route of threads that call openat(). Built by `make`.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tld.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* One cache slot per key this program reads. */
struct tld_keys {
	tld_key_t req_id;
	tld_key_t route;
};

struct event {
	__u32 tid;
	__u64 req_id;
	char route[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

/* Every openat() of a thread that published a request id reports it, with the route. */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tld_object obj;
	struct event *e;
	__u64 *req_id;
	char *route;

	if (id != 257 /* __NR_openat */ || tld_object_init(task, &obj))
		return 0;
	req_id = tld_get_data(&obj, req_id, "req_id", sizeof(__u64));
	if (!req_id)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->tid = task->pid;
	e->req_id = *req_id;
	route = tld_get_data(&obj, route, "route", 32);
	if (route)
		__builtin_memcpy(e->route, route, sizeof(e->route));
	else
		e->route[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
