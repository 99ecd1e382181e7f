/* Linux test program, for zerg only (natively it faults at once): forged
 * positions and flags in zerg's guest copy of the open-file table
 * (docs/abi.md, "Calls served in the guest"). For each call that uses a
 * descriptor's position or flags it opens a file, a directory or a device
 * (a file of the view is named by argv[1], a directory by argv[2]), moves
 * it the ordinary way, then writes a forged position (past INT64_MAX) or
 * forged flags (bits Linux never sets) into the guest's copy, says the table
 * changed, and asks zerg's monitor for the call directly through a frame it
 * made itself (one raw `out`, as the guest-side entry would): the monitor
 * must have taken back neither, so the call answers as if nothing had been
 * forged. One line per call, "NAME: ok" or "NAME: BAD ...", then "forged
 * positions and flags ignored" if all were ok; exit 0 (1 if one was not).
 * tests/sys/linux.sh runs it under bin/zerg and bin/zerg-asan (a signed
 * overflow there is a failure).
 *     forgepos FILE DIR     (FILE at least 16 bytes, DIR with entries) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zerg/linux_abi.h>

static int bad;

/* A call served by the monitor, through a frame made by hand. */
static int64_t mon(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    struct zg_linux_frame *f = (struct zg_linux_frame *)ZG_LINUX_FRAME_GPA;
    memset(f, 0, sizeof(*f));
    f->nr = nr;
    f->arg[0] = a0, f->arg[1] = a1, f->arg[2] = a2, f->arg[3] = a3;
    __asm__ volatile("outl %0, %w1"
                     :
                     : "a"((uint32_t)ZG_LINUX_CALL_FAST), "Nd"(ZG_LINUX_PORT)
                     : "memory");
    return f->ret;
}

/* What the runtime did in the guest's table so far (opens, reads served
 * there) goes to the monitor at its next call: one it serves. */
static void sync_table(void)
{
    (void)mon(SYS_getppid, 0, 0, 0, 0);
}

/* Writes a forged position and flags into the guest's entry of the open
 * file descriptor fd names. */
static void forge(int fd, uint64_t pos, uint32_t flags)
{
    struct zg_linux_fd *g = (struct zg_linux_fd *)ZG_LINUX_FDS_GPA;
    struct zg_linux_file *files = (struct zg_linux_file *)ZG_LINUX_FILES_GPA;
    struct zg_linux_shared *sh = (struct zg_linux_shared *)ZG_LINUX_SHARED_GPA;
    if (!g[fd].file || g[fd].file > ZG_LINUX_NFILE)
        return;
    struct zg_linux_file *f = &files[g[fd].file - 1];
    if (pos)
        f->pos = pos;
    if (flags)
        f->flags = flags;
    sh->fds_changed = 1;
}

static void check(const char *name, int64_t got, int64_t want)
{
    if (got == want) {
        printf("%s: ok\n", name);
    } else {
        printf("%s: BAD got %lld want %lld\n", name, (long long)got, (long long)want);
        bad++;
    }
}

