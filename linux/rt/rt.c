/* The Linux personality's guest-side runtime: the system calls a program's
 * call can be served with inside the guest, with no exit to the monitor
 * (docs/abi.md, "Calls served in the guest"). Freestanding code, linked at
 * ZG_LINUX_RT_GPA (rt.ld) and copied into every Linux guest; it runs at the
 * program's privilege on the runtime's own stack, called by the entry
 * (entry.S) with the call in the frame.
 *
 * The rule: the runtime serves a call only when it can give exactly the
 * answer the monitor would; anything else (an error it would have to
 * reproduce, a buffer that is full, a clock not yet calibrated) it hands to
 * the monitor, which remains the reference. Which calls it serves is said
 * once, in linux/lx_calls.h (each entry's `guest` field); its table here
 * (RT_CALLS) is checked against that list when it is built. What it serves
 * (the full list, with what the monitor shares with it, is docs/abi.md's):
 * ids and accepted calls; signal bookkeeping, which lives here and nowhere
 * else; writes of the response stream, buffered at ZG_LINUX_OUT_GPA until
 * the monitor's next call or the end of the run; clocks from the TSC; brk;
 * getrandom and the devices; fstat and ioctl of any descriptor; and the
 * files of the view (open, close, read, pread64, lseek, the stat family,
 * sendfile), with lx_view.c's names, the monitor's own.
 * The program can write everything here (it shares the runtime's
 * privilege): what it breaks is its own answers; the monitor trusts nothing
 * it reads back. */
#include <stddef.h>
#include <stdint.h>

#include <asm/unistd_64.h> /* Linux's numbers (__NR_*): plain #defines */

#include <zerg/linux_abi.h>

#include "linux/lx_view.h"

#define SH    ((struct zg_linux_shared *)ZG_LINUX_SHARED_GPA)
#define OUT   ((uint8_t *)ZG_LINUX_OUT_GPA)
#define FDS   ((struct zg_linux_fd *)ZG_LINUX_FDS_GPA)
#define FILES ((struct zg_linux_file *)ZG_LINUX_FILES_GPA)
/* The running thread's id and signal state. */
#define TH                                                                                         \
    (&((struct zg_linux_sigthread *)ZG_LINUX_THREADS_GPA)[SH->cur < ZG_LINUX_NTHREAD ? SH->cur : 0])
#define CWD ((const char *)ZG_LINUX_CWD_GPA)
#define RND ((uint8_t *)ZG_LINUX_RND_GPA)

#define EFAULT              14
#define EINVAL              22
#define EMFILE              24
#define ENOTSOCK            88
#define ENOTTY              25
#define IOV_MAX             1024
#define IO_MAX              (1u << 20) /* the monitor's clamp of one read or write (ZG_IO_MAX) */
#define ENFILE              23
#define NFD                 ZG_LINUX_NFD
#define NFILE               ZG_LINUX_NFILE
#define AT_FDCWD            (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_NO_AUTOMOUNT     0x800
#define AT_EMPTY_PATH       0x1000
/* open flags the runtime serves (read-only opens; anything else is the
 * monitor's): O_NOCTTY, O_NONBLOCK, O_LARGEFILE, O_DIRECTORY, O_NOFOLLOW,
 * O_CLOEXEC */
#define O_ACCMODE           03
#define O_NOCTTY            0400
#define O_NONBLOCK          04000
#define O_LARGEFILE         0100000
#define O_DIRECTORY         0200000
#define O_NOFOLLOW          0400000
#define O_CLOEXEC           02000000
#define OPEN_SERVED         (O_NOCTTY | O_NONBLOCK | O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

int zg_rt_call(struct zg_linux_frame *f, int trapped);

/* The compiler may call these for copies; nothing else here uses libc. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);

void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

/* Is [va, va+len) wholly inside one region the program may name? The same
 * test as the monitor's (lx_persona.c: translate), on the regions it
 * published. */
static int ok(uint64_t va, uint64_t len)
{
    if (len == 0 || va + len < va)
        return 0;
    for (int r = 0; r < 3; r++) {
        uint64_t lo = SH->region[r][0], hi = SH->region[r][1];
        if (va >= lo && va <= hi && len <= hi - va)
            return 1;
    }
    return 0;
}

static uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* ---- Writes of the response stream ------------------------------------------ */
static int room(uint64_t len)
{
    uint64_t used = SH->out_len;
    return used <= ZG_LINUX_OUT_SIZE && len <= ZG_LINUX_OUT_SIZE - used;
}

