// SPDX-License-Identifier: MIT
/* The README's example of tld_get_context_data(): CPU samples counted by the route of the request running. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tld.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct tld_keys {
	tld_key_t route;
};

struct route_key {
	char route[32];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct route_key);
	__type(value, __u64);
} samples_by_route SEC(".maps");

SEC("perf_event")
int on_sample(void *ctx)
{
	struct tld_object obj;
	struct route_key key = {};
	__u64 one = 1, *count;

	if (tld_object_init(bpf_get_current_task_btf(), &obj))
		return 0;
	/* 1: the route of the run() the sample interrupted; 0: the thread's own; < 0: no value */
	if (tld_get_context_data(&obj, route, "route", key.route, sizeof(key.route)) < 0)
		return 0;
	count = bpf_map_lookup_elem(&samples_by_route, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&samples_by_route, &key, &one, BPF_NOEXIST);
	return 0;
}
