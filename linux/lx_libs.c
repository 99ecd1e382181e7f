/* Linux personality: the shared libraries a dynamic program needs, found on
 * the host the way Debian's ld.so finds them without its cache, and carried
 * in the program's file view (docs/abi.md, "Linux programs"): the program's
 * DT_NEEDED libraries and theirs, recursively, and those of every shared
 * object in the --ro trees (Python's extension modules need libcrypto, libz,
 * libffi...). Each library goes into the view at the path ld.so will try
 * first (/lib/x86_64-linux-gnu/NAME), with the bytes of the file that path
 * names on the host. A library the program itself needs and the host does
 * not have is an error naming it, at boot or template creation; one that
 * only a shared object of a carried tree needs is logged and left out (that
 * object fails to load if the program ever loads it, as it would on a host
 * without the library).
 *
 * A dynamic program also gets the /etc files a C library reads at start-up
 * (etc_files: ld.so's cache, the time zone, the user and group databases and
 * how to look them up), the host's, when the host has them; an --ro item of
 * the same path wins. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux/lx_int.h"
#include "monitor/zg_elf.h"

#define MAX_LIBS  512
#define MAX_SCAN  4096 /* shared objects looked at in the carried trees */
#define MAX_BYTES (256u << 20)

static const char *const etc_files[] = {"/etc/ld.so.cache", "/etc/localtime", "/etc/passwd",
                                        "/etc/group", "/etc/nsswitch.conf"};
#define MAX_ETC_BYTES (4u << 20)

static const char *const lib_dirs[] = {"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib",
                                       "/usr/lib"};

struct libs {
    struct zg_instance *in;
    char *names[MAX_LIBS]; /* libraries found or looked for */
    int n;
    char *specs; /* "HOST=GUEST\n" lines */
    size_t len, cap;
    int scanned;
};

static int has(const struct libs *L, const char *name)
{
    for (int i = 0; i < L->n; i++)
        if (!strcmp(L->names[i], name))
            return 1;
    return 0;
}

static int add_spec(struct libs *L, const char *host, const char *guest)
{
    size_t need = strlen(host) + strlen(guest) + 3;
    if (L->len + need > L->cap) {
        size_t cap = (L->cap + need) * 2;
        char *s = realloc(L->specs, cap);
        if (!s)
            return -ENOMEM;
        L->specs = s;
        L->cap = cap;
    }
    L->len += (size_t)sprintf(L->specs + L->len, "%s=%s\n", host, guest);
    return 0;
}

/* The file offset of virtual address va in an ELF image (phnum headers), or
 * UINT64_MAX. */
static uint64_t file_off(const uint8_t *img, size_t size, int phnum, uint64_t va)
{
    for (int i = 0; i < phnum; i++) {
        Elf64_Phdr ph;
        zg_elf_phdr(img, (unsigned)i, &ph);
        if (ph.p_type == PT_LOAD && va >= ph.p_vaddr && va - ph.p_vaddr < ph.p_filesz &&
            ph.p_offset + (va - ph.p_vaddr) < size)
            return ph.p_offset + (va - ph.p_vaddr);
    }
    return UINT64_MAX;
}

/* Calls fn(L, name, what) for each DT_NEEDED of the ELF image; 0, or fn's
 * error. An image that is not an x86-64 ELF with a dynamic section has no
 * needs. */
static int each_needed(struct libs *L, const uint8_t *img, size_t size, const char *what,
                       int (*fn)(struct libs *, const char *, const char *))
{
    int phnum = zg_elf_phnum(img, size);
    uint64_t dyn_off = 0, dyn_size = 0;
    for (int i = 0; i < phnum; i++) {
        Elf64_Phdr ph;
        zg_elf_phdr(img, (unsigned)i, &ph);
        if (ph.p_type == PT_DYNAMIC && ph.p_offset <= size && ph.p_filesz <= size - ph.p_offset)
            dyn_off = ph.p_offset, dyn_size = ph.p_filesz;
    }
    uint64_t strtab = 0, strsz = 0, n = dyn_size / sizeof(Elf64_Dyn);
    for (uint64_t i = 0; i < n; i++) {
        Elf64_Dyn d;
        memcpy(&d, img + dyn_off + i * sizeof(d), sizeof(d));
        if (d.d_tag == DT_STRTAB)
            strtab = d.d_un.d_ptr;
        else if (d.d_tag == DT_STRSZ)
            strsz = d.d_un.d_val;
    }
    uint64_t str = strtab ? file_off(img, size, phnum, strtab) : UINT64_MAX;
    if (str == UINT64_MAX || strsz > size - str)
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        Elf64_Dyn d;
        memcpy(&d, img + dyn_off + i * sizeof(d), sizeof(d));
        if (d.d_tag != DT_NEEDED || d.d_un.d_val >= strsz)
            continue;
        const char *name = (const char *)img + str + d.d_un.d_val;
        if (!memchr(name, '\0', strsz - d.d_un.d_val))
            continue;
        int rc = fn(L, name, what);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Finds `name` in the library directories: host (its real file) and guest
 * (the path ld.so tries first). 0 or -ENOENT. */
static int find_lib(const char *name, char *host, char *guest, size_t max)
{
    if (strchr(name, '/'))
        return -ENOENT; /* a path in DT_NEEDED: not searched for */
    for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
        if ((size_t)snprintf(guest, max, "%s/%s", lib_dirs[i], name) >= max)
            return -ENAMETOOLONG;
        struct stat st;
        if (stat(guest, &st) == 0 && S_ISREG(st.st_mode) && realpath(guest, host))
            return 0;
    }
    return -ENOENT;
}