/* Appends len bytes to the buffer (room() said they fit). */
static void put(const void *src, uint64_t len)
{
    memcpy(OUT + SH->out_len, src, len);
    SH->out_len += len;
}

/* The open file descriptor fd names, or 0 (not open). */
static struct zg_linux_file *file_of(uint64_t fd)
{
    if (fd >= NFD || !FDS[fd].file || FDS[fd].file > NFILE)
        return 0;
    struct zg_linux_file *f = &FILES[FDS[fd].file - 1];
    return f->kind != ZG_LINUX_FD_FREE && f->kind <= ZG_LINUX_FD_KIND_MAX ? f : 0;
}

/* Is fd the response stream, its writes to be buffered? */
static int is_out(uint64_t fd)
{
    const struct zg_linux_file *f = file_of(fd);
    if (!f || !SH->out_ok)
        return 0;
    return f->kind == ZG_LINUX_FD_STDOUT || f->kind == ZG_LINUX_FD_CONN;
}

/* Is fd a device opened for writing (/dev/null, zero, random: the bytes
 * written are never looked at)? */
static int is_sink(uint64_t fd)
{
    const struct zg_linux_file *f = file_of(fd);
    return f && zg_linux_fd_device(f->kind) && (f->flags & O_ACCMODE) != 0 /* O_RDONLY */;
}

/* write(fd, buf, len): served when the bytes fit the buffer. */
static int do_write(const uint64_t *a, int64_t *ret)
{
    uint64_t fd = a[0], va = a[1], len = a[2];
    if (is_sink(fd)) {
        *ret = (int64_t)len;
        return 1;
    }
    if (!is_out(fd) || (len && (!ok(va, len) || !room(len))))
        return 0;
    if (len)
        put((const void *)va, len);
    *ret = (int64_t)len;
    return 1;
}

/* writev(fd, iov, cnt) of the response stream: served when every iovec is
 * good and all of it fits. */
static int do_writev(const uint64_t *a, int64_t *ret)
{
    uint64_t fd = a[0], iov = a[1], cnt = a[2], total = 0;
    if (!is_out(fd) || cnt > IOV_MAX)
        return 0;
    if (cnt && !ok(iov, cnt * 16))
        return 0;
    const uint64_t *v = (const uint64_t *)iov;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t base = v[2 * i], len = v[2 * i + 1];
        if ((int64_t)len < 0 || (len && !ok(base, len)))
            return 0;
        total += len;
        if (total > ZG_LINUX_OUT_SIZE)
            return 0;
    }
    if (!room(total))
        return 0;
    for (uint64_t i = 0; i < cnt; i++)
        if (v[2 * i + 1])
            put((const void *)v[2 * i], v[2 * i + 1]);
    *ret = (int64_t)total;
    return 1;
}

/* ---- Files of the view (lx_view: the monitor's own names) ------------------- */
static struct lxv view(void)
{
    return (struct lxv){(const uint8_t *)ZG_LINUX_VIEW_VA, SH->view_size};
}

/* The program's string at va into buf (max bytes): 0, or -1 (a bad pointer
 * or too long: the monitor answers). */
static int ustr(uint64_t va, char *buf, uint64_t max)
{
    for (uint64_t i = 0; i < max; i++) {
        if (!ok(va + i, 1))
            return -1;
        buf[i] = *(const char *)(va + i);
        if (!buf[i])
            return 0;
    }
    return -1;
}

static int is_ready_path(const char *p)
{
    static const char ready[] = ZG_LINUX_READY_PATH;
    for (unsigned i = 0; i < sizeof(ready); i++)
        if (p[i] != ready[i])
            return 0;
    return 1;
}

/* The open file of fd, if it is a file or directory of the view. */
static struct zg_linux_file *vfd(uint64_t fd)
{
    struct zg_linux_file *f = file_of(fd);
    return f && (f->kind == ZG_LINUX_FD_FILE || f->kind == ZG_LINUX_FD_DIR) ? f : 0;
}

/* The open file of fd, if the runtime may serve it: a file or directory of
 * the view, or a device. */
static struct zg_linux_file *rfd(uint64_t fd)
{
    struct zg_linux_file *f = file_of(fd);
    return f && zg_linux_fd_runtime(f->kind) ? f : 0;
}

/* The open file of any open descriptor (the monitor's kinds too), for fstat
 * and ioctl. */
static const struct zg_linux_file *anyfd(uint64_t fd)
{
    return file_of(fd);
}

/* Takes n bytes of the monitor's fresh randomness into dst: 1, or 0 if
 * there are not that many left (the monitor then serves the call). */
