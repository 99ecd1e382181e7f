/* Unit tests: the guest ELF loader accepts good images and refuses bad ones. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>

#include <zerg/abi.h>
#include "monitor/zg_elf.h"
#include "tests/zt.h"

#define MEM (4u << 20)

/* A minimal guest: ELF header, 3 program headers (text, data, note), a note,
 * then 64 bytes of "code" and 16 bytes of data. */
struct image {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[3];
    uint32_t note[6]; /* namesz, descsz, type, "ZERG", "\0\0\0\0", version */
    uint8_t code[64];
    uint8_t data[16];
};

static struct image img;
static uint8_t *mem;
static char err[256];
static struct zg_elf_info info;

static void build(void)
{
    memset(&img, 0, sizeof(img));
    memcpy(img.eh.e_ident, ELFMAG, SELFMAG);
    img.eh.e_ident[EI_CLASS] = ELFCLASS64;
    img.eh.e_ident[EI_DATA] = ELFDATA2LSB;
    img.eh.e_ident[EI_VERSION] = EV_CURRENT;
    img.eh.e_type = ET_EXEC;
    img.eh.e_machine = EM_X86_64;
    img.eh.e_version = EV_CURRENT;
    img.eh.e_entry = 0x100000;
    img.eh.e_phoff = offsetof(struct image, ph);
    img.eh.e_ehsize = sizeof(Elf64_Ehdr);
    img.eh.e_phentsize = sizeof(Elf64_Phdr);
    img.eh.e_phnum = 3;
    img.ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
                             .p_flags = PF_R | PF_X,
                             .p_offset = offsetof(struct image, code),
                             .p_vaddr = 0x100000,
                             .p_paddr = 0x100000,
                             .p_filesz = 64,
                             .p_memsz = 64};
    img.ph[1] = (Elf64_Phdr){.p_type = PT_LOAD,
                             .p_flags = PF_R | PF_W,
                             .p_offset = offsetof(struct image, data),
                             .p_vaddr = 0x101000,
                             .p_paddr = 0x101000,
                             .p_filesz = 16,
                             .p_memsz = 0x2000};
    img.ph[2] = (Elf64_Phdr){
        .p_type = PT_NOTE, .p_offset = offsetof(struct image, note), .p_filesz = sizeof(img.note)};
    img.note[0] = 5;
    img.note[1] = 4;
    img.note[2] = ZG_NOTE_ABI;
    memcpy(&img.note[3], "ZERG", 5);
    img.note[5] = ZG_ABI_VERSION;
    for (int i = 0; i < 64; i++)
        img.code[i] = (uint8_t)(0x90 + (i & 1));
    memset(img.data, 0xab, sizeof(img.data));
}

static int check(void)
{
    return zg_elf_check(&img, sizeof(img), MEM, &info, err, sizeof(err));
}

ZT_TEST(accepts_valid_image)
{
    build();
    ZT_EQ(check(), 0);
    ZT_EQ(info.entry, 0x100000);
    ZT_EQ(info.lo, 0x100000);
    ZT_EQ(info.hi, 0x103000);
    ZT_EQ(info.abi_version, ZG_ABI_VERSION);
    ZT_EQ(info.nsegments, 2);
}

ZT_TEST(load_copies_and_zeroes_bss)
{
    build();
    memset(mem, 0x5a, MEM);
    ZT_EQ(zg_elf_load(&img, sizeof(img), mem, MEM, MEM, &info, err, sizeof(err)), 0);
    ZT_MEMEQ(mem + 0x100000, img.code, 64);
    ZT_MEMEQ(mem + 0x101000, img.data, 16);
    for (unsigned i = 16; i < 0x2000; i++)
        if (mem[0x101000 + i] != 0)
            ZT_FAILF("bss byte %u not zeroed", i);
    ZT_EQ(mem[0x100040], 0x5a); /* nothing written past the text segment */
}

