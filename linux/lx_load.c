/* Linux personality: loads a static x86-64 Linux program, builds its address
 * space (page tables, stack with argv/envp/auxv) and its entry state. */
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "linux/lx_int.h"
#include "monitor/zg_elf.h"

#define PTE_P  0x1ull
#define PTE_W  0x2ull
#define PTE_U  0x4ull
#define PTE_PS 0x80ull
#define MIB2   (2ull << 20)

#define LX_TABLES_GPA 0x20000u /* page tables: [0x20000, 0x40000) */
#define LX_TABLES_END 0x40000u

/* The guest-side runtime's image (linux/rt_image.S), linked at ZG_LINUX_RT_GPA. */
extern const uint8_t zg_linux_rt_image[], zg_linux_rt_image_end[];

static void copy_runtime(uint8_t *mem)
{
    size_t n = (size_t)(zg_linux_rt_image_end - zg_linux_rt_image);
    _Static_assert(ZG_LINUX_RT_GPA + ZG_LINUX_RT_CODE_SIZE <= ZG_LINUX_FRAME_GPA, "runtime code");
    memcpy(mem + ZG_LINUX_RT_GPA, zg_linux_rt_image,
           n < ZG_LINUX_RT_CODE_SIZE ? n : ZG_LINUX_RT_CODE_SIZE); /* rt.ld asserts it fits */
}

/* ---- Page tables ------------------------------------------------------------ */
struct pt_builder {
    uint8_t *mem;
    uint64_t next; /* next free table page */
};

static uint64_t *table_at(struct pt_builder *b, uint64_t gpa)
{
    return (uint64_t *)(b->mem + gpa);
}

/* The table an entry points to, made if missing; 0 when out of table pages. */
static uint64_t next_level(struct pt_builder *b, uint64_t table, unsigned idx)
{
    uint64_t *e = table_at(b, table) + idx;
    if (*e & PTE_P)
        return *e & 0x000ffffffffff000ull;
    if (b->next >= LX_TABLES_END)
        return 0;
    uint64_t t = b->next;
    b->next += ZG_PAGE_SIZE;
    memset(b->mem + t, 0, ZG_PAGE_SIZE);
    *e = t | PTE_P | PTE_W | PTE_U; /* the leaf decides */
    return t;
}

/* Maps [va, va+len) to [gpa, gpa+len) with `flags`, 2 MiB pages where both
 * sides are aligned. 0 or -ENOSPC (table pages exhausted). */
static int map_range(struct pt_builder *b, uint64_t pml4, uint64_t va, uint64_t gpa, uint64_t len,
                     uint64_t flags)
{
    while (len) {
        uint64_t pdpt = next_level(b, pml4, (unsigned)((va >> 39) & 511));
        uint64_t pd = pdpt ? next_level(b, pdpt, (unsigned)((va >> 30) & 511)) : 0;
        if (!pd)
            return -ENOSPC;
        if (!(va % MIB2) && !(gpa % MIB2) && len >= MIB2) {
            table_at(b, pd)[(va >> 21) & 511] = gpa | flags | PTE_P | PTE_PS;
            va += MIB2, gpa += MIB2, len -= MIB2;
            continue;
        }
        uint64_t pt = next_level(b, pd, (unsigned)((va >> 21) & 511));
        if (!pt)
            return -ENOSPC;
        table_at(b, pt)[(va >> 12) & 511] = gpa | flags | PTE_P;
        va += ZG_PAGE_SIZE, gpa += ZG_PAGE_SIZE, len -= ZG_PAGE_SIZE;
    }
    return 0;
}

/* ---- The program ---------------------------------------------------------- */
struct lx_image {
    uint64_t base; /* load bias (PIE, the interpreter) */
    uint64_t entry, phdr, phnum;
    uint64_t lo, hi;
    uint64_t interp_off, interp_len;  /* PT_INTERP: the interpreter's path in the file */
    uint64_t at_base;                 /* AT_BASE: the interpreter's load bias, or 0 */
    uint64_t interp_hi, interp_entry; /* the interpreter's end and entry point */
    struct lx_range x[8];             /* its executable segments (the first 8) */
    unsigned nx;
};

__attribute__((format(printf, 2, 3))) static int refuse(struct zg_instance *in, const char *fmt,
                                                        ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    zg_inst_fail(in, "Linux program refused: %s", msg);
    return -ENOEXEC;
}

static int in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* Checks the program's headers and segments against a top of `limit`
 * (virtual == physical there), an ET_DYN one loaded at `dyn_base`; fills
 * *im. */