static int need(struct libs *L, const char *name, const char *what, int required);

static int need_required(struct libs *L, const char *name, const char *what)
{
    return need(L, name, what, 1);
}

static int need_optional(struct libs *L, const char *name, const char *what)
{
    return need(L, name, what, 0);
}

/* One library: found, carried, and its own needs followed. */
static int need(struct libs *L, const char *name, const char *what, int required)
{
    if (has(L, name))
        return 0;
    if (L->n == MAX_LIBS) {
        zg_inst_fail(L->in, "more than %d shared libraries", MAX_LIBS);
        return -E2BIG;
    }
    if (!(L->names[L->n] = strdup(name)))
        return -ENOMEM;
    L->n++;
    char host[4096], guest[4096];
    if (find_lib(name, host, guest, sizeof(guest)) < 0) {
        if (required) {
            zg_inst_fail(L->in,
                         "%s needs the shared library %s, which is not in /lib/x86_64-linux-gnu, "
                         "/usr/lib/x86_64-linux-gnu, /lib or /usr/lib on this host",
                         what, name);
            return -ENOENT;
        }
        lx_log(L->in, "zerg: linux: %s needs %s, not found on this host: left out", what, name);
        return 0;
    }
    int rc = add_spec(L, host, guest);
    void *buf = NULL;
    size_t len = 0;
    if (rc == 0 && zg_file_read(host, MAX_BYTES, &buf, &len) == 0) {
        rc = each_needed(L, buf, len, name, required ? need_required : need_optional);
        free(buf);
    }
    return rc;
}

/* The shared objects of a carried tree (a directory, or a file). */
static int scan_tree(struct libs *L, const char *path, int depth)
{
    struct stat st;
    if (depth > 32 || lstat(path, &st) < 0 || L->scanned >= MAX_SCAN)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return 0;
        struct dirent *e;
        int rc = 0;
        while (rc == 0 && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[4096];
            if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < sizeof(sub))
                rc = scan_tree(L, sub, depth + 1);
        }
        closedir(d);
        return rc;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!S_ISREG(st.st_mode) || !strstr(base, ".so"))
        return 0;
    L->scanned++;
    void *buf = NULL;
    size_t len = 0;
    if (zg_file_read(path, MAX_BYTES, &buf, &len) < 0)
        return 0;
    int rc = each_needed(L, buf, len, base, need_optional);
    free(buf);
    return rc;
}

int lx_libs(struct zg_instance *in, const void *img, size_t size, const char *prog,
            const char *ro_specs, char **out)
{
    struct libs L = {.in = in};
    *out = NULL;
    int rc = each_needed(&L, img, size, prog, need_required);
    for (const char *s = ro_specs; rc == 0 && s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t l = nl ? (size_t)(nl - s) : strlen(s);
        char spec[4096];
        if (l < sizeof(spec)) {
            memcpy(spec, s, l);
            spec[l] = '\0';
            char *eq = strchr(spec, '=');
            if (eq)
                *eq = '\0';
            if (spec[0])
                rc = scan_tree(&L, spec, 0);
        }
        s = nl ? nl + 1 : s + l;
    }
    /* glibc loads libgcc_s with dlopen to unwind a thread's stack
     * (pthread_exit, pthread_cancel) and aborts when it is missing: a
     * program on glibc gets it too, if the host has it. */
    if (rc == 0 && has(&L, "libc.so.6"))
        rc = need_optional(&L, "libgcc_s.so.1", "glibc (pthread_exit)");
    for (size_t i = 0; rc == 0 && i < sizeof(etc_files) / sizeof(etc_files[0]); i++) {
        char real[4096];
        struct stat st;
        if (realpath(etc_files[i], real) && stat(real, &st) == 0 && S_ISREG(st.st_mode) &&
            st.st_size <= MAX_ETC_BYTES)
            rc = add_spec(&L, real, etc_files[i]);
    }
    for (int i = 0; i < L.n; i++)
        free(L.names[i]);
    if (rc < 0) {
        free(L.specs);
        return rc;
    }
    *out = L.specs; /* NULL: none */
    return 0;
}
