// SPDX-License-Identifier: MIT
/* "tld_iter" for maps with the 24-byte value (struct tld_map_value_v2), which carries `start` itself. */
#define TLD_ITER_V2
#include "tld_iter.bpf.c"
