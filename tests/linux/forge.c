/* Linux test program, for zerg only (natively it faults at once): a program
 * that forges entries in zerg's guest copy of its descriptor and open-file
 * tables (docs/abi.md, "Calls served in the guest") — open files of an
 * epoll instance that does not exist, a socket, the connection, a file past
 * the view's end, an unknown device, a kind that does not exist; a
 * descriptor naming its standard output's open file (the monitor's), one
 * naming an open file past the table, and its own standard output freed —
 * then makes a call the monitor serves (so it takes the tables back) and
 * uses every forged descriptor. The monitor must have ignored them all:
 * each use is EBADF, and standard output still works. It prints one line per
 * use, "NAME: ERRNO-NAME", then "forged descriptors ignored" if all were
 * EBADF, and exits 0 (1 if one was not). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <zerg/linux_abi.h>

static int bad;

static void use(const char *name, long r)
{
    int e = r < 0 ? errno : 0;
    printf("%s: %s\n", name, r < 0 ? (e == EBADF ? "EBADF" : strerror(e)) : "succeeded");
    bad += !(r < 0 && e == EBADF);
}

int main(void)
{
    struct zg_linux_shared *sh = (struct zg_linux_shared *)ZG_LINUX_SHARED_GPA;
    struct zg_linux_fd *fds = (struct zg_linux_fd *)ZG_LINUX_FDS_GPA;
    struct zg_linux_file *files = (struct zg_linux_file *)ZG_LINUX_FILES_GPA;
    const struct zg_linux_file forged[] = {
        {.kind = ZG_LINUX_FD_EPOLL, .ent = 99},
        {.kind = ZG_LINUX_FD_SOCK, .sock = 3, .port = 80},
        {.kind = ZG_LINUX_FD_FILE, .ent = 100000},
        {.kind = ZG_LINUX_FD_RANDOM, .ent = 77},
        {.kind = ZG_LINUX_FD_CONN},
        {.kind = 200},
        {.kind = ZG_LINUX_FD_DIR, .ent = 0xffffffffu},
    };
    for (unsigned i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        files[100 + i] = forged[i];
        fds[10 + i] = (struct zg_linux_fd){.file = (uint16_t)(101 + i)};
    }
    fds[17] = fds[1];                               /* the monitor's own open file */
    fds[18] = (struct zg_linux_fd){.file = 0xffff}; /* past the table */
    fds[1].file = 0;
    sh->fds_changed = 1;
    struct utsname u;
    syscall(SYS_uname, &u); /* the monitor's: it takes the table back here */
    char buf[64];
    struct stat st;
    struct epoll_event ev[4];
    use("epoll_wait 10", epoll_wait(10, ev, 4, 0));
    use("close 10", close(10));
    use("read 11", read(11, buf, sizeof(buf)));
    use("listen 11", syscall(SYS_listen, 11, 1));
    use("fstat 12", fstat(12, &st));
    use("read 12", read(12, buf, sizeof(buf)));
    use("read 13", read(13, buf, sizeof(buf)));
    use("write 14", write(14, "x", 1));
    use("shutdown 14", syscall(SYS_shutdown, 14, 1));
    use("close 15", close(15));
    use("getdents64 16", syscall(SYS_getdents64, 16, buf, sizeof(buf)));
    use("dup2 12", dup2(12, 20));
    use("write 17", write(17, "x", 1));
    use("read 18", read(18, buf, sizeof(buf)));
    if (!bad)
        printf("forged descriptors ignored\n");
    return bad != 0;
}