static int take_random(uint8_t *dst, uint64_t n)
{
    uint64_t avail = SH->rnd_avail;
    if (avail > ZG_LINUX_RND_SIZE || n > avail)
        return 0;
    memcpy(dst, RND + ZG_LINUX_RND_SIZE - avail, n);
    memset(RND + ZG_LINUX_RND_SIZE - avail, 0, n); /* never handed out twice */
    SH->rnd_avail = avail - n;
    return 1;
}

/* A new open file f behind the lowest free descriptor (the monitor's
 * lx_fd_install): the descriptor, or -EMFILE / -ENFILE. */
static int install(const struct zg_linux_file *f, int cloexec)
{
    int fd = 0;
    while (fd < NFD && FDS[fd].file)
        fd++;
    if (fd == NFD)
        return -EMFILE;
    for (unsigned i = 0; i < NFILE; i++) {
        if (FILES[i].kind != ZG_LINUX_FD_FREE)
            continue;
        FILES[i] = *f;
        FDS[fd] = (struct zg_linux_fd){.file = (uint16_t)(i + 1), .cloexec = (uint8_t)cloexec};
        SH->fds_changed = 1;
        return fd;
    }
    return -ENFILE;
}

/* Resolves the program's path (dirfd, va) as the monitor's lx_resolve
 * would: 1 with *rc = 0 and `out` filled or *rc = a resolution error, or 0
 * if the monitor is to answer (a bad pointer, a descriptor that is not a
 * directory of the view, a path it treats specially). */
static int resolve(int64_t dirfd, uint64_t va, int follow, char *out, int *rc)
{
    char raw[LXV_PATH_MAX];
    if (ustr(va, raw, sizeof(raw)) < 0 || !raw[0] || is_ready_path(raw))
        return 0;
    struct lxv v = view();
    const char *base = CWD;
    if (raw[0] != '/' && dirfd != AT_FDCWD) {
        struct zg_linux_file *d = vfd((uint64_t)dirfd);
        if (!d || d->kind != ZG_LINUX_FD_DIR || !(base = lxv_path(&v, lxv_ent(&v, d->ent))))
            return 0;
    }
    int cl = 0;
    while (cl < ZG_LINUX_CWD_SIZE && base[cl])
        cl++;
    if (cl == ZG_LINUX_CWD_SIZE || base[0] != '/')
        return 0;
    *rc = lxv_resolve(&v, base, raw, follow, out, LXV_PATH_MAX);
    return 1;
}

/* What the program's path names: resolve, then look up. 1 with *rc = 0 and
 * *n set, or *rc = the error the monitor would give; 0 if the monitor is to
 * answer. */
static int name(int64_t dirfd, uint64_t va, int follow, struct lxv_node *n, int *rc)
{
    char path[LXV_PATH_MAX];
    if (!resolve(dirfd, va, follow, path, rc))
        return 0;
    struct lxv v = view();
    if (*rc == 0)
        *rc = lxv_lookup(&v, path, n);
    return 1;
}

static int do_open(int64_t dirfd, uint64_t va, uint64_t flags, int64_t *ret)
{
    if (flags & ~(uint64_t)(OPEN_SERVED | O_ACCMODE)) /* creating, O_PATH...: the monitor's */
        return 0;
    struct lxv v = view();
    struct lxv_node n;
    int rc;
    if (!name(dirfd, va, !(flags & O_NOFOLLOW), &n, &rc))
        return 0;
    if (rc < 0) {
        *ret = rc;
        return 1;
    }
    int dir = lxv_is_dir(&v, &n);
    if ((flags & O_DIRECTORY) && !dir) {
        *ret = -LXV_ENOTDIR;
        return 1;
    }
    uint32_t status = (uint32_t)(flags & ~(uint64_t)(O_CLOEXEC | O_NOCTTY));
    if (n.kind == LXV_N_DEV) {
        struct zg_linux_file f = {.kind = (uint8_t)lxv_devices[n.idx].kind,
                                  .flags = status,
                                  .ent = lxv_devices[n.idx].minor};
        *ret = install(&f, (flags & O_CLOEXEC) != 0);
        return 1;
    }
    if ((flags & O_ACCMODE) != 0) /* writing the view: EROFS, EISDIR from the monitor */
        return 0;
    if (n.kind != LXV_N_ENT) {
        *ret = -LXV_ENOENT; /* "/" and "/dev" without a view cannot be listed */
        return 1;
    }
    const struct lx_fv_ent *e = lxv_ent(&v, (uint32_t)n.idx);
    if (!e)
        return 0;
    uint32_t type = e->mode & LXV_S_IFMT;
    if (type == LXV_S_IFLNK) {
        *ret = -LXV_ELOOP; /* O_NOFOLLOW on a link */
        return 1;
    }
    struct zg_linux_file f = {
        .kind = dir ? ZG_LINUX_FD_DIR : ZG_LINUX_FD_FILE, .flags = status, .ent = (uint32_t)n.idx};
    *ret = install(&f, (flags & O_CLOEXEC) != 0);
    return 1;
}

