/* SPDX-License-Identifier: MIT */
/* Provisional: the spec's struct tld_walk / struct tld_ctx_record until @tld/protocol generates them. */
#ifndef __TLD_WALK_PROVISIONAL_H
#define __TLD_WALK_PROVISIONAL_H

#define TLD_WALK_KEY "tld.walk"
#define TLD_WALK_VERSION 1

struct tld_walk {
	__u32 version;
	__u32 als_hash;
	__u64 cped_slot;
	__u64 no_frame;
	__u64 record_magic;
	__u16 key_hash_off;
	__u16 frame_table_off;
	__u16 table_nelements_off;
	__u16 table_ndeleted_off;
	__u16 table_nbuckets_off;
	__u16 table_buckets_off;
	__u16 entry_words;
	__u16 entry_key;
	__u16 entry_value;
	__u16 entry_chain;
	__u16 store_record_off;
	__u16 __pad[5];
};

struct tld_ctx_record {
	__u64 magic;
	__u64 self;
	__u32 seq;
	__u32 valid;
	__u32 values_off;
	__u32 values_size;
	__u32 present_off;
	__u32 __pad;
};

#endif
