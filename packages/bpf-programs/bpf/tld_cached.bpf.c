// SPDX-License-Identifier: MIT
/*
 * "tld_read_cached": reads two fixed keys through tld_get_data(), the cached path a production BPF program uses,
 * and reports the per-task cache entries around the lookup (ctx_in = ctx_out = struct tld_cached_ctx).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "tld.bpf.h"
#include "tld_reader.h"

char LICENSE[] SEC("license") = "GPL";

struct tld_keys {
	tld_key_t req_id;
	tld_key_t route;
};

SEC("syscall")
int tld_read_cached(struct tld_cached_ctx *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tld_object obj;
	__u64 *req_id;
	char *route;
	__u32 found = 0;
	int err;

	ctx->tid = task->pid;
	ctx->found = 0;
	err = tld_object_init(task, &obj);
	ctx->init_err = err;
	if (err)
		return 0;

	ctx->req_id_cache_before = obj.key_map->req_id.off;
	ctx->route_cache_before = obj.key_map->route.off;

	req_id = tld_get_data(&obj, req_id, "req_id", sizeof(__u64));
	if (req_id) {
		found |= TLD_CACHED_FOUND_REQ_ID;
		ctx->req_id = *(volatile __u64 *)req_id;
	}
	route = tld_get_data(&obj, route, "route", TLD_CACHED_ROUTE_BYTES);
	if (route) {
		found |= TLD_CACHED_FOUND_ROUTE;
		__builtin_memcpy(ctx->route, route, TLD_CACHED_ROUTE_BYTES);
	}

	ctx->found = found;
	ctx->req_id_cache_after = obj.key_map->req_id.off;
	ctx->route_cache_after = obj.key_map->route.off;
	return 0;
}
