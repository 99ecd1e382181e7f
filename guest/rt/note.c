/* zerg guest runtime: the ELF note that states which ABI this guest speaks. */
#include <zerg/abi.h>

struct zg_abi_note {
    uint32_t namesz, descsz, type;
    char name[8]; /* "ZERG\0" padded to 4 bytes */
    uint32_t version;
};

__attribute__((section(".note.zerg"), used,
               aligned(4))) static const struct zg_abi_note zg_abi_note = {
    5, 4, ZG_NOTE_ABI, ZG_NOTE_NAME, ZG_ABI_VERSION};