static int check_image(struct zg_instance *in, const uint8_t *img, size_t size, uint64_t limit,
                       uint64_t dyn_base, struct lx_image *im)
{
    Elf64_Ehdr eh;
    if (size < sizeof(eh))
        return refuse(in, "file too short for an ELF header (%zu bytes)", size);
    memcpy(&eh, img, sizeof(eh));
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
        return refuse(in, "not a little-endian x86-64 ELF64 file");
    if (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)
        return refuse(in, "ELF type %u is not an executable", eh.e_type);
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > 64 ||
        !in_bounds(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), size))
        return refuse(in, "bad program headers");
    memset(im, 0, sizeof(*im));
    im->base = eh.e_type == ET_DYN ? dyn_base : 0;
    im->lo = UINT64_MAX;
    im->phnum = eh.e_phnum;
    int entry_ok = 0, loads = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type == PT_INTERP) {
            if (!in_bounds(ph.p_offset, ph.p_filesz, size) || ph.p_filesz < 2 ||
                ph.p_filesz > 4096 || img[ph.p_offset + ph.p_filesz - 1] != '\0')
                return refuse(in, "bad PT_INTERP");
            im->interp_off = ph.p_offset;
            im->interp_len = ph.p_filesz - 1;
            continue;
        }
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        if (!in_bounds(ph.p_offset, ph.p_filesz, size) || ph.p_filesz > ph.p_memsz)
            return refuse(in, "segment %u: file data outside the file", i);
        uint64_t va = ph.p_vaddr + im->base;
        if (va < ph.p_vaddr || va < ZG_LINUX_RT_END || !in_bounds(va, ph.p_memsz, limit))
            return refuse(in,
                          "segment %u [0x%llx, +0x%llx) is outside [0x%x, 0x%llx), where this "
                          "guest's memory puts programs (more --mem?)",
                          i, (unsigned long long)va, (unsigned long long)ph.p_memsz,
                          ZG_LINUX_RT_END, (unsigned long long)limit);
        if (va < im->lo)
            im->lo = va;
        if (va + ph.p_memsz > im->hi)
            im->hi = va + ph.p_memsz;
        if (eh.e_entry >= ph.p_vaddr && eh.e_entry - ph.p_vaddr < ph.p_memsz && (ph.p_flags & PF_X))
            entry_ok = 1;
        if ((ph.p_flags & PF_X) && im->nx < sizeof(im->x) / sizeof(im->x[0]))
            im->x[im->nx++] = (struct lx_range){va, ph.p_memsz};
        /* AT_PHDR: where the program headers are in memory. */
        if (ph.p_offset <= eh.e_phoff && eh.e_phoff - ph.p_offset < ph.p_filesz)
            im->phdr = va + (eh.e_phoff - ph.p_offset);
        loads++;
    }
    if (!loads)
        return refuse(in, "no loadable segments");
    if (!entry_ok)
        return refuse(in, "entry point 0x%llx is not in an executable segment",
                      (unsigned long long)eh.e_entry);
    im->entry = eh.e_entry + im->base;
    return 0;
}

/* Does the image name an interpreter (a dynamic program)? A malformed one
 * says no here: check_image refuses it with the reason. */
static int has_interp(const uint8_t *img, size_t size)
{
    int phnum = zg_elf_phnum(img, size);
    for (int i = 0; i < phnum; i++) {
        Elf64_Phdr ph;
        zg_elf_phdr(img, (unsigned)i, &ph);
        if (ph.p_type == PT_INTERP)
            return 1;
    }
    return 0;
}

/* Loads the interpreter a dynamic program names (PT_INTERP: Debian's
 * /lib64/ld-linux-x86-64.so.2), read from the host like the program itself,
 * after the program on the next 2 MiB boundary; fills AT_BASE and the
 * interpreter's end and entry in *im. */
static int load_interp(struct zg_instance *in, const char *path, uint64_t limit,
                       struct lx_image *im)
{
    void *buf = NULL;
    size_t len = 0;
    int rc = zg_file_read(path, 64u << 20, &buf, &len);
    if (rc < 0) {
        zg_inst_fail(in, "Linux program refused: its interpreter %s: %s", path, strerror(-rc));
        return -ENOEXEC;
    }
    struct lx_image ii;
    uint64_t base = (im->hi + MIB2 - 1) & ~(MIB2 - 1);
    rc = check_image(in, buf, len, limit, base, &ii);
    if (rc == 0 && ii.interp_len)
        rc = refuse(in, "its interpreter %s names an interpreter itself", path);
    else if (rc == 0 && !ii.base)
        rc = refuse(in, "its interpreter %s is not position-independent (ET_DYN)", path);
    if (rc == 0) {
        zg_elf_copy_segments(buf, in->mem, ii.base); /* bounds proven by check_image */
        for (unsigned i = 0; i < ii.nx; i++)
            lx_exec_add(lx_of(in), ii.x[i].va, ii.x[i].len);
        im->at_base = ii.base;
        im->interp_hi = ii.hi;
        im->interp_entry = ii.entry;
    }
    free(buf);
    return rc;
}

