/* zg_elf: checks and loads a guest ELF image (untrusted input).
 *
 * A guest is a static x86-64 ELF executable (ET_EXEC) whose PT_LOAD segments
 * lie in [ZG_GUEST_LOAD_MIN, limit) and carry one "ZERG" ABI note (abi.h).
 * Every field that comes from the file is checked before it is used: header
 * sizes, counts, offsets and lengths (with overflow-safe arithmetic), segment
 * overlap, the entry point, the note. Nothing is written to guest memory
 * unless the whole image passed.
 */
#ifndef ZG_ELF_H
#define ZG_ELF_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#define ZG_ELF_MAX_PHDRS 64
#define ZG_ELF_MAX_SIZE  (256u << 20) /* bytes of ELF file the loader accepts */

struct zg_elf_info {
    uint64_t entry;
    uint64_t lo, hi;      /* [lo, hi): the union of all PT_LOAD segments */
    uint32_t abi_version; /* from the ZERG note */
    uint32_t nsegments;   /* PT_LOAD segments */
};

/* Checks image[0..size) as a guest for memory whose usable top is `limit`
 * (segments must end at or below it). On success fills *info and returns 0.
 * On failure returns -ENOEXEC (not a loadable guest) or -EPROTO (it speaks
 * another ABI version) with a one-line reason in err. */
int zg_elf_check(const void *image, size_t size, uint64_t limit, struct zg_elf_info *info,
                 char *err, size_t errlen);

/* zg_elf_check, then copies every PT_LOAD segment into mem (the guest's
 * physical memory, mem_size bytes) and zeroes each segment's bss part. */
int zg_elf_load(const void *image, size_t size, uint8_t *mem, uint64_t mem_size, uint64_t limit,
                struct zg_elf_info *info, char *err, size_t errlen);

/* Copies every PT_LOAD segment of an image whose headers and segment bounds
 * a checker already proved (zg_elf_check, or the Linux personality's) into
 * mem at p_vaddr + bias, and zeroes each segment's bss part. */
void zg_elf_copy_segments(const void *image, uint8_t *mem, uint64_t bias);

/* The number of program headers of image[0..size) if it is an x86-64 ELF64
 * file whose headers (at most ZG_ELF_MAX_PHDRS) lie in it, else -ENOEXEC;
 * zg_elf_phdr copies header i (below that number) into *ph. Nothing past
 * the headers is looked at. */
int zg_elf_phnum(const void *image, size_t size);
void zg_elf_phdr(const void *image, unsigned i, Elf64_Phdr *ph);

/* 1 if image is an x86-64 ELF64 file with a ZERG ABI note (a zerg guest,
 * whatever its version), 0 if it is one without (a Linux program, for the
 * "linux" personality), -ENOEXEC if it is not an x86-64 ELF64 file. Only
 * the headers and notes are read; zg_elf_check judges the rest. */
int zg_elf_has_zerg_note(const void *image, size_t size);

#endif /* ZG_ELF_H */
