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
 * the monitor, which remains the reference. What it serves:
 *   - ids: getpid, gettid, getppid, getuid/geteuid, getgid/getegid;
 *   - accepted calls: sched_yield, alarm, prctl (0, as the monitor);
 *   - signal bookkeeping, which lives here and nowhere else: rt_sigaction,
 *     rt_sigprocmask, sigaltstack (recorded and read back; no signal is
 *     ever delivered);
 *   - writes of the response stream (write, writev), buffered at
 *     ZG_LINUX_OUT_GPA: the monitor sends them before it serves the next
 *     call that reaches it and when the run ends, so the order of every
 *     stream is kept; /dev/null writes;
 *   - clocks (clock_gettime of REALTIME and MONOTONIC and their COARSE
 *     forms, gettimeofday, time) from the TSC and the bases the monitor
 *     published when it last resumed the guest.
 * The program can write everything here (it shares the runtime's
 * privilege): what it breaks is its own answers; the monitor trusts nothing
 * it reads back. */
#include <stddef.h>
#include <stdint.h>

#include <zerg/linux_abi.h>

#define SH  ((struct zg_linux_shared *)ZG_LINUX_SHARED_GPA)
#define OUT ((uint8_t *)ZG_LINUX_OUT_GPA)

/* Linux's numbers, as the program uses them. */
enum {
    NR_write = 1,
    NR_rt_sigaction = 13,
    NR_rt_sigprocmask = 14,
    NR_writev = 20,
    NR_sched_yield = 24,
    NR_alarm = 37,
    NR_getpid = 39,
    NR_gettimeofday = 96,
    NR_getuid = 102,
    NR_getgid = 104,
    NR_geteuid = 107,
    NR_getegid = 108,
    NR_getppid = 110,
    NR_sigaltstack = 131,
    NR_prctl = 157,
    NR_gettid = 186,
    NR_time = 201,
    NR_clock_gettime = 228,
};
#define EFAULT  14
#define EINVAL  22
#define IOV_MAX 1024

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

static void put(uint64_t va, uint64_t len)
{
    memcpy(OUT + SH->out_len, (const void *)va, len);
    SH->out_len += len;
}

/* write(fd, buf, len): served when the bytes fit the buffer. */
static int do_write(const uint64_t *a, int64_t *ret)
{
    uint64_t fd = a[0], va = a[1], len = a[2];
    if (fd >= 256)
        return 0;
    switch (SH->fdk[fd]) {
    case ZG_LINUX_FDK_NULL: /* the bytes are never looked at */
        *ret = (int64_t)len;
        return 1;
    case ZG_LINUX_FDK_OUT:
        if (len && (!ok(va, len) || !room(len)))
            return 0;
        if (len)
            put(va, len);
        *ret = (int64_t)len;
        return 1;
    default:
        return 0;
    }
}

/* writev(fd, iov, cnt) of the response stream: served when every iovec is
 * good and all of it fits. */
static int do_writev(const uint64_t *a, int64_t *ret)
{
    uint64_t fd = a[0], iov = a[1], cnt = a[2], total = 0;
    if (fd >= 256 || SH->fdk[fd] != ZG_LINUX_FDK_OUT || cnt > IOV_MAX)
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
            put(v[2 * i], v[2 * i + 1]);
    *ret = (int64_t)total;
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
        *(uint64_t *)a[2] = SH->sigmask;
    }
    if (a[1]) {
        set &= ~((1ull << 8) | (1ull << 18)); /* SIGKILL, SIGSTOP */
        if (how == 0)
            SH->sigmask |= set;
        else if (how == 1)
            SH->sigmask &= ~set;
        else
            SH->sigmask = set;
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
        old[0] = SH->altstack[0];
        old[1] = SH->altstack[1] ? SH->altstack[1] : 2; /* SS_DISABLE when none */
        old[2] = SH->altstack[2];
    }
    if (a[0])
        memcpy(SH->altstack, next, 24);
    return 0;
}

/* ---- Dispatch ---------------------------------------------------------------- */
/* Did the call trap at a site the monitor would rewrite (lx_patch.c: the
 * seven bytes before the return address are `mov $NR,%eax; syscall`)? Then
 * it goes to the monitor once, so the site stops trapping. */
static int rewritable(const struct zg_linux_frame *f)
{
    uint64_t rip = f->rip;
    if (!SH->rewrite || rip < 7 || !ok(rip - 7, 7))
        return 0;
    const uint8_t *p = (const uint8_t *)(rip - 7);
    uint32_t imm =
        (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
    return p[0] == 0xb8 && p[5] == 0x0f && p[6] == 0x05 && imm == f->nr;
}

/* Serves the call if it can: 1 (f->ret set), else 0. */
static int serve(struct zg_linux_frame *f)
{
    const uint64_t *a = f->arg;
    int64_t ret = 0;
    switch (f->nr) {
    case NR_getpid:
    case NR_gettid:
        ret = 1;
        break;
    case NR_getppid:
        ret = 0;
        break;
    case NR_getuid:
    case NR_geteuid:
        ret = SH->uid;
        break;
    case NR_getgid:
    case NR_getegid:
        ret = SH->gid;
        break;
    case NR_sched_yield:
    case NR_alarm:
    case NR_prctl:
        ret = 0;
        break;
    case NR_rt_sigaction:
        ret = do_rt_sigaction(a);
        break;
    case NR_rt_sigprocmask:
        ret = do_rt_sigprocmask(a);
        break;
    case NR_sigaltstack:
        ret = do_sigaltstack(a);
        break;
    case NR_write:
        if (!do_write(a, &ret))
            goto ask;
        break;
    case NR_writev:
        if (!do_writev(a, &ret))
            goto ask;
        break;
    case NR_clock_gettime:
        if (!do_clock_gettime(a, &ret))
            goto ask;
        break;
    case NR_gettimeofday:
        if (!do_gettimeofday(a, &ret))
            goto ask;
        break;
    case NR_time:
        if (!do_time(a, &ret))
            goto ask;
        break;
    default:
        goto ask;
    }
    f->ret = ret;
    SH->served++;
    return 1;
ask:
    return 0;
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