/* ---- The initial stack: argc, argv, envp, auxv, as Linux lays it out ------- */
struct stk {
    uint8_t *base;  /* host pointer of the stack region's start */
    uint64_t va_lo; /* its virtual start */
    uint64_t sp;    /* virtual, grows down */
    int full;
};

static uint64_t push_bytes(struct stk *s, const void *p, size_t n)
{
    if (s->sp - s->va_lo < n + 4096) {
        s->full = 1;
        return 0;
    }
    s->sp -= n;
    memcpy(s->base + (s->sp - s->va_lo), p, n);
    return s->sp;
}

static void put_word(struct stk *s, uint64_t va, uint64_t v)
{
    memcpy(s->base + (va - s->va_lo), &v, 8);
}

#define LX_MAX_ARGS 256
#define LX_MAX_ENV  64

static const char *const default_env[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "HOME=/",
    "LANG=C.UTF-8",
    "TERM=dumb",
};

/* Splits a command line into words as a shell would: blanks separate words,
 * '...' quotes anything, "..." quotes anything but \" and \\, a backslash
 * quotes the next character. The words are written into buf. Their number,
 * or -E2BIG (too many, too long), -EINVAL (an unclosed quote). */
static int split_words(const char *s, char *buf, size_t len, const char **words, int max)
{
    size_t o = 0;
    int n = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        if (!*s)
            break;
        if (n == max)
            return -E2BIG;
        words[n++] = buf + o;
        char q = 0;
        for (; *s && (q || (*s != ' ' && *s != '\t' && *s != '\n')); s++) {
            char ch = *s;
            if (!q && (ch == '\'' || ch == '"')) {
                q = ch;
                continue;
            }
            if (q && ch == q) {
                q = 0;
                continue;
            }
            if (ch == '\\' && q != '\'' && s[1] && (!q || s[1] == '"' || s[1] == '\\'))
                ch = *++s;
            if (o + 1 >= len)
                return -E2BIG;
            buf[o++] = ch;
        }
        if (q)
            return -EINVAL;
        if (o >= len)
            return -E2BIG;
        buf[o++] = '\0';
    }
    return n;
}

static int build_stack(struct zg_instance *in, struct lx_state *lx, const struct lx_image *im,
                       uint64_t *rsp)
{
    struct stk s = {.base = in->mem + lx->l.stack_gpa,
                    .va_lo = ZG_LINUX_STACK_VA_END - ZG_LINUX_STACK_SIZE,
                    .sp = ZG_LINUX_STACK_TOP};
    /* argv[0] is the program's name, then the command line's words. */
    char cmd[ZG_CMDLINE_MAX];
    const char *argv[LX_MAX_ARGS];
    int argc = 0;
    argv[argc++] = lx->argv0;
    int n = split_words(in->cfg.cmdline ? in->cfg.cmdline : "", cmd, sizeof(cmd), argv + 1,
                        LX_MAX_ARGS - 1);
    if (n < 0)
        return n;
    argc += n;
    /* The environment: the defaults, then --env K=V (a K given replaces its default). */
    const char *env[LX_MAX_ENV];
    size_t nenv = 0;
    char extra[ZG_CMDLINE_MAX];
    snprintf(extra, sizeof(extra), "%s", in->cfg.linux_env ? in->cfg.linux_env : "");
    for (size_t i = 0; i < sizeof(default_env) / sizeof(default_env[0]); i++)
        env[nenv++] = default_env[i];
    for (char *save = NULL, *kv = strtok_r(extra, "\n", &save); kv;
         kv = strtok_r(NULL, "\n", &save)) {
        const char *eq = strchr(kv, '=');
        if (!eq || eq == kv)
            return -EINVAL;
        size_t kl = (size_t)(eq - kv) + 1, i;
        for (i = 0; i < nenv && strncmp(env[i], kv, kl) != 0; i++)
            ;
        if (i == nenv && nenv == LX_MAX_ENV)
            return -E2BIG;
        env[i] = kv;
        if (i == nenv)
            nenv++;
    }
    uint64_t argv_va[LX_MAX_ARGS], env_va[LX_MAX_ENV];

    uint64_t execfn = push_bytes(&s, lx->exe, strlen(lx->exe) + 1);
    for (size_t i = 0; i < nenv; i++)
        env_va[i] = push_bytes(&s, env[i], strlen(env[i]) + 1);
    for (int i = argc - 1; i >= 0; i--)
        argv_va[i] = push_bytes(&s, argv[i], strlen(argv[i]) + 1);
    uint64_t platform = push_bytes(&s, "x86_64", 7);
    uint8_t rnd[16];
    if (zg_fill_random(rnd, sizeof(rnd)) < 0)
        return -EIO;
    uint64_t random = push_bytes(&s, rnd, sizeof(rnd));

    uint64_t auxv[][2] = {
        {AT_PHDR, im->phdr},
        {AT_PHENT, sizeof(Elf64_Phdr)},
        {AT_PHNUM, im->phnum},
        {AT_PAGESZ, ZG_PAGE_SIZE},
        {AT_BASE, im->at_base},
        {AT_FLAGS, 0},
        {AT_ENTRY, im->entry},
        {AT_UID, getuid()},
        {AT_EUID, getuid()},
        {AT_GID, getgid()},
        {AT_EGID, getgid()},
        {AT_SECURE, 0},
        {AT_RANDOM, random},
        {AT_HWCAP, getauxval(AT_HWCAP)},
        {AT_HWCAP2, getauxval(AT_HWCAP2) & ~2ull}, /* no FSGSBASE: CR4.FSGSBASE is off */
        {AT_MINSIGSTKSZ, getauxval(AT_MINSIGSTKSZ)},
        {AT_CLKTCK, (uint64_t)sysconf(_SC_CLK_TCK)},
        {AT_PLATFORM, platform},
        {AT_EXECFN, execfn},
        {AT_NULL, 0},
    };
    size_t naux = sizeof(auxv) / sizeof(auxv[0]);
    size_t words = 1 + (size_t)argc + 1 + nenv + 1 + naux * 2;
    s.sp = (s.sp - words * 8) & ~15ull;
    if (s.full || s.sp - s.va_lo < 4096)
        return -E2BIG;
    uint64_t p = s.sp;
    put_word(&s, p, (uint64_t)argc), p += 8;
    for (int i = 0; i < argc; i++)
        put_word(&s, p, argv_va[i]), p += 8;
    put_word(&s, p, 0), p += 8;
    for (size_t i = 0; i < nenv; i++)
        put_word(&s, p, env_va[i]), p += 8;
    put_word(&s, p, 0), p += 8;
    for (size_t i = 0; i < naux; i++)
        put_word(&s, p, auxv[i][0]), put_word(&s, p + 8, auxv[i][1]), p += 16;
    *rsp = s.sp;
    return 0;
}

