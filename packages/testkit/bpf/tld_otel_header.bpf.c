// SPDX-License-Identifier: MIT
/*
 * "tld_read_otel_header" (SEC("syscall"), BPF_PROG_TEST_RUN on a thread; ctx = struct tld_otel_header_ctx): what an
 * OpenTelemetry profiler reading OTEP 4947 records sees of the calling thread. It walks from the thread to the
 * record of its current run() as tld_get_context_data() does (the walk of tld.bpf.h, checks included), then copies
 * the 28-byte lead-in at the record's start: trace id, span id, valid, trace flags, attrs-data size.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "tld.bpf.h"
#include "tld_testkit.h"

char LICENSE[] SEC("license") = "GPL";

/* No key of its own: the key map caches only the position of tld.walk (in tld_key_owner). */
struct tld_keys {
	tld_key_t unused;
};

SEC("syscall")
int tld_read_otel_header(struct tld_otel_header_ctx *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct tld_ctx_record hdr;
	struct tld_ctx_loc loc;
	struct tld_object obj;
	struct tld_walk *w;
	int err;

	err = tld_object_init(task, &obj);
	ctx->init_err = err;
	if (err)
		return 0;
	w = obj.owner ? __tld_get_data(&obj, &obj.owner->walk.off, TLD_WALK_KEY_NAME, sizeof(struct tld_walk)) : NULL;
	if (!w) {
		ctx->walk = TLD_FROM_PAGE; /* no walk published: no record to read */
		return 0;
	}
	err = __tld_ctx_locate_current(w, &loc);
	ctx->walk = err;
	if (err != TLD_FROM_CONTEXT)
		return 0;
	if (bpf_probe_read_user(&hdr, sizeof(hdr), (const void *)loc.record)) {
		ctx->walk = -EFAULT;
		return 0;
	}
	__builtin_memcpy(ctx->trace_id, hdr.trace_id, sizeof(ctx->trace_id));
	__builtin_memcpy(ctx->span_id, hdr.span_id, sizeof(ctx->span_id));
	ctx->valid = hdr.valid;
	ctx->trace_flags = hdr.trace_flags;
	ctx->attrs_data_size = hdr.attrs_data_size;
	return 0;
}