/* close: the descriptor, and its open file if no other descriptor names it
 * (the monitor's lx_fd_close; runtime kinds release nothing). */
static int do_close(uint64_t fd, int64_t *ret)
{
    struct zg_linux_file *f = rfd(fd);
    if (!f || SH->epoll_used) /* registrations to drop: the monitor's */
        return 0;
    uint16_t file = FDS[fd].file;
    FDS[fd] = (struct zg_linux_fd){0};
    unsigned refs = 0;
    for (unsigned d = 0; d < NFD; d++)
        refs += FDS[d].file == file;
    if (!refs)
        *f = (struct zg_linux_file){0};
    SH->fds_changed = 1;
    *ret = 0;
    return 1;
}

/* read (off = -1) and pread64 of a file of the view. */
static int do_read(uint64_t fd, uint64_t va, uint64_t len, int64_t off, int64_t *ret)
{
    struct zg_linux_file *f = rfd(fd);
    if (!f || f->kind == ZG_LINUX_FD_DIR)
        return 0;
    if (!len) {
        *ret = 0;
        return 1;
    }
    if (len > IO_MAX)
        len = IO_MAX;
    if (f->kind != ZG_LINUX_FD_FILE) { /* a device opened for reading */
        if ((f->flags & O_ACCMODE) == 1 /* O_WRONLY: EBADF */ || !ok(va, len))
            return 0;
        if (f->kind == ZG_LINUX_FD_NULL)
            len = 0;
        else if (f->kind == ZG_LINUX_FD_ZERO)
            memset((void *)va, 0, len);
        else if (!take_random((uint8_t *)va, len))
            return 0;
        *ret = (int64_t)len;
        return 1;
    }
    struct lxv v = view();
    const struct lx_fv_ent *e = lxv_ent(&v, f->ent);
    const uint8_t *data = lxv_data(&v, e);
    if (!ok(va, len) || !data)
        return 0;
    uint64_t pos = off < 0 ? f->pos : (uint64_t)off;
    uint64_t n = pos >= e->size ? 0 : (len < e->size - pos ? len : e->size - pos);
    memcpy((void *)va, data + pos, n);
    if (off < 0) {
        f->pos = pos + n;
        SH->fds_changed = 1;
    }
    *ret = (int64_t)n;
    return 1;
}

static int do_lseek(uint64_t fd, int64_t off, uint64_t whence, int64_t *ret)
{
    struct zg_linux_file *f = vfd(fd);
    struct lxv v = view();
    const struct lx_fv_ent *e = f ? lxv_ent(&v, f->ent) : 0;
    if (!e || whence > 2)
        return 0;
    int64_t base = whence == 0 ? 0 : whence == 1 ? (int64_t)f->pos : (int64_t)e->size;
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0 ||
        (f->kind == ZG_LINUX_FD_DIR && base + off != 0))
        return 0; /* EINVAL: the monitor says it */
    f->pos = (uint64_t)(base + off);
    SH->fds_changed = 1;
    *ret = (int64_t)f->pos;
    return 1;
}

/* The stat of a node (n) or of a descriptor (f), to the program's va. */
static int put_stat(uint64_t va, const struct lxv_node *n, const struct zg_linux_file *f,
                    int64_t *ret)
{
    if (!ok(va, sizeof(struct lxv_stat)))
        return 0;
    struct lxv v = view();
    struct lxv_stat st;
    if (f)
        lxv_stat_of_fd(&v, f, SH->uid, SH->gid, &st);
    else
        lxv_stat_of(&v, n, &st);
    memcpy((void *)va, &st, sizeof(st));
    *ret = 0;
    return 1;
}

static int do_fstat(uint64_t fd, uint64_t va, int64_t *ret)
{
    const struct zg_linux_file *f = anyfd(fd);
    return f && put_stat(va, 0, f, ret);
}