/* ---- Which entry: does `syscall` stay at CPL3 on this host? ---------------- */
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_cpl = -1; /* the CPL `syscall` lands at; -1 unknown */

static void probe(void)
{
    const struct zg_hv_ops *hv = zg_hv_lookup("kvm");
    struct zg_hv_vm *vm = NULL;
    uint64_t size = ZG_MEM_MIN;
    uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!hv || mem == MAP_FAILED || hv->vm_create(&vm) < 0 || hv->mem_map(vm, mem, size, 0) < 0)
        goto out;
    struct zg_vcpu_state st;
    memset(&st, 0, sizeof(st));
    if (hv->vcpu_get_state(vm, &st, ZG_VCPU_SREGS | ZG_VCPU_MSRS) < 0)
        goto out;
    uint64_t apic = st.sregs.apic_base;
    /* A zerg-style layout; the probe code at the runtime's place and a
     * `syscall` (0f 05) to run into it. */
    if (zg_layout_build(mem, size, ZG_LINUX_RT_END, ZG_LINUX_RT_END, "", &st) < 0)
        goto out;
    st.sregs.apic_base = apic;
    copy_runtime(mem);
    mem[ZG_LINUX_RT_END] = 0x0f, mem[ZG_LINUX_RT_END + 1] = 0x05;
    st.sregs.efer |= 1; /* SCE */
    st.msrs[ZG_MSR_LSTAR] = ZG_LINUX_ENTRY_PROBE;
    st.msrs[ZG_MSR_STAR] = (0x10ull << 48) | (0x08ull << 32);
    st.msrs[ZG_MSR_SFMASK] = 0;
    if (hv->vcpu_set_state(vm, &st, ZG_VCPU_REGS | ZG_VCPU_SREGS | ZG_VCPU_MSRS) < 0)
        goto out;
    struct zg_hv_exit ex;
    if (hv->run(vm, &ex) == 0 && ex.reason == ZG_EXIT_IO && ex.port == ZG_LINUX_PORT)
        probe_cpl = (int)(ex.value & 3);
out:
    if (vm)
        hv->vm_destroy(vm);
    if (mem != MAP_FAILED)
        munmap(mem, size);
}

