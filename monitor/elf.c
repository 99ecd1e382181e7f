/* zg_elf: validation and loading of guest ELF images. */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <zerg/abi.h>
#include "monitor/zg_elf.h"

__attribute__((format(printf, 3, 4))) static int refuse(char *err, size_t errlen, const char *fmt,
                                                        ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -ENOEXEC;
}

/* [off, off+len) inside [0, size)? Overflow-safe. */
static int in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* Walks the notes in one PT_NOTE segment; counts ZERG ABI notes. */
static int scan_notes(const uint8_t *p, uint64_t len, uint32_t *version, int *found, char *err,
                      size_t errlen)
{
    uint64_t off = 0;
    while (len - off >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, p + off, sizeof(nh));
        off += sizeof(nh);
        uint64_t name_sz = ((uint64_t)nh.n_namesz + 3) & ~3ull;
        uint64_t desc_sz = ((uint64_t)nh.n_descsz + 3) & ~3ull;
        if (!in_bounds(off, name_sz, len) || !in_bounds(off + name_sz, desc_sz, len))
            return refuse(err, errlen, "ELF note runs past its PT_NOTE segment");
        const uint8_t *name = p + off;
        const uint8_t *desc = p + off + name_sz;
        if (nh.n_namesz == sizeof(ZG_NOTE_NAME) &&
            memcmp(name, ZG_NOTE_NAME, sizeof(ZG_NOTE_NAME)) == 0 && nh.n_type == ZG_NOTE_ABI) {
            if (nh.n_descsz != 4)
                return refuse(err, errlen, "ZERG ABI note has %u bytes of data, not 4",
                              nh.n_descsz);
            uint32_t v;
            memcpy(&v, desc, 4);
            if (*found && v != *version)
                return refuse(err, errlen, "two ZERG ABI notes disagree (v%u and v%u)", *version,
                              v);
            *version = v;
            *found = 1;
        }
        off += name_sz + desc_sz;
    }
    return 0;
}

int zg_elf_check(const void *image, size_t size, uint64_t limit, struct zg_elf_info *info,
                 char *err, size_t errlen)
{
    const uint8_t *img = image;
    Elf64_Ehdr eh;
    if (size > ZG_ELF_MAX_SIZE)
        return refuse(err, errlen, "ELF image of %zu bytes is larger than the %u-byte limit", size,
                      ZG_ELF_MAX_SIZE);
    if (size < sizeof(eh))
        return refuse(err, errlen, "file too short for an ELF header (%zu bytes)", size);
    memcpy(&eh, img, sizeof(eh));
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        return refuse(err, errlen, "not an ELF file (bad magic)");
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
        return refuse(err, errlen, "not a little-endian ELF64 version 1 file");
    if (eh.e_machine != EM_X86_64)
        return refuse(err, errlen, "ELF machine %u is not x86-64", eh.e_machine);
    if (eh.e_type != ET_EXEC)
        return refuse(err, errlen, "ELF type %u is not a static executable (ET_EXEC)", eh.e_type);
    if (eh.e_phentsize != sizeof(Elf64_Phdr))
        return refuse(err, errlen, "program header entry size %u, expected %zu", eh.e_phentsize,
                      sizeof(Elf64_Phdr));
    if (eh.e_phnum == 0 || eh.e_phnum > ZG_ELF_MAX_PHDRS)
        return refuse(err, errlen, "%u program headers (need 1..%d)", eh.e_phnum, ZG_ELF_MAX_PHDRS);
    if (!in_bounds(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), size))
        return refuse(err, errlen, "program headers lie outside the file");

    struct zg_elf_info in = {.entry = eh.e_entry, .lo = UINT64_MAX, .hi = 0};
    Elf64_Phdr loads[ZG_ELF_MAX_PHDRS];
    int found = 0, entry_ok = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        switch (ph.p_type) {
        case PT_LOAD:
            if (ph.p_memsz == 0)
                break;
            if (!in_bounds(ph.p_offset, ph.p_filesz, size))
                return refuse(err, errlen, "segment %u: file data outside the file", i);
            if (ph.p_filesz > ph.p_memsz)
                return refuse(err, errlen, "segment %u: file size exceeds memory size", i);
            if (ph.p_vaddr != ph.p_paddr)
                return refuse(err, errlen, "segment %u: virtual and physical addresses differ", i);
            if (ph.p_vaddr < ZG_GUEST_LOAD_MIN)
                return refuse(err, errlen, "segment %u at 0x%llx is below 0x%x", i,
                              (unsigned long long)ph.p_vaddr, ZG_GUEST_LOAD_MIN);
            if (!in_bounds(ph.p_vaddr, ph.p_memsz, limit))
                return refuse(err, errlen,
                              "segment %u [0x%llx, +0x%llx) does not fit in guest memory "
                              "(usable up to 0x%llx)",
                              i, (unsigned long long)ph.p_vaddr, (unsigned long long)ph.p_memsz,
                              (unsigned long long)limit);
            for (unsigned j = 0; j < in.nsegments; j++)
                if (ph.p_vaddr < loads[j].p_vaddr + loads[j].p_memsz &&
                    loads[j].p_vaddr < ph.p_vaddr + ph.p_memsz)
                    return refuse(err, errlen, "segment %u overlaps another segment", i);
            loads[in.nsegments++] = ph;
            if (ph.p_vaddr < in.lo)
                in.lo = ph.p_vaddr;
            if (ph.p_vaddr + ph.p_memsz > in.hi)
                in.hi = ph.p_vaddr + ph.p_memsz;
            if ((ph.p_flags & PF_X) && eh.e_entry >= ph.p_vaddr &&
                eh.e_entry < ph.p_vaddr + ph.p_memsz)
                entry_ok = 1;
            break;
        case PT_NOTE: {
            if (!in_bounds(ph.p_offset, ph.p_filesz, size))
                return refuse(err, errlen, "note segment %u lies outside the file", i);
            int rc =
                scan_notes(img + ph.p_offset, ph.p_filesz, &in.abi_version, &found, err, errlen);
            if (rc < 0)
                return rc;
            break;
        }
        case PT_INTERP:
        case PT_DYNAMIC:
            return refuse(err, errlen, "dynamically linked (has PT_INTERP/PT_DYNAMIC)");
        case PT_TLS:
            return refuse(err, errlen, "thread-local storage (PT_TLS) is not supported");
        default:
            break; /* PT_GNU_STACK, PT_GNU_PROPERTY, ...: nothing to do */
        }
    }
    if (in.nsegments == 0)
        return refuse(err, errlen, "no loadable segments");
    if (!entry_ok)
        return refuse(err, errlen, "entry point 0x%llx is not in an executable segment",
                      (unsigned long long)eh.e_entry);
    if (!found)
        return refuse(err, errlen, "not a zerg guest: no ZERG ABI note");
    if (in.abi_version < ZG_ABI_VERSION_MIN || in.abi_version > ZG_ABI_VERSION) {
        refuse(err, errlen,
               "guest speaks zerg ABI version %u, this monitor speaks versions %u to %u",
               in.abi_version, ZG_ABI_VERSION_MIN, ZG_ABI_VERSION);
        return -EPROTO;
    }
    *info = in;
    return 0;
}