/* stat, lstat, newfstatat of a path (an empty one is the monitor's). */
static int do_stat_at(int64_t dirfd, uint64_t va, uint64_t st, uint64_t flags, int64_t *ret)
{
    if (flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH) || !ok(va, 1))
        return 0;
    if (!*(const char *)va) { /* the descriptor itself, or the working directory */
        struct lxv v = view();
        struct lxv_node n;
        if (!(flags & AT_EMPTY_PATH)) {
            *ret = -LXV_ENOENT;
            return 1;
        }
        if (dirfd != AT_FDCWD)
            return do_fstat((uint64_t)dirfd, st, ret);
        if (lxv_lookup(&v, CWD, &n) < 0) {
            *ret = -LXV_ENOENT;
            return 1;
        }
        return put_stat(st, &n, 0, ret);
    }
    struct lxv_node n;
    int rc;
    if (!name(dirfd, va, !(flags & AT_SYMLINK_NOFOLLOW), &n, &rc))
        return 0;
    if (rc < 0) {
        *ret = rc;
        return 1;
    }
    return put_stat(st, &n, 0, ret);
}

static int do_ioctl(const uint64_t *a, int64_t *ret)
{
    /* FIONREAD, FIONBIO, FIONCLEX, FIOCLEX: the monitor's (they change or
     * read the open file); a bad descriptor: the monitor's EBADF */
    if (!anyfd(a[0]) || a[1] == 0x541b || a[1] == 0x5421 || a[1] == 0x5450 || a[1] == 0x5451)
        return 0;
    *ret = -ENOTTY; /* no terminal anywhere */
    return 1;
}

static int do_getrandom(const uint64_t *a, int64_t *ret)
{
    uint64_t va = a[0], len = a[1];
    if (a[2] & ~7ull) /* GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE */
        return 0;
    if (len && (!ok(va, len) || !take_random((uint8_t *)va, len)))
        return 0;
    *ret = (int64_t)len;
    return 1;
}

/* sendfile from a file of the view to the response stream: into the buffer. */
static int do_sendfile(const uint64_t *a, int64_t *ret)
{
    uint64_t out = a[0], offp = a[2], count = a[3];
    struct zg_linux_file *in = vfd(a[1]);
    if (!is_out(out) || !in || in->kind != ZG_LINUX_FD_FILE)
        return 0;
    uint64_t off = in->pos;
    if (offp) {
        if (!ok(offp, 8))
            return 0;
        off = *(const uint64_t *)offp;
        if ((int64_t)off < 0)
            return 0;
    }
    if (count > IO_MAX)
        count = IO_MAX;
    struct lxv v = view();
    const struct lx_fv_ent *e = lxv_ent(&v, in->ent);
    const uint8_t *data = lxv_data(&v, e);
    if (!data)
        return 0;
    uint64_t n = !count || off >= e->size ? 0 : (count < e->size - off ? count : e->size - off);
    if (!room(n))
        return 0;
    put(data + off, n);
    if (n && offp) {
        *(uint64_t *)offp = off + n;
    } else if (n) {
        in->pos = off + n;
        SH->fds_changed = 1;
    }
    *ret = (int64_t)n;
    return 1;
}

/* ---- The heap ------------------------------------------------------------------ */
/* brk, as the monitor's lx_sys_brk: memory above the old end that an earlier,
 * higher end used is zeroed before it is handed out again. */
static int do_brk(const uint64_t *a, int64_t *ret)
{
    uint64_t want = a[0], old = SH->brk;
    if (want < SH->brk_start || want > SH->brk_limit) {
        *ret = (int64_t)old; /* Linux answers a refused brk with the current one */
        return 1;
    }
    if (want > old) {
        uint64_t dirty_end = want < SH->brk_hwm ? want : SH->brk_hwm;
        if (dirty_end > old)
            memset((void *)old, 0, dirty_end - old);
    }
    SH->brk = want;
    if (want > SH->brk_hwm)
        SH->brk_hwm = want;
    *ret = (int64_t)want;
    return 1;
}

/* ---- Clocks ------------------------------------------------------------------ */
/* Nanoseconds since the monitor's last resume, or -1 if the runtime cannot
 * tell (the TSC rate is not known yet, or too long has passed). */
static int64_t since_resume(void)
{
    uint64_t mul = SH->tsc_mul, d = rdtsc() - SH->tsc_base;
    if (!mul || d >= (1ull << 32))
        return -1;
    return (int64_t)((d * mul) >> 32);
}

