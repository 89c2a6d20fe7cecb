// SPDX-License-Identifier: MIT
/*
 * Maps for tests, each right or wrong for tld_data_map in one way. Loaded by loadFixtures() (libbpf, pinned only
 * where asked) or pinned all at once by pinFixtureMaps() (bpftool prog loadall ... pinmaps DIR, which needs the
 * one program below).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "tld_layout.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Without a use of the pointee structs clang emits them as forward declarations and the kernel then treats the
 * __uptr fields as numbers: keep them defined in BTF. (A global of struct tld_map_value itself would put uptr
 * fields into the .bss array map, which the kernel refuses.)
 */
struct tld_data_u tld_data_dummy;
struct tld_meta_u tld_meta_dummy;

/* The real thing: value_size 16 with two uptrs. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tld_map_value);
} tld_data_map SEC(".maps");

/* The later 24-byte revision. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tld_map_value_v2);
} tld_data_map_v2 SEC(".maps");

/* Same size, but plain numbers: what a map looks like when its BTF lacks the uptr tag. */
struct plain_value {
	__u64 data;
	__u64 meta;
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct plain_value);
} plain_map SEC(".maps");

/* Task storage whose value is not a task-local-data map value (8 bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} small_map SEC(".maps");

/* Task storage, but value_size 32: larger than either revision's. */
struct wide_value {
	__u64 words[4];
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wide_value);
} wide_map SEC(".maps");

/* Right value size, wrong map type. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, int);
	__type(value, __u64[2]);
} tld_wrong_map_type SEC(".maps");

/* bpftool loads only objects with a program; libbpf creates every map of the object for it. */
SEC("syscall")
int noop(void *ctx)
{
	return tld_data_dummy.start == 0 && tld_meta_dummy.cnt == 0;
}
