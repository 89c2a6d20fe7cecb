// SPDX-License-Identifier: MIT
/*
 * Maps for error-path tests: each is wrong for tld_data_map in exactly one way. Never pinned unless a loader
 * asks; no programs.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Task storage, but value_size 32: neither 16 nor 24. */
struct tld_wrong_value {
	__u64 a, b, c, d;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tld_wrong_value);
} tld_wrong_value_size SEC(".maps");

/* Right value size, wrong map type. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, int);
	__type(value, __u64[2]);
} tld_wrong_map_type SEC(".maps");