/* CLOCK_REALTIME (0) or CLOCK_MONOTONIC (1) in ns, or 0 if not known. */
static uint64_t now(int mono)
{
    int64_t d = since_resume();
    if (d < 0)
        return 0;
    if (!mono)
        return SH->real_base + (uint64_t)d;
    uint64_t t = SH->mono_base + (uint64_t)d;
    if (t < SH->last_mono)
        t = SH->last_mono; /* never backwards, whatever the rate's error */
    SH->last_mono = t;
    return t;
}

static int do_clock_gettime(const uint64_t *a, int64_t *ret)
{
    uint64_t clk = a[0];
    int mono = clk == 1 || clk == 6;                      /* MONOTONIC, MONOTONIC_COARSE */
    if ((!mono && clk != 0 && clk != 5) || !ok(a[1], 16)) /* REALTIME(_COARSE) */
        return 0;
    uint64_t t = now(mono);
    if (!t)
        return 0;
    int64_t *ts = (int64_t *)a[1];
    ts[0] = (int64_t)(t / 1000000000u);
    ts[1] = (int64_t)(t % 1000000000u);
    *ret = 0;
    return 1;
}

static int do_gettimeofday(const uint64_t *a, int64_t *ret)
{
    if (a[1] || (a[0] && !ok(a[0], 16)))
        return 0;
    uint64_t t = now(0);
    if (!t)
        return 0;
    if (a[0]) {
        int64_t *tv = (int64_t *)a[0];
        tv[0] = (int64_t)(t / 1000000000u);
        tv[1] = (int64_t)(t % 1000000000u / 1000u);
    }
    *ret = 0;
    return 1;
}

static int do_time(const uint64_t *a, int64_t *ret)
{
    if (a[0] && !ok(a[0], 8))
        return 0;
    uint64_t t = now(0);
    if (!t)
        return 0;
    *ret = (int64_t)(t / 1000000000u);
    if (a[0])
        *(int64_t *)a[0] = *ret;
    return 1;
}

/* ---- Signals: recorded, read back, never delivered ----------------------------- */
static int64_t do_rt_sigaction(const uint64_t *a)
{
    uint64_t sig = a[0];
    if (sig < 1 || sig > 64 || a[3] != 8 || ((sig == 9 || sig == 19) && a[1]))
        return -EINVAL; /* SIGKILL, SIGSTOP can be asked about, not caught */
    if ((a[1] && !ok(a[1], 32)) || (a[2] && !ok(a[2], 32)))
        return -EFAULT;
    uint8_t act[32];
    if (a[1])
        memcpy(act, (const void *)a[1], 32); /* act and oldact may be the same */
    if (a[2])
        memcpy((void *)a[2], SH->sigact[sig - 1], 32);
    if (a[1])
        memcpy(SH->sigact[sig - 1], act, 32);
    return 0;
}

static int64_t do_rt_sigprocmask(const uint64_t *a)
{
    uint64_t how = a[0], set = 0;
    if (a[3] != 8)
        return -EINVAL;
    if (a[1]) {
        if (!ok(a[1], 8))
            return -EFAULT;
        set = *(const uint64_t *)a[1];
        if (how > 2)
            return -EINVAL;
    }
    if (a[2]) {
        if (!ok(a[2], 8))
            return -EFAULT;
        *(uint64_t *)a[2] = TH->sigmask;
    }
    if (a[1]) {
        set &= ~((1ull << 8) | (1ull << 18)); /* SIGKILL, SIGSTOP */
        if (how == 0)
            TH->sigmask |= set;
        else if (how == 1)
            TH->sigmask &= ~set;
        else
            TH->sigmask = set;
    }
    return 0;
}

static int64_t do_sigaltstack(const uint64_t *a)
{
    if ((a[1] && !ok(a[1], 24)) || (a[0] && !ok(a[0], 24)))
        return -EFAULT;
    uint64_t next[3];
    if (a[0])
        memcpy(next, (const void *)a[0], 24);
    if (a[1]) {
        uint64_t *old = (uint64_t *)a[1];
        old[0] = TH->altstack[0];
        old[1] = TH->altstack[1] ? TH->altstack[1] : 2; /* SS_DISABLE when none */
        old[2] = TH->altstack[2];
    }
    if (a[0])
        memcpy(TH->altstack, next, 24);
    return 0;
}

/* ---- Dispatch ---------------------------------------------------------------- */
/* Did the call trap at a site the monitor would rewrite (lx_patch.c: the
 * seven bytes before the return address are `mov $NR,%eax; syscall`)? Then
 * it goes to the monitor once, so the site stops trapping. */