static const uint64_t wild[] = {0x8000000000000000ull, 0xffffffffffffffffull,
                                0x8000000000000001ull};

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    char buf[64];
    for (unsigned w = 0; w < sizeof(wild) / sizeof(wild[0]); w++) {
        uint64_t p = wild[w];
        char name[64];
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0 || read(fd, buf, 5) != 5)
            return 2;
        sync_table();
        /* lseek from the current position (the overflow), and to it */
        forge(fd, p, 0);
        snprintf(name, sizeof(name), "lseek-cur-minus-1 %d", w);
        check(name, mon(SYS_lseek, (uint64_t)fd, (uint64_t)-1, SEEK_CUR, 0), 4);
        forge(fd, p, 0);
        snprintf(name, sizeof(name), "lseek-cur-plus-1 %d", w);
        check(name, mon(SYS_lseek, (uint64_t)fd, 1, SEEK_CUR, 0), 5);
        /* read and readv at the position (5), then pread (its own offset) */
        forge(fd, p, 0);
        snprintf(name, sizeof(name), "read %d", w);
        check(name, mon(SYS_read, (uint64_t)fd, (uint64_t)(uintptr_t)buf, 4, 0), 4);
        struct iovec iov = {buf, 4};
        forge(fd, p, 0);
        snprintf(name, sizeof(name), "readv %d", w);
        check(name, mon(SYS_readv, (uint64_t)fd, (uint64_t)(uintptr_t)&iov, 1, 0), 4);
        forge(fd, p, 0);
        snprintf(name, sizeof(name), "pread %d", w);
        check(name, mon(SYS_pread64, (uint64_t)fd, (uint64_t)(uintptr_t)buf, 4, 2), 4);
        forge(fd, p, 0);
        snprintf(name, sizeof(name), "lseek-cur-after %d", w);
        check(name, mon(SYS_lseek, (uint64_t)fd, 0, SEEK_CUR, 0), 13);
        /* sendfile from the position to /dev/null */
        int nul = open("/dev/null", O_WRONLY);
        sync_table();
        forge(fd, p, 0);
        snprintf(name, sizeof(name), "sendfile %d", w);
        check(name, mon(SYS_sendfile, (uint64_t)nul, (uint64_t)fd, 0, 2), 2);
        close(nul);
        close(fd);
        /* a directory's position (the next entry to list) */
        int dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
        if (dfd < 0)
            return 2;
        sync_table();
        forge(dfd, p, 0);
        snprintf(name, sizeof(name), "getdents64 %d", w);
        int64_t got = mon(SYS_getdents64, (uint64_t)dfd, (uint64_t)(uintptr_t)buf, sizeof(buf), 0);
        check(name, got > 0, 1);
        forge(dfd, p, 0);
        snprintf(name, sizeof(name), "lseek-dir %d", w);
        check(name, mon(SYS_lseek, (uint64_t)dfd, 0, SEEK_SET, 0), 0);
        close(dfd);
        /* a device's position: always 0 */
        int z = open("/dev/zero", O_RDONLY);
        sync_table();
        forge(z, p, 0);
        snprintf(name, sizeof(name), "lseek-dev %d", w);
        check(name, mon(SYS_lseek, (uint64_t)z, 0, SEEK_CUR, 0), 0);
        close(z);
    }
    /* Flags: bits Linux never sets, an access mode that does not exist, a
     * file of the read-only view claimed writable. */
    static const uint32_t fl[] = {0xffffffffu, O_RDONLY | 0x80000000u, 3, O_RDWR, O_WRONLY};
    for (unsigned w = 0; w < sizeof(fl) / sizeof(fl[0]); w++) {
        char name[64];
        int fd = open(argv[1], O_RDONLY | O_NONBLOCK);
        int64_t want = fcntl(fd, F_GETFL);
        sync_table();
        forge(fd, 0, fl[w]);
        snprintf(name, sizeof(name), "getfl %u", w);
        check(name, mon(SYS_fcntl, (uint64_t)fd, F_GETFL, 0, 0), want);
        forge(fd, 0, fl[w]);
        snprintf(name, sizeof(name), "setfl %u", w);
        check(name, mon(SYS_fcntl, (uint64_t)fd, F_SETFL, O_APPEND, 0), 0);
        snprintf(name, sizeof(name), "getfl-after-setfl %u", w);
        check(name, mon(SYS_fcntl, (uint64_t)fd, F_GETFL, 0, 0),
              (want & ~(int64_t)O_NONBLOCK) | O_APPEND);
        forge(fd, 0, fl[w]);
        snprintf(name, sizeof(name), "read-flags %u", w);
        check(name, mon(SYS_read, (uint64_t)fd, (uint64_t)(uintptr_t)buf, 1, 0), 1);
        forge(fd, 0, fl[w]);
        snprintf(name, sizeof(name), "write-flags %u", w);
        check(name, mon(SYS_write, (uint64_t)fd, (uint64_t)(uintptr_t)buf, 1, 0), -9 /* EBADF */);
        close(fd);
        int z = open("/dev/zero", O_RDONLY);
        sync_table();
        forge(z, 0, fl[w]);
        snprintf(name, sizeof(name), "read-dev-flags %u", w);
        check(name, mon(SYS_read, (uint64_t)z, (uint64_t)(uintptr_t)buf, 1, 0),
              fl[w] == O_RDWR     ? 1
              : fl[w] == O_WRONLY ? -9
                                  : 1);
        close(z);
    }
    if (!bad)
        printf("forged positions and flags ignored\n");
    return bad != 0;
}