/* ---- The address space of mem_size bytes (linux_abi.h) -------------------- */
/* fv_size bytes of file view go below the stack (2 MiB-aligned). */
int lx_plan_layout(uint64_t mem_size, uint64_t fv_size, struct lx_layout *l)
{
    uint64_t fv = (fv_size + MIB2 - 1) & ~(MIB2 - 1);
    l->stack_gpa = mem_size - ZG_LINUX_STACK_SIZE;
    if (fv + 16 * MIB2 > l->stack_gpa)
        return -ENOSPC;
    l->fv_gpa = l->stack_gpa - fv;
    l->fv_size = fv_size;
    l->ident_end = ((l->fv_gpa / 2) + MIB2 - 1) & ~(MIB2 - 1);
    l->mmap_gpa = l->ident_end;
    l->mmap_size = l->fv_gpa - l->mmap_gpa;
    return 0;
}

/* ---- CPU features ---------------------------------------------------------------- */
void lx_cpu_read(uint32_t cpu[LX_NCPU])
{
    uint32_t a, b, c, d, max, xmax;
    memset(cpu, 0, LX_NCPU * sizeof(cpu[0]));
    __asm__ volatile("cpuid" : "=a"(max), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    cpu[0] = c, cpu[1] = d;
    if (max >= 7) {
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
        cpu[2] = b, cpu[3] = c, cpu[4] = d;
    }
    __asm__ volatile("cpuid" : "=a"(xmax), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000), "c"(0));
    if (xmax >= 0x80000001) {
        __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001), "c"(0));
        cpu[5] = c, cpu[6] = d;
    }
    if (cpu[0] & (1u << 27)) { /* OSXSAVE: XCR0 readable */
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        cpu[7] = lo;
    }
}

int lx_cpu_missing(const uint32_t need[LX_NCPU], const uint32_t have[LX_NCPU], char *why,
                   size_t len)
{
    static const char *const word[LX_NCPU] = {
        "CPUID.1:ECX", "CPUID.1:EDX",         "CPUID.7:EBX",         "CPUID.7:ECX",
        "CPUID.7:EDX", "CPUID.80000001h:ECX", "CPUID.80000001h:EDX", "XCR0"};
    for (int i = 0; i < LX_NCPU; i++) {
        uint32_t lack = need[i] & ~have[i];
        if (lack) {
            snprintf(why, len,
                     "%s bits 0x%08x (the template's program saw 0x%08x, this host "
                     "has 0x%08x)",
                     word[i], lack, need[i], have[i]);
            return 1;
        }
    }
    return 0;
}

/* ---- Template state (the PERSONA record) ------------------------------------- */
int lx_save(struct zg_instance *in, void **buf, size_t *len)
{
    struct lx_state *copy = malloc(sizeof(*copy));
    if (!copy)
        return -ENOMEM;
    memcpy(copy, lx_of(in), sizeof(*copy));
    copy->redo = 0;
    copy->nlearned = 0; /* the template holds its rewritten sites in its memory */
    memset(copy->learned, 0, sizeof(copy->learned));
    copy->backed = copy->unbacked = copy->forgot = 0;
    memcpy(copy->frame_tmpl, copy->frame_used, sizeof(copy->frame_tmpl));
    *buf = copy;
    *len = sizeof(*copy);
    return 0;
}

static pthread_once_t host_cpu_once = PTHREAD_ONCE_INIT;
static uint32_t host_cpu[LX_NCPU];

static void read_host_cpu(void)
{
    lx_cpu_read(host_cpu);
}

static int bad_state(struct zg_instance *in, const char *what)
{
    zg_inst_fail(in, "the template's Linux state is damaged: %s", what);
    return -EBADMSG;
}

