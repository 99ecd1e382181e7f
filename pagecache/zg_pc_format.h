/* zg_pc_format: the page cache's on-disk structures, mirroring docs/format.md.
 *
 * Every multi-byte integer is little-endian; every struct is packed by
 * construction (natural alignment, no implicit padding) and its size is
 * asserted. Reserved fields are written as zero and ignored on read.
 * Checksums are XXH3-64 (seed 0); a record checksum is its low 32 bits.
 */
#ifndef ZG_PC_FORMAT_H
#define ZG_PC_FORMAT_H

#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "zerg's page cache format code assumes a little-endian host"
#endif

#define ZG_PC_FMT_MAJOR 1
#define ZG_PC_FMT_MINOR 0

#define ZG_PC_HASH_XXH3_128 1 /* hash_id: XXH3-128, canonical big-endian */
#define ZG_PC_COMP_LZ4      1 /* comp_id: LZ4 block format */

#define ZG_PC_ENC_LZ4 1 /* record payload: one LZ4 block decoding to 4096 bytes */
#define ZG_PC_ENC_RAW 2 /* record payload: the 4096-byte page itself */

/* ---- Pack file: packs/pack-XXXXXXXX.zpk ----------------------------------- */

#define ZG_PC_PACK_MAGIC "ZGPCPACK"

struct zg_pc_pack_hdr {
    uint8_t magic[8];   /* "ZGPCPACK" */
    uint16_t major;     /* ZG_PC_FMT_MAJOR */
    uint16_t minor;     /* ZG_PC_FMT_MINOR */
    uint32_t hdr_size;  /* 64; records start here */
    uint32_t page_size; /* 4096 */
    uint8_t hash_id;    /* ZG_PC_HASH_XXH3_128 */
    uint8_t comp_id;    /* ZG_PC_COMP_LZ4 */
    uint16_t reserved0; /* 0 */
    uint32_t pack_id;   /* equals the id in the file name */
    uint32_t reserved1; /* 0 */
    uint64_t reserved2[3];
    uint64_t checksum; /* XXH3-64 of bytes [0, 56) */
};
_Static_assert(sizeof(struct zg_pc_pack_hdr) == 64, "pack header is 64 bytes");

#define ZG_PC_REC_MAGIC "ZPRC"

/* One stored page; the payload of len bytes follows immediately. */
struct zg_pc_rec_hdr {
    uint8_t magic[4];  /* "ZPRC" */
    uint32_t checksum; /* low 32 bits of XXH3-64 of bytes [8, 32 + len) */
    uint16_t len;      /* payload bytes: 1..4095 for LZ4, 4096 for raw */
    uint8_t enc;       /* ZG_PC_ENC_* */
    uint8_t flags;     /* reserved, 0 */
    uint32_t reserved; /* 0 */
    uint8_t key[16];   /* XXH3-128 of the decoded page, canonical; never all zero */
};
_Static_assert(sizeof(struct zg_pc_rec_hdr) == 32, "record header is 32 bytes");

/* ---- Index file: index ---------------------------------------------------- */

#define ZG_PC_INDEX_MAGIC "ZGPCINDX"
#define ZG_PC_INDEX_END   "ZGPCIEND"

struct zg_pc_index_hdr {
    uint8_t magic[8];       /* "ZGPCINDX" */
    uint16_t major;         /* ZG_PC_FMT_MAJOR */
    uint16_t minor;         /* ZG_PC_FMT_MINOR */
    uint32_t hdr_size;      /* 64 */
    uint32_t page_size;     /* 4096 */
    uint8_t hash_id;        /* ZG_PC_HASH_XXH3_128 */
    uint8_t comp_id;        /* ZG_PC_COMP_LZ4 */
    uint16_t reserved0;     /* 0 */
    uint32_t npacks;        /* entries in the pack table */
    uint32_t max_pack_id;   /* highest pack id ever known to this index */
    uint64_t nentries;      /* entries in the page table */
    uint64_t generation;    /* +1 on every index write */
    uint64_t gc_generation; /* +1 on every GC that rewrote packs */
    uint64_t hdr_checksum;  /* XXH3-64 of bytes [0, 56) */
};
_Static_assert(sizeof(struct zg_pc_index_hdr) == 64, "index header is 64 bytes");

struct zg_pc_index_pack {
    uint32_t pack_id; /* a live pack */
    uint32_t flags;   /* reserved, 0 */
    uint64_t covered; /* the index names every record in bytes [64, covered) */
};
_Static_assert(sizeof(struct zg_pc_index_pack) == 16, "index pack entry is 16 bytes");

struct zg_pc_index_entry {
    uint8_t key[16];  /* the page's key */
    uint64_t offset;  /* offset of its record header in the pack */
    uint32_t pack_id; /* listed in the pack table */
    uint16_t len;     /* the record's payload length */
    uint8_t enc;      /* the record's encoding */
    uint8_t reserved; /* 0 */
};
_Static_assert(sizeof(struct zg_pc_index_entry) == 32, "index entry is 32 bytes");

struct zg_pc_index_trailer {
    uint8_t magic[8];  /* "ZGPCIEND" */
    uint64_t checksum; /* XXH3-64 of every byte before the trailer */
};
_Static_assert(sizeof(struct zg_pc_index_trailer) == 16, "index trailer is 16 bytes");

/* ---- Root file: roots/<name> ---------------------------------------------- */

#define ZG_PC_ROOT_MAGIC "ZGPCROOT"

struct zg_pc_root_hdr {
    uint8_t magic[8];   /* "ZGPCROOT" */
    uint16_t major;     /* ZG_PC_FMT_MAJOR */
    uint16_t minor;     /* ZG_PC_FMT_MINOR */
    uint8_t hash_id;    /* ZG_PC_HASH_XXH3_128 */
    uint8_t reserved0;  /* 0 */
    uint16_t reserved1; /* 0 */
    uint64_t nkeys;     /* keys that follow, 16 bytes each; all-zero = zero page */
    uint64_t reserved2; /* 0 */
};
_Static_assert(sizeof(struct zg_pc_root_hdr) == 32, "root header is 32 bytes");
/* After the keys: uint64_t checksum, XXH3-64 of every byte before it. */

/* Limits a reader enforces before allocating anything. */
#define ZG_PC_MAX_PACKS     (1u << 20)
#define ZG_PC_MAX_ENTRIES   (1ull << 32)
#define ZG_PC_MAX_ROOT_KEYS (1ull << 32)

#endif /* ZG_PC_FORMAT_H */
