// SPDX-License-Identifier: MIT
// The bpftool example: a cgroup program that records the req_id of each thread that creates a socket. bpftool
// hands it tld_data_map (`map name tld_data_map pinned PATH`), so the header must not pin the map by name.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#define TLD_DATA_MAP_NO_PIN
#include "tld.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct tld_keys {
	tld_key_t req_id;
};

/* Thread id -> the req_id it had published when it last created a socket. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} req_ids SEC(".maps");

/* Runs in the creating thread's context; always lets the socket be made. */
SEC("cgroup/sock_create")
int sock_req_id(struct bpf_sock *sk)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tld_object obj;
	__u64 *req_id;
	__u32 tid;

	if (tld_object_init(task, &obj))
		return 1;
	req_id = tld_get_data(&obj, req_id, "req_id", sizeof(__u64));
	if (req_id) {
		tid = task->pid;
		bpf_map_update_elem(&req_ids, &tid, req_id, BPF_ANY);
	}
	return 1;
}