static int str_ends(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

int lx_load(struct zg_instance *in, const void *buf, size_t len)
{
    if (len != sizeof(struct lx_state))
        return bad_state(in, "wrong size");
    struct lx_state *s = malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    memcpy(s, buf, sizeof(*s));
    if (s->last_nr < -1 || s->last_nr > LX_NSYSCALL)
        s->last_nr = -1; /* only ever named in a fault's report */
    struct lx_layout want;
    const struct lx_layout *l = &s->l;
    uint64_t area_end = ZG_LINUX_MMAP_VA + lx_area_size(l);
    const char *why = NULL;
    if (in->mem_size < 32ull << 20 || lx_plan_layout(in->mem_size, l->fv_size, &want) < 0 ||
        memcmp(&want.ident_end, &l->ident_end, sizeof(*l) - offsetof(struct lx_layout, ident_end)))
        why = "layout";
    else if (l->image_lo < ZG_LINUX_RT_END || l->image_lo > l->image_hi ||
             l->image_hi > l->ident_end || s->brk_start < l->image_hi || s->brk < s->brk_start ||
             s->brk > l->ident_end || s->brk_hwm < s->brk || s->brk_hwm > l->ident_end)
        why = "heap";
    else if (s->mmap_top < ZG_LINUX_MMAP_VA || s->mmap_top > area_end ||
             s->mmap_hwm < s->mmap_top || s->mmap_hwm > area_end || s->nfree > LX_NRANGES)
        why = "mmap area";
    for (uint32_t i = 0; !why && i < s->nfree; i++) {
        const struct lx_range *r = &s->free[i];
        uint64_t prev_end = i ? s->free[i - 1].va + s->free[i - 1].len : ZG_LINUX_MMAP_VA;
        if (!r->len || (r->va | r->len) % ZG_PAGE_SIZE || r->va < prev_end ||
            r->len > s->mmap_top - r->va || r->va >= s->mmap_top)
            why = "mmap free ranges";
    }
    if (!why)
        why = lx_sparse_check(s);
    if (!why && s->nexec > LX_NEXEC)
        why = "executable ranges";
    for (uint32_t i = 0; !why && i < s->nexec; i++) {
        const struct lx_range *r = &s->exec[i];
        if (r->len < 7 || r->va + r->len < r->va ||
            !((r->va >= l->image_lo && r->va + r->len <= l->image_hi) ||
              (r->va >= ZG_LINUX_MMAP_VA && r->va + r->len <= area_end)))
            why = "executable ranges";
    }
    void *prev = in->pdata; /* lx_view_of reads the layout from the instance's state */
    in->pdata = s;
    struct lxv v = lx_view_of(in);
    in->pdata = prev;
    if (!why && l->fv_size && !lxv_hdr(&v))
        why = "file view";
    if (!why) /* every descriptor and open file, by its kind's check (lx_file.c) */
        (void)lx_files_ok(s, &v, &why);
    if (!why && !lx_threads_ok(s))
        why = "threads";
    if (!why && !lx_events_ok(s))
        why = "pipes and eventfds";
    for (unsigned e = 0; !why && e < LX_NEPOLL; e++)
        for (unsigned i = 0; s->epoll[e].used && i < LX_NEPOLLFD; i++)
            if (s->epoll[e].reg[i].fd < -1 || s->epoll[e].reg[i].fd >= LX_NFD)
                why = "epoll registrations";
    if (!why && (!str_ends(s->exe, sizeof(s->exe)) || !str_ends(s->argv0, sizeof(s->argv0)) ||
                 !str_ends(s->cwd, sizeof(s->cwd)) || s->cwd[0] != '/'))
        why = "program name or directory";
    if (!why && s->rewrite > 1)
        why = "call-site rewriting";
    if (why) {
        free(s);
        return bad_state(in, why);
    }
    char lack[200];
    pthread_once(&host_cpu_once, read_host_cpu); /* CPUID may trap: once per process */
    if (lx_cpu_missing(s->cpu, host_cpu, lack, sizeof(lack))) {
        free(s);
        zg_inst_fail(in,
                     "this host's CPU lacks features the template's program saw at start-up "
                     "(and may use): %s",
                     lack);
        return -ENOTSUP;
    }
    s->redo = 0;
    s->calls = s->trapped = s->fast = s->rewritten = 0; /* counted per run of an instance */
    /* A pooled VM's reset: the call sites it learned are rewritten again
     * (the host's own list, not the template's). */
    const struct lx_state *old = in->pdata;
    s->nlearned = old ? old->nlearned : 0;
    if (old)
        memcpy(s->learned, old->learned, sizeof(s->learned));
    if (old) /* a pooled reset: the VM's own history of frames (lx_sparse.c) */
        lx_sparse_keep_owners(s, old);
    free(in->pdata);
    in->pdata = s;
    lx_patch_again(in, s);
    const struct zg_linux_shared *sh = zg_guest_ptr(in, ZG_LINUX_SHARED_GPA, sizeof(*sh));
    s->served0 = sh ? sh->served : 0;
    s->tsc_bad = 0;   /* this host's, checked again */
    s->rnd_fresh = 0; /* the template's randomness is never handed out */
    return 0;
}

/* ---- Boot ------------------------------------------------------------------ */
int lx_boot(struct zg_instance *in, const void *image, size_t size)
{
    const uint8_t *img = image;
    if (!(in->hv->caps & ZG_HV_CAP_LINUX)) {
        zg_inst_fail(in, "Linux programs run on KVM only so far (not on %s)", in->hv->name);
        return -ENOTSUP;
    }
    pthread_once(&probe_once, probe);
    if (probe_cpl < 0) {
        zg_inst_fail(in, "cannot tell where `syscall` lands on this host (the probe VM failed)");
        return -EIO;
    }
    struct lx_state *lx = calloc(1, sizeof(*lx));
    if (!lx)
        return -ENOMEM;
    lx->last_nr = -1;
    in->pdata = lx;
    const char *a0 = in->cfg.argv0 ? in->cfg.argv0 : "/proc/self/exe";
    char real[4096];
    const char *exe = realpath(a0, real) ? real : a0;
    if (strlen(a0) >= sizeof(lx->argv0) || strlen(exe) >= sizeof(lx->exe)) {
        zg_inst_fail(in, "the program's path is longer than %zu bytes", sizeof(lx->exe) - 1);
        return -ENAMETOOLONG;
    }
    memcpy(lx->argv0, a0, strlen(a0) + 1);
    memcpy(lx->exe, exe, strlen(exe) + 1);

    /* The address space: see linux_abi.h. */
    uint64_t m = in->mem_size;
    if (m < 32ull << 20) {
        zg_inst_fail(in, "Linux programs need --mem of at least 32M");
        return -EINVAL;
    }
    snprintf(lx->cwd, sizeof(lx->cwd), "/");
    lx_cpu_read(lx->cpu);
    void *view = NULL;
    uint64_t view_size = 0;
    /* A dynamic program's libraries join the view, before the --ro trees
     * (the view keeps the last of two items of one path: the user's). */
    char *libs = NULL;
    if (has_interp(img, size)) {
        int lrc = lx_libs(in, img, size, in->cfg.argv0 ? in->cfg.argv0 : "the program",
                          in->cfg.linux_ro, &libs);
        if (lrc < 0)
            return lrc == -ENOENT ? -ENOEXEC : lrc;
    }
    const char *ro = in->cfg.linux_ro ? in->cfg.linux_ro : "";
    if (libs || ro[0]) {
        char *specs = malloc((libs ? strlen(libs) : 0) + strlen(ro) + 1);
        if (!specs) {
            free(libs);
            return -ENOMEM;
        }
        sprintf(specs, "%s%s", libs ? libs : "", ro);
        free(libs);
        int vrc = lx_fv_build(in, specs, &view, &view_size);
        free(specs);
        if (vrc < 0)
            return vrc;
    }
    struct lx_layout *l = &lx->l;
    if (lx_plan_layout(m, view_size, l) < 0) {
        free(view);
        zg_inst_fail(in, "--mem %llu MiB leaves no room for the %llu MiB of --ro files; give more",
                     (unsigned long long)(m >> 20), (unsigned long long)(view_size >> 20));
        return -ENOSPC;
    }
    if (view) {
        memcpy(in->mem + l->fv_gpa, view, view_size);
        free(view);
    }

    struct lx_image im;
    int rc = check_image(in, img, size, l->ident_end, ZG_LINUX_PIE_BASE, &im);
    if (rc < 0)
        return rc;
    zg_elf_copy_segments(img, in->mem, im.base); /* bounds proven by check_image */
    for (unsigned i = 0; i < im.nx; i++)         /* where call sites may be rewritten */
        lx_exec_add(lx, im.x[i].va, im.x[i].len);
    uint64_t image_hi = im.hi, entry = im.entry;
    if (im.interp_len) { /* a dynamic program: its interpreter runs first, as on Linux */
        rc = load_interp(in, (const char *)img + im.interp_off, l->ident_end, &im);
        if (rc < 0)
            return rc;
        image_hi = im.interp_hi;
        entry = im.interp_entry;
    }
    l->image_lo = im.lo;
    l->image_hi = image_hi;
    lx->brk_start = lx->brk = lx->brk_hwm =
        (image_hi + ZG_PAGE_SIZE - 1) & ~(uint64_t)(ZG_PAGE_SIZE - 1);
    lx->mmap_top = lx->mmap_hwm = ZG_LINUX_MMAP_VA;

    /* zerg's entry state (GDT, TSS, segments at CPL3, IOPL 3) ... */
    struct zg_vcpu_state st;
    memset(&st, 0, sizeof(st));
    rc = in->hv->vcpu_get_state(in->vm, &st, ZG_VCPU_SREGS | ZG_VCPU_MSRS);
    if (rc < 0) {
        zg_inst_fail(in, "%s: cannot read the vCPU state: %s", in->hv->name, strerror(-rc));
        return rc;
    }
    uint64_t apic = st.sregs.apic_base;
    rc = zg_layout_build(in->mem, m, ZG_LINUX_RT_END, entry, "", &st);
    if (rc < 0) {
        zg_inst_fail(in, "cannot lay out the guest: %s", strerror(-rc));
        return rc;
    }
    st.sregs.apic_base = apic;
    /* ... with the Linux address space's own tables. */
    struct pt_builder b = {.mem = in->mem, .next = LX_TABLES_GPA};
    uint64_t pml4 = b.next;
    b.next += ZG_PAGE_SIZE;
    memset(in->mem + pml4, 0, ZG_PAGE_SIZE);
    /* The runtime area: its code read-only; with the CPL3 entry the frame,
     * the shared page and the entry's stack are the program's (it shares the
     * runtime's privilege anyway); with the CPL0 entry none of it is the
     * program's, or it could replace the code that runs at CPL0. */
    uint64_t rt_user = probe_cpl == 3 ? PTE_U : 0;
    if (map_range(&b, pml4, ZG_PAGE_SIZE, ZG_PAGE_SIZE, ZG_LINUX_RT_GPA - ZG_PAGE_SIZE, PTE_W) ||
        map_range(&b, pml4, ZG_LINUX_RT_GPA, ZG_LINUX_RT_GPA, ZG_LINUX_RT_CODE_SIZE, rt_user) ||
        map_range(&b, pml4, ZG_LINUX_FRAME_GPA, ZG_LINUX_FRAME_GPA,
                  ZG_LINUX_RT_END - ZG_LINUX_FRAME_GPA, PTE_W | rt_user) ||
        map_range(&b, pml4, ZG_LINUX_RT_END, ZG_LINUX_RT_END, l->ident_end - ZG_LINUX_RT_END,
                  PTE_W | PTE_U) ||
        /* the file view, read-only, for the guest-side runtime (lx_view) */
        map_range(&b, pml4, ZG_LINUX_VIEW_VA, l->fv_gpa, (l->fv_size + MIB2 - 1) & ~(MIB2 - 1),
                  PTE_U) ||
        map_range(&b, pml4, ZG_LINUX_STACK_VA_END - ZG_LINUX_STACK_SIZE, l->stack_gpa,
                  ZG_LINUX_STACK_SIZE, PTE_W | PTE_U)) {
        zg_inst_fail(in, "cannot lay out the guest: out of page-table pages");
        return -ENOSPC;
    }
    /* The mmap area: its directories, every entry absent (lx_sparse.c). */
    if (lx_sparse_link(in->mem, l, next_level(&b, pml4, (ZG_LINUX_MMAP_VA >> 39) & 511),
                       next_level(&b, pml4, ((ZG_LINUX_MMAP_VA >> 39) & 511) + 1)) < 0) {
        zg_inst_fail(in, "cannot lay out the guest: out of page-table pages");
        return -ENOSPC;
    }
    st.sregs.cr3 = pml4;
    copy_runtime(in->mem);
    /* Call sites are rewritten where `syscall` itself is the cost (it traps
     * at CPL3 on PVM); with the CPL0 entry the stubs would not be the
     * program's to run, and `syscall` is cheap there. */
    lx->rewrite = probe_cpl == 3;
    st.sregs.efer |= 1; /* EFER.SCE: `syscall` */
    st.msrs[ZG_MSR_LSTAR] = probe_cpl == 3 ? ZG_LINUX_ENTRY_USER : ZG_LINUX_ENTRY_RING0;
    st.msrs[ZG_MSR_STAR] = (0x10ull << 48) | (0x08ull << 32); /* kernel CS 0x08, user base 0x10 */
    st.msrs[ZG_MSR_SFMASK] = 0; /* the entry keeps IOPL, and restores RFLAGS itself */

    /* Descriptors 0, 1, 2: the request, the response, the console. */
    static const struct zg_linux_file stdio[3] = {
        {.kind = ZG_LINUX_FD_STDIN, .flags = 0 /* O_RDONLY */},
        {.kind = ZG_LINUX_FD_STDOUT, .flags = 1 /* O_WRONLY */},
        {.kind = ZG_LINUX_FD_CONSOLE, .flags = 1},
    };
    for (unsigned i = 0; i < 3; i++)
        (void)lx_fd_install(lx, &stdio[i], 0); /* descriptors 0, 1, 2 of an empty table */
    lx->nthread = 1;                           /* the main thread: id 1 */
    lx->cur = 0;
    lx->thread[0].tid = 1;
    lx->thread[0].state = LX_T_RUN;
    lx->next_tid = 2;

    uint64_t rsp;
    rc = build_stack(in, lx, &im, &rsp);
    if (rc < 0) {
        zg_inst_fail(in, "cannot build the initial stack: %s",
                     rc == -E2BIG    ? "arguments or environment too large"
                     : rc == -EINVAL ? "an --env is not K=V, or a quote is not closed"
                                     : strerror(-rc));
        return rc;
    }
    memset(&st.regs, 0, sizeof(st.regs));
    st.regs.rip = entry;
    st.regs.rsp = rsp;
    st.regs.rflags = 0x3002; /* IOPL 3, reserved bit */
    rc = in->hv->vcpu_set_state(in->vm, &st, ZG_VCPU_REGS | ZG_VCPU_SREGS | ZG_VCPU_MSRS);
    if (rc < 0) {
        zg_inst_fail(in, "%s: cannot set the entry state: %s", in->hv->name, strerror(-rc));
        return rc;
    }
    in->t.loaded = zg_now_ns();
    return 0;
}