static int rewritable(const struct zg_linux_frame *f)
{
    uint64_t rip = f->rip;
    int code = (rip >= SH->code[0][0] && rip < SH->code[0][1]) ||
               (rip >= SH->code[1][0] && rip < SH->code[1][1]); /* lx_code_site */
    if (!SH->rewrite || !code || rip < 7 || !ok(rip - 7, 7))
        return 0;
    return zg_linux_site_rewritable((const uint8_t *)(rip - 7), f->nr);
}

/* The table: number -> handler. A handler serves the call (1, *ret set) or
 * leaves it to the monitor (0). */
typedef int (*rt_fn)(const uint64_t *a, int64_t *ret);

static int sys_one(const uint64_t *a, int64_t *ret) /* getpid: 1 */
{
    (void)a;
    *ret = 1;
    return 1;
}

/* gettid: the running thread's id (the monitor's word: 0 would be none). */
static int sys_gettid(const uint64_t *a, int64_t *ret)
{
    (void)a;
    uint32_t tid = TH->tid;
    if (!tid)
        return 0;
    *ret = tid;
    return 1;
}

/* sched_yield: nothing to yield to with one thread; with more, the
 * monitor's (it runs the next one). */
static int sys_sched_yield(const uint64_t *a, int64_t *ret)
{
    (void)a;
    if (SH->nthread > 1)
        return 0;
    *ret = 0;
    return 1;
}

static int sys_zero(const uint64_t *a, int64_t *ret) /* getppid; calls accepted */
{
    (void)a;
    *ret = 0;
    return 1;
}

static int sys_uid(const uint64_t *a, int64_t *ret)
{
    (void)a;
    *ret = SH->uid;
    return 1;
}

static int sys_gid(const uint64_t *a, int64_t *ret)
{
    (void)a;
    *ret = SH->gid;
    return 1;
}

static int sys_read(const uint64_t *a, int64_t *ret)
{
    return do_read(a[0], a[1], a[2], -1, ret);
}

static int sys_pread64(const uint64_t *a, int64_t *ret)
{
    return (int64_t)a[3] >= 0 && do_read(a[0], a[1], a[2], (int64_t)a[3], ret);
}

static int sys_open(const uint64_t *a, int64_t *ret)
{
    return do_open(AT_FDCWD, a[0], a[1], ret);
}

static int sys_openat(const uint64_t *a, int64_t *ret)
{
    return do_open((int64_t)(int)a[0], a[1], a[2], ret);
}

static int sys_close(const uint64_t *a, int64_t *ret)
{
    return do_close(a[0], ret);
}

static int sys_lseek(const uint64_t *a, int64_t *ret)
{
    return do_lseek(a[0], (int64_t)a[1], a[2], ret);
}

static int sys_fstat(const uint64_t *a, int64_t *ret)
{
    return do_fstat(a[0], a[1], ret);
}

static int sys_stat(const uint64_t *a, int64_t *ret)
{
    return do_stat_at(AT_FDCWD, a[0], a[1], 0, ret);
}

static int sys_lstat(const uint64_t *a, int64_t *ret)
{
    return do_stat_at(AT_FDCWD, a[0], a[1], AT_SYMLINK_NOFOLLOW, ret);
}

static int sys_newfstatat(const uint64_t *a, int64_t *ret)
{
    return do_stat_at((int64_t)(int)a[0], a[1], a[2], a[3], ret);
}

static int sys_rt_sigaction(const uint64_t *a, int64_t *ret)
{
    *ret = do_rt_sigaction(a);
    return 1;
}

static int sys_rt_sigprocmask(const uint64_t *a, int64_t *ret)
{
    *ret = do_rt_sigprocmask(a);
    return 1;
}

static int sys_sigaltstack(const uint64_t *a, int64_t *ret)
{
    *ret = do_sigaltstack(a);
    return 1;
}

/* shutdown, getsockname, getpeername of a descriptor that is not a socket
 * (the stdio model's streams, files): ENOTSOCK, as the monitor's sock_of. */
static int sys_not_a_socket(const uint64_t *a, int64_t *ret)
{
    const struct zg_linux_file *f = file_of(a[0]);
    if (!f || f->kind == ZG_LINUX_FD_SOCK || f->kind == ZG_LINUX_FD_CONN)
        return 0;
    *ret = -ENOTSOCK;
    return 1;
}

/* The runtime's rows: RT(call, handler), one per call it serves (numbers:
 * __NR_call). linux/lx_calls.h, where a call is registered, says which calls
 * those are (its `guest` field); the checks below stop the build if the two
 * differ, so serving a call here starts with marking it there. */
