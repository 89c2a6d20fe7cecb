/* Prints the layout of include/tld_reader.h as JSON for test/layout.test.ts (compiled for the host). */
#include <stddef.h>
#include <stdio.h>
#include "tld_reader.h"

#define F(s, f) printf("\"%s.%s\": %zu,\n", #s, #f, offsetof(struct s, f))

int main(void)
{
	printf("{\n");
	printf("\"maxKeys\": %d,\n\"nameBytes\": %d,\n\"valueBytes\": %d,\n\"routeBytes\": %d,\n", TLD_READER_MAX_KEYS,
	       TLD_READER_NAME_BYTES, TLD_READER_VALUE_BYTES, TLD_CACHED_ROUTE_BYTES);
	printf("\"STORAGE\": %d,\n\"DATA\": %d,\n\"META\": %d,\n\"REGISTERED\": %d,\n", TLD_READER_STORAGE,
	       TLD_READER_DATA, TLD_READER_META, TLD_READER_REGISTERED);
	printf("\"FOUND_REQ_ID\": %d,\n\"FOUND_ROUTE\": %d,\n", TLD_CACHED_FOUND_REQ_ID, TLD_CACHED_FOUND_ROUTE);
	printf("\"sizeof tld_reader_ctx\": %zu,\n", sizeof(struct tld_reader_ctx));
	printf("\"sizeof tld_reader_key\": %zu,\n", sizeof(struct tld_reader_key));
	printf("\"sizeof tld_cached_ctx\": %zu,\n", sizeof(struct tld_cached_ctx));
	F(tld_reader_ctx, nr_keys);
	F(tld_reader_ctx, status);
	F(tld_reader_ctx, tid);
	F(tld_reader_ctx, tgid);
	F(tld_reader_ctx, start);
	F(tld_reader_ctx, meta_cnt);
	F(tld_reader_ctx, meta_size);
	F(tld_reader_ctx, keys);
	F(tld_reader_key, name);
	F(tld_reader_key, value);
	F(tld_reader_key, offset);
	F(tld_reader_key, size);
	F(tld_reader_key, found);
	F(tld_reader_key, bad_name);
	F(tld_cached_ctx, init_err);
	F(tld_cached_ctx, found);
	F(tld_cached_ctx, req_id);
	F(tld_cached_ctx, route);
	F(tld_cached_ctx, req_id_cache_before);
	F(tld_cached_ctx, req_id_cache_after);
	F(tld_cached_ctx, route_cache_before);
	F(tld_cached_ctx, route_cache_after);
	F(tld_cached_ctx, tid);
	printf("\"sizeof tld_iter_record\": %zu,\n\"iterCommBytes\": %d,\n", sizeof(struct tld_iter_record), TLD_ITER_COMM_BYTES);
	printf("\"iterPresentBytes\": %d,\n", TLD_ITER_PRESENT_BYTES);
	F(tld_iter_record, tid);
	F(tld_iter_record, tgid);
	F(tld_iter_record, status);
	F(tld_iter_record, value_start);
	F(tld_iter_record, comm);
	F(tld_iter_record, start);
	F(tld_iter_record, meta_cnt);
	F(tld_iter_record, meta_size);
	F(tld_iter_record, meta_bytes);
	F(tld_iter_record, data_bytes);
	F(tld_iter_record, ctx_status);
	F(tld_iter_record, ctx_bytes);
	F(tld_iter_record, ctx_present);
	printf("\"end\": 0\n}\n");
	return 0;
}