int zg_elf_load(const void *image, size_t size, uint8_t *mem, uint64_t mem_size, uint64_t limit,
                struct zg_elf_info *info, char *err, size_t errlen)
{
    if (limit > mem_size)
        limit = mem_size;
    int rc = zg_elf_check(image, size, limit, info, err, errlen);
    if (rc < 0)
        return rc;
    zg_elf_copy_segments(image, mem, 0); /* bounds proven by zg_elf_check */
    return 0;
}

void zg_elf_copy_segments(const void *image, uint8_t *mem, uint64_t bias)
{
    const uint8_t *img = image;
    Elf64_Ehdr eh;
    memcpy(&eh, img, sizeof(eh));
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        memcpy(mem + ph.p_vaddr + bias, img + ph.p_offset, ph.p_filesz);
        memset(mem + ph.p_vaddr + bias + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
    }
}

int zg_elf_phnum(const void *image, size_t size)
{
    Elf64_Ehdr eh;
    if (size < sizeof(eh))
        return -ENOEXEC;
    memcpy(&eh, image, sizeof(eh));
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
        eh.e_phnum > ZG_ELF_MAX_PHDRS ||
        !in_bounds(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), size))
        return -ENOEXEC;
    return eh.e_phnum;
}

void zg_elf_phdr(const void *image, unsigned i, Elf64_Phdr *ph)
{
    Elf64_Ehdr eh;
    memcpy(&eh, image, sizeof(eh));
    memcpy(ph, (const uint8_t *)image + eh.e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

int zg_elf_has_zerg_note(const void *image, size_t size)
{
    const uint8_t *img = image;
    int phnum = size > ZG_ELF_MAX_SIZE ? -ENOEXEC : zg_elf_phnum(image, size);
    if (phnum < 0)
        return -ENOEXEC;
    for (unsigned i = 0; i < (unsigned)phnum; i++) {
        Elf64_Phdr ph;
        zg_elf_phdr(image, i, &ph);
        if (ph.p_type != PT_NOTE || !in_bounds(ph.p_offset, ph.p_filesz, size))
            continue;
        uint32_t v = 0;
        int found = 0;
        if (scan_notes(img + ph.p_offset, ph.p_filesz, &v, &found, NULL, 0) == 0 && found)
            return 1;
    }
    return 0;
}