#define RT_CALLS(RT)                                                                               \
    RT(read, sys_read)                                                                             \
    RT(write, do_write)                                                                            \
    RT(open, sys_open)                                                                             \
    RT(close, sys_close)                                                                           \
    RT(stat, sys_stat)                                                                             \
    RT(fstat, sys_fstat)                                                                           \
    RT(lstat, sys_lstat)                                                                           \
    RT(lseek, sys_lseek)                                                                           \
    RT(rt_sigaction, sys_rt_sigaction)                                                             \
    RT(rt_sigprocmask, sys_rt_sigprocmask)                                                         \
    RT(pread64, sys_pread64)                                                                       \
    RT(writev, do_writev)                                                                          \
    RT(sched_yield, sys_sched_yield)                                                               \
    RT(alarm, sys_zero)                                                                            \
    RT(getpid, sys_one)                                                                            \
    RT(sendfile, do_sendfile)                                                                      \
    RT(shutdown, sys_not_a_socket)                                                                 \
    RT(ioctl, do_ioctl)                                                                            \
    RT(brk, do_brk)                                                                                \
    RT(getrandom, do_getrandom)                                                                    \
    RT(getsockname, sys_not_a_socket)                                                              \
    RT(getpeername, sys_not_a_socket)                                                              \
    RT(gettimeofday, do_gettimeofday)                                                              \
    RT(getuid, sys_uid)                                                                            \
    RT(getgid, sys_gid)                                                                            \
    RT(geteuid, sys_uid)                                                                           \
    RT(getegid, sys_gid)                                                                           \
    RT(getppid, sys_zero)                                                                          \
    RT(sigaltstack, sys_sigaltstack)                                                               \
    RT(prctl, sys_zero)                                                                            \
    RT(gettid, sys_gettid)                                                                         \
    RT(time, do_time)                                                                              \
    RT(clock_gettime, do_clock_gettime)                                                            \
    RT(openat, sys_openat)                                                                         \
    RT(newfstatat, sys_newfstatat)

/* The build's check of the rows against linux/lx_calls.h:
 * - every row names a call the list marks as served in the guest (a call
 *   the list does not have at all: LX_GUEST_<call> is undeclared);
 * - no call has two rows (RT_ROW_<call> would be declared twice);
 * - there are at least as many rows as marked calls, so none is missing
 *   (with the two checks above: exactly as many). */
enum {
#define CALL(name, handler, support, guest, note) LX_GUEST_##name = sizeof(guest) > 1,
#include "linux/lx_calls.h"
#undef CALL
};
enum {
    LX_NGUEST = 0
#define CALL(name, handler, support, guest, note) +(sizeof(guest) > 1)
#include "linux/lx_calls.h"
#undef CALL
};
#define RT(name, fn)                                                                               \
    _Static_assert(LX_GUEST_##name,                                                                \
                   "linux/rt/rt.c serves " #name                                                   \
                   ", which linux/lx_calls.h does not mark as served in the guest");
RT_CALLS(RT)
#undef RT
enum {
#define RT(name, fn) RT_ROW_##name,
    RT_CALLS(RT)
#undef RT
        RT_NROWS
};
_Static_assert((int)RT_NROWS >= (int)LX_NGUEST,
               "linux/lx_calls.h marks a call as served in the guest that "
               "linux/rt/rt.c does not serve (RT_CALLS)");

static const rt_fn calls[] = {
#define RT(name, fn) [__NR_##name] = fn,
    RT_CALLS(RT)
#undef RT
};

/* Serves the call if it can: 1 (f->ret set), else 0. */
static int serve(struct zg_linux_frame *f)
{
    rt_fn fn = f->nr < sizeof(calls) / sizeof(calls[0]) ? calls[f->nr] : 0;
    int64_t ret = 0;
    if (!fn || !fn(f->arg, &ret))
        return 0;
    f->ret = ret;
    SH->served++;
    return 1;
}

/* The entry's question: 1 if the call is served (f->ret set), 0 if the
 * monitor is to serve it, or to rewrite its site (f->done = 1: served). */
int zg_rt_call(struct zg_linux_frame *f, int trapped)
{
    int served = serve(f);
    f->done = 0;
    if (trapped && rewritable(f))
        f->done = (uint64_t)served; /* the monitor rewrites the site, once */
    else if (served)
        return 1;
    SH->tsc_seen = rdtsc(); /* the monitor checks the guest's TSC is the host's */
    return 0;
}
