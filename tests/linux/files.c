/* Linux conformance program for files: walks the directory argv[1] (an
 * --ro tree under zerg, the same tree natively) and prints what a program
 * sees of it -- names in sorted order, types, sizes, permissions, mtimes,
 * link targets, contents (hashed), reads at offsets -- then resolves
 * relative paths, "..", links and errors. tests/sys/linux.sh diffs the
 * output of both runs. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static uint32_t fnv(const void *p, size_t n, uint32_t h)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk(const char *dir, const char *rel)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("%s: opendir: %s\n", rel, strerror(errno));
        return;
    }
    char *names[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), cmp);
    for (int i = 0; i < n; i++) {
        char path[4096], r[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        snprintf(r, sizeof(r), "%s/%s", rel, names[i]);
        struct stat st;
        if (lstat(path, &st) < 0) {
            printf("%s: lstat: %s\n", r, strerror(errno));
            continue;
        }
        printf("%s mode %o size %lld mtime %lld", r, (unsigned)st.st_mode, (long long)st.st_size,
               (long long)st.st_mtim.tv_sec);
        if (S_ISLNK(st.st_mode)) {
            char t[4096];
            ssize_t l = readlink(path, t, sizeof(t) - 1);
            t[l > 0 ? l : 0] = 0;
            struct stat ts;
            int ok = stat(path, &ts);
            printf(" -> %s (target %s)\n", t, ok == 0 ? "exists" : strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
            int fd = open(path, O_RDONLY);
            uint32_t h = 2166136261u;
            char buf[3000];
            ssize_t k;
            long total = 0;
            while ((k = read(fd, buf, sizeof(buf))) > 0)
                h = fnv(buf, (size_t)k, h), total += k;
            char mid[16] = {0};
            ssize_t pk = pread(fd, mid, 8, st.st_size / 2);
            off_t end = lseek(fd, 0, SEEK_END);
            struct stat fs;
            fstat(fd, &fs);
            printf(" read %ld fnv %08x pread %zd lseek-end %lld fstat-size %lld\n", total, h, pk,
                   (long long)end, (long long)fs.st_size);
            close(fd);
        } else {
            printf("\n");
            walk(path, r);
        }
        free(names[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *root = argv[1];
    walk(root, ".");
    /* Relative names, "..", the working directory. */
    printf("chdir %d\n", chdir(root));
    char cwd[4096];
    printf("cwd matches %d\n", getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, root));
    struct stat st;
    printf("stat sub/../a.txt %s\n", stat("sub/../a.txt", &st) == 0 ? "ok" : strerror(errno));
    printf("stat ./missing %s\n", stat("./missing", &st) == 0 ? "ok" : strerror(errno));
    printf("stat a.txt/x %s\n", stat("a.txt/x", &st) == 0 ? "ok" : strerror(errno));
    /* A trailing slash or "." or ".." after a file (or a link to one): ENOTDIR;
     * after a directory (or a link to one): the directory. */
    static const char *const slashed[] = {
        "a.txt/", "a.txt/.", "a.txt/..",  "a.txt/../a.txt", "link/",    "link/..",   "sub/",
        "sub/./", "sub/..",  "sub/deep/", "empty//",        "missing/", "missing/.."};
    for (size_t i = 0; i < sizeof(slashed) / sizeof(slashed[0]); i++) {
        int fd = open(slashed[i], O_RDONLY);
        printf("open %s %s", slashed[i], fd >= 0 ? "ok" : strerror(errno));
        printf(" stat %s", stat(slashed[i], &st) == 0 ? "ok" : strerror(errno));
        printf(" lstat %s\n", lstat(slashed[i], &st) == 0 ? "ok" : strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    printf("openat relative to dirfd %s\n",
           openat(dfd, "b.bin", O_RDONLY) >= 0 ? "ok" : strerror(errno));
    printf("fchdir %d\n", fchdir(dfd));
    printf("open ../a.txt %s\n", open("../a.txt", O_RDONLY) >= 0 ? "ok" : strerror(errno));
    printf("open a dir O_DIRECTORY on a file %s\n",
           open("../a.txt", O_RDONLY | O_DIRECTORY) >= 0 ? "ok" : strerror(errno));
    printf("read a dir %s\n", read(dfd, cwd, 10) >= 0 ? "ok" : strerror(errno));
    printf("access x %d\n", access("../run.sh", X_OK));
    /* Mapping a file: its bytes, zeros after its end in its last page (past
     * that page Linux raises SIGBUS, which zerg does not: docs/abi.md); a
     * shared writable mapping of a read-only descriptor and an unaligned
     * offset refused. */
    int mf = open("b.bin", O_RDONLY); /* the working directory is sub/ now */
    const uint8_t *m = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, mf, 4096); /* 10000 bytes */
    if (m == MAP_FAILED) {
        printf("mmap file %s\n", strerror(errno));
    } else {
        uint32_t h = 2166136261u;
        for (int i = 0; i < 8192; i++)
            h = (h ^ m[i]) * 16777619u;
        printf("mmap file fnv %08x tail zero %d\n", h, m[8191] == 0);
    }
    printf("mmap shared writable %s\n",
           mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mf, 0) == MAP_FAILED
               ? strerror(errno)
               : "ok");
    printf("mmap unaligned offset %s\n",
           mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, mf, 100) == MAP_FAILED ? strerror(errno)
                                                                           : "ok");
    /* dup'd descriptors name one open file: they share its position and
     * status flags, not FD_CLOEXEC; it stays open until the last of them is
     * closed. (Under zerg, read and lseek of the view are served in the
     * guest and readv and fcntl by the monitor: both must see one file.) */
    char x[16];
    int a = open("b.bin", O_RDONLY | O_CLOEXEC), b = dup(a);
    ssize_t r1 = read(a, x, 3), r2 = read(b, x, 4);
    long pa = (long)lseek(a, 0, SEEK_CUR), pb = (long)lseek(b, 0, SEEK_CUR);
    printf("dup read %zd %zd pos %ld %ld", r1, r2, pa, pb);
    struct iovec iv = {x, 2};
    r1 = readv(b, &iv, 1);
    printf(" readv %zd pos %ld", r1, (long)lseek(a, 0, SEEK_CUR));
    pb = (long)lseek(b, 100, SEEK_SET);
    printf(" lseek %ld pos %ld", pb, (long)lseek(a, 0, SEEK_CUR));
    printf(" setfl %d", fcntl(a, F_SETFL, O_NONBLOCK));
    printf(" flags shared %d", (fcntl(b, F_GETFL) & O_NONBLOCK) != 0);
    printf(" cloexec %d %d\n", fcntl(a, F_GETFD), fcntl(b, F_GETFD));
    close(a);
    r1 = read(b, x, 1);
    printf("after close read %zd pos %ld", r1, (long)lseek(b, 0, SEEK_CUR));
    int c = dup2(b, 40);
    r1 = pread(c, x, 4, 0);
    printf(" dup2 %d pread %zd pos %ld", c == 40, r1, (long)lseek(b, 0, SEEK_CUR));
    printf(" dup3 self %s\n", dup3(b, b, 0) < 0 ? strerror(errno) : "ok");
    close(b);
    r1 = read(c, x, 2);
    printf("last descriptor read %zd pos %ld\n", r1, (long)lseek(c, 0, SEEK_CUR));
    close(c);
    /* dup2 over an open epoll descriptor closes that epoll instance: more of
     * them, one after another, than could be open at once. */
    int made = 0;
    for (int i = 0; i < 12; i++) {
        int e = epoll_create1(0);
        if (e < 0) {
            printf("epoll_create1 %d: %s\n", i, strerror(errno));
            break;
        }
        made += dup2(mf, e) == e;
        close(e);
    }
    printf("epoll instances closed by dup2 %d\n", made);
    return 0;
}
