/*
 * The Node-API face of tld_peer.c, so tests can drive the library from JavaScript in any thread. Loaded with
 * process.dlopen (RTLD_LOCAL or RTLD_GLOBAL); in a worker, loading it again only registers these functions there.
 * Functions after "test-only" do things no protocol library does, to build broken pages on purpose.
 */
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tld_layout.h"
#include "tld_peer.h"

extern struct tld_meta_u *_Atomic tld_meta_p;
extern __thread struct tld_data_u *tld_data_p;

static __thread uint64_t *kept; /* a pointer the "application" keeps from peer_get_data() */

#define ARGS(n)                                                          \
	size_t argc = (n);                                               \
	napi_value argv[(n) > 0 ? (n) : 1];                              \
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL)

static napi_value number(napi_env env, double v)
{
	napi_value out;
	napi_create_double(env, v, &out);
	return out;
}

static napi_value bigint(napi_env env, uint64_t v)
{
	napi_value out;
	napi_create_bigint_uint64(env, v, &out);
	return out;
}

static int32_t int_arg(napi_env env, napi_value v)
{
	int32_t out = 0;
	napi_get_value_int32(env, v, &out);
	return out;
}

static uint64_t bigint_arg(napi_env env, napi_value v)
{
	uint64_t out = 0;
	bool lossless;
	napi_get_value_bigint_uint64(env, v, &out, &lossless);
	return out;
}

static void set(napi_env env, napi_value obj, const char *name, napi_value v)
{
	napi_set_named_property(env, obj, name, v);
}

/* info(): how this build behaves. */
static napi_value info_fn(napi_env env, napi_callback_info info)
{
	napi_value out, keys;
	(void)info;
	napi_create_object(env, &out);
	napi_create_object(env, &keys);
#ifdef PEER_CNT_U8
	set(env, out, "cntBytes", number(env, 1));
#else
	set(env, out, "cntBytes", number(env, 2));
#endif
#ifdef PEER_VALUE_V2
	set(env, out, "valueSize", number(env, 24));
#else
	set(env, out, "valueSize", number(env, 16));
#endif
	set(env, keys, "peer_static_id", number(env, peer_static_id));
	set(env, keys, "peer_static_tag", number(env, peer_static_tag));
	set(env, out, "staticKeys", keys);
	return out;
}

/* createKey(name, size): offset, or -errno. */
static napi_value create_key(napi_env env, napi_callback_info info)
{
	char name[TLD_NAME_LEN + 8] = { 0 };
	size_t len;
	ARGS(2);
	napi_get_value_string_utf8(env, argv[0], name, sizeof(name), &len);
	return number(env, peer_create_key(name, (size_t)int_arg(env, argv[1])));
}

/* setU64(mapFd, key, value: bigint): 0, or -errno when the thread's block could not be set up. */
static napi_value set_u64(napi_env env, napi_callback_info info)
{
	uint64_t *p;
	ARGS(3);
	p = peer_get_data(int_arg(env, argv[0]), int_arg(env, argv[1]));
	if (!p)
		return number(env, -errno);
	*p = bigint_arg(env, argv[2]);
	return number(env, 0);
}

/* getU64(key): this thread's value, or undefined while the thread has no block. */
static napi_value get_u64(napi_env env, napi_callback_info info)
{
	napi_value undefined;
	ARGS(1);
	napi_get_undefined(env, &undefined);
	if (!tld_data_p)
		return undefined;
	return bigint(env, *(uint64_t *)(tld_data_p->data + int_arg(env, argv[0])));
}

/* keep(mapFd, key): keeps the value's pointer, as an application holding what the library returned; its address. */
static napi_value keep(napi_env env, napi_callback_info info)
{
	ARGS(2);
	kept = peer_get_data(int_arg(env, argv[0]), int_arg(env, argv[1]));
	return bigint(env, (uintptr_t)kept);
}

/* writeKept(value: bigint): stores through the kept pointer. */
static napi_value write_kept(napi_env env, napi_callback_info info)
{
	ARGS(1);
	if (!kept) {
		napi_throw_error(env, NULL, "keep() first");
		return NULL;
	}
	*kept = bigint_arg(env, argv[0]);
	return NULL;
}