#define REFUSED(expr_mutation, needle)                                                             \
    do {                                                                                           \
        build();                                                                                   \
        expr_mutation;                                                                             \
        int rc_ = check();                                                                         \
        if (rc_ != -ENOEXEC)                                                                       \
            ZT_FAILF("%s: rc %d, want -ENOEXEC", #expr_mutation, rc_);                             \
        if (!strstr(err, needle))                                                                  \
            ZT_FAILF("%s: message \"%s\" lacks \"%s\"", #expr_mutation, err, needle);              \
    } while (0)

ZT_TEST(refuses_bad_headers)
{
    REFUSED(img.eh.e_ident[0] = 0x7e, "not an ELF");
    REFUSED(img.eh.e_ident[EI_CLASS] = ELFCLASS32, "ELF64");
    REFUSED(img.eh.e_machine = EM_386, "not x86-64");
    REFUSED(img.eh.e_type = ET_DYN, "ET_EXEC");
    REFUSED(img.eh.e_phentsize = 40, "entry size");
    REFUSED(img.eh.e_phnum = 0, "program headers");
    REFUSED(img.eh.e_phnum = 65, "program headers");
    REFUSED(img.eh.e_phoff = sizeof(img) - 8, "outside the file");
    REFUSED(img.eh.e_phoff = UINT64_MAX - 8, "outside the file");
}

ZT_TEST(refuses_bad_segments)
{
    REFUSED(img.ph[0].p_offset = UINT64_MAX - 10, "outside the file");
    REFUSED(img.ph[0].p_filesz = 1u << 20, "outside the file");
    REFUSED(img.ph[1].p_memsz = 8, "exceeds memory size");
    REFUSED((img.ph[0].p_vaddr = img.ph[0].p_paddr = 0x1000), "below");
    REFUSED(img.ph[1].p_paddr = 0x200000, "differ");
    REFUSED((img.ph[1].p_vaddr = img.ph[1].p_paddr = MEM - 0x1000), "does not fit");
    REFUSED((img.ph[1].p_vaddr = img.ph[1].p_paddr = UINT64_MAX - 0x1000), "does not fit");
    REFUSED(img.ph[1].p_memsz = UINT64_MAX, "does not fit");
    REFUSED((img.ph[1].p_vaddr = img.ph[1].p_paddr = 0x100020), "overlaps");
    REFUSED(img.ph[2].p_type = PT_INTERP, "dynamically linked");
    REFUSED(img.ph[2].p_type = PT_TLS, "thread-local");
    REFUSED((img.ph[0].p_type = PT_NULL, img.ph[1].p_type = PT_NULL), "no loadable");
}

ZT_TEST(refuses_bad_entry)
{
    REFUSED(img.eh.e_entry = 0x101000, "not in an executable segment"); /* data segment */
    REFUSED(img.eh.e_entry = 0x100040, "not in an executable segment"); /* just past text */
    REFUSED(img.eh.e_entry = 0, "not in an executable segment");
}

ZT_TEST(refuses_bad_notes)
{
    REFUSED(img.ph[2].p_type = PT_NULL, "no ZERG ABI note");
    REFUSED(img.note[2] = 1, "no ZERG ABI note");
    REFUSED(memcpy(&img.note[3], "ZERF", 4), "no ZERG ABI note");
    REFUSED(img.note[1] = 8, "runs past");
    REFUSED(img.note[0] = 0xfffffff0u, "runs past");
    REFUSED(img.note[1] = 0xfffffffdu, "runs past");
    REFUSED(img.ph[2].p_filesz = 1u << 30, "outside the file");
    REFUSED((img.note[1] = 0, img.ph[2].p_filesz = 20), "not 4");
}

ZT_TEST(refuses_other_abi_version)
{
    build();
    img.note[5] = ZG_ABI_VERSION + 1;
    ZT_EQ(check(), -EPROTO);
    char want[64];
    snprintf(want, sizeof(want), "speaks zerg ABI version %u", ZG_ABI_VERSION + 1);
    ZT_TRUE(strstr(err, want) != NULL);
}

ZT_TEST(truncation_at_every_length_is_refused)
{
    build();
    for (size_t n = 0; n < sizeof(img); n++) {
        int rc = zg_elf_check(&img, n, MEM, &info, err, sizeof(err));
        if (rc == 0)
            ZT_FAILF("image truncated to %zu bytes was accepted", n);
    }
}

ZT_TEST(refuses_oversized_file)
{
    build();
    ZT_EQ(zg_elf_check(&img, (size_t)ZG_ELF_MAX_SIZE + 1, MEM, &info, err, sizeof(err)), -ENOEXEC);
}

int main(void)
{
    mem = malloc(MEM);
    ZT_RUN(accepts_valid_image);
    ZT_RUN(load_copies_and_zeroes_bss);
    ZT_RUN(refuses_bad_headers);
    ZT_RUN(refuses_bad_segments);
    ZT_RUN(refuses_bad_entry);
    ZT_RUN(refuses_bad_notes);
    ZT_RUN(refuses_other_abi_version);
    ZT_RUN(truncation_at_every_length_is_refused);
    ZT_RUN(refuses_oversized_file);
    free(mem);
    ZT_MAIN_END;
}