static napi_value meta_page_address(napi_env env, napi_callback_info info)
{
	(void)info;
	return bigint(env, (uintptr_t)tld_meta_p);
}

static napi_value data_page_address(napi_env env, napi_callback_info info)
{
	(void)info;
	return bigint(env, (uintptr_t)tld_data_p);
}

static napi_value registrations(napi_env env, napi_callback_info info)
{
	(void)info;
	return number(env, peer_registrations());
}

/* test-only: setMetaHeader(cnt, size) overwrites the metadata page's header; returns the old { cnt, size }. */
static napi_value set_meta_header(napi_env env, napi_callback_info info)
{
	struct tld_meta_u *meta = tld_meta_p;
	napi_value out;
	ARGS(2);
	if (!meta) {
		napi_throw_error(env, NULL, "no metadata page");
		return NULL;
	}
	napi_create_object(env, &out);
	set(env, out, "cnt", number(env, meta->cnt));
	set(env, out, "size", number(env, meta->size));
	meta->cnt = (__u16)int_arg(env, argv[0]);
	meta->size = (__u16)int_arg(env, argv[1]);
	return out;
}

/*
 * test-only: installDataPage(kind) sets this thread's tld_data_p to a page no registration names:
 * "start64": page-aligned, start 64 (data[] shorter than usual); "readonly": start 8, but the page is read-only.
 * The page is never freed: the thread may get registered with it.
 */
static napi_value install_data_page(napi_env env, napi_callback_info info)
{
	char kind[16] = { 0 };
	size_t len;
	struct tld_data_u *page;
	ARGS(1);
	napi_get_value_string_utf8(env, argv[0], kind, sizeof(kind), &len);
	page = mmap(NULL, TLD_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		napi_throw_error(env, NULL, strerror(errno));
		return NULL;
	}
	page->start = strcmp(kind, "start64") == 0 ? 64 : 8;
	if (strcmp(kind, "readonly") == 0)
		mprotect(page, TLD_PAGE_SIZE, PROT_READ);
	tld_data_p = page;
	return bigint(env, (uintptr_t)page);
}

/*
 * test-only: unmapAndRestore(address) unmaps the page at `address` — what a broken writer does to a page that is
 * still registered — and maps a fresh zero page at the same address at once, so no other mapping can land there
 * and a later munmap of it stays harmless. Returns whether the fresh page landed at `address`.
 */
static napi_value unmap_and_restore(napi_env env, napi_callback_info info)
{
	void *page, *again;
	napi_value out;
	ARGS(1);
	page = (void *)(uintptr_t)bigint_arg(env, argv[0]);
	munmap(page, TLD_PAGE_SIZE);
	again = mmap(page, TLD_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	napi_get_boolean(env, again == page, &out);
	return out;
}

NAPI_MODULE_INIT()
{
	napi_property_descriptor props[] = {
		{ "info", NULL, info_fn, NULL, NULL, NULL, napi_default, NULL },
		{ "createKey", NULL, create_key, NULL, NULL, NULL, napi_default, NULL },
		{ "setU64", NULL, set_u64, NULL, NULL, NULL, napi_default, NULL },
		{ "getU64", NULL, get_u64, NULL, NULL, NULL, napi_default, NULL },
		{ "keep", NULL, keep, NULL, NULL, NULL, napi_default, NULL },
		{ "writeKept", NULL, write_kept, NULL, NULL, NULL, napi_default, NULL },
		{ "metaPageAddress", NULL, meta_page_address, NULL, NULL, NULL, napi_default, NULL },
		{ "dataPageAddress", NULL, data_page_address, NULL, NULL, NULL, napi_default, NULL },
		{ "registrations", NULL, registrations, NULL, NULL, NULL, napi_default, NULL },
		{ "setMetaHeader", NULL, set_meta_header, NULL, NULL, NULL, napi_default, NULL },
		{ "installDataPage", NULL, install_data_page, NULL, NULL, NULL, napi_default, NULL },
		{ "unmapAndRestore", NULL, unmap_and_restore, NULL, NULL, NULL, napi_default, NULL },
	};
	napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
	return exports;
}
