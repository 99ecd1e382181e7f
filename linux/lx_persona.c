/* Linux personality: the ops table, the call dispatcher, guest memory as the
 * program names it. */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <x86intrin.h>

#include "linux/lx_int.h"

void lx_log(struct zg_instance *in, const char *fmt, ...)
{
    if (in->cfg.console_fd < 0)
        return;
    char line[300];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(in->cfg.console_fd, line, (size_t)n);
    (void)w; /* the console is best effort */
}

void lx_regions(const struct lx_state *lx, struct lx_region r[LX_NREGIONS])
{
    const struct lx_layout *l = &lx->l;
    r[0] = (struct lx_region){ZG_LINUX_RT_END, l->ident_end, ZG_LINUX_RT_END};
    /* the mmap area: sparse, no one gpa (lx_sparse_ptr translates it) */
    r[1] = (struct lx_region){ZG_LINUX_MMAP_VA, ZG_LINUX_MMAP_VA + lx_area_size(l), 0};
    r[2] = (struct lx_region){ZG_LINUX_STACK_VA_END - ZG_LINUX_STACK_SIZE, ZG_LINUX_STACK_VA_END,
                              l->stack_gpa};
}

/* The host pointer to the program's [va, va+len), or NULL (the runtime's
 * ok() makes the same test on the regions lx_publish gives it; in the mmap
 * area, the runtime's own touch of a page not backed yet faults and is
 * backed like the program's). */
static uint8_t *translate(struct zg_instance *in, uint64_t va, uint64_t len, int write)
{
    if (len == 0 || va + len < va)
        return NULL;
    struct lx_region r[LX_NREGIONS];
    lx_regions(lx_of(in), r);
    for (int i = 0; i < LX_NREGIONS; i++) {
        if (va < r[i].lo || va > r[i].hi || len > r[i].hi - va)
            continue;
        if (i == 1) {
            uint8_t *p = lx_sparse_ptr(in, va, len);
            if (p && write)
                zg_guest_mark(in, (uint64_t)(p - in->mem), len);
            return p;
        }
        uint64_t gpa = r[i].gpa + (va - r[i].lo);
        return write ? zg_guest_wptr(in, gpa, len) : zg_guest_ptr(in, gpa, len);
    }
    return NULL;
}

void *lx_uptr(struct zg_instance *in, uint64_t va, uint64_t len)
{
    return translate(in, va, len, 0);
}

void *lx_uwptr(struct zg_instance *in, uint64_t va, uint64_t len)
{
    return translate(in, va, len, 1);
}

int lx_ustr(struct zg_instance *in, uint64_t va, char *buf, size_t max)
{
    for (size_t i = 0; i < max; i++) {
        const char *p = lx_uptr(in, va + i, 1);
        if (!p)
            return -EFAULT;
        buf[i] = *p;
        if (!*p)
            return 0;
    }
    return -ENAMETOOLONG;
}

/* ---- The guest-side runtime's shared page ---------------------------------------
 * The TSC's rate, for the runtime's clocks: measured against CLOCK_MONOTONIC
 * from the first Linux instance of the process on, refined at every publish;
 * 0 (the runtime asks the monitor) until 1 ms has passed. */
static struct {
    pthread_once_t once;
    uint64_t tsc0, ns0;
} cal = {.once = PTHREAD_ONCE_INIT};

static void cal_start(void)
{
    cal.tsc0 = __rdtsc();
    cal.ns0 = zg_now_ns();
}

/* ns per TSC tick, times 2^32; 0 if not known yet. */
static uint64_t tsc_mul(uint64_t tsc, uint64_t ns)
{
    pthread_once(&cal.once, cal_start);
    if (ns < cal.ns0 + 1000000 || tsc <= cal.tsc0)
        return 0;
    return (uint64_t)(((unsigned __int128)(ns - cal.ns0) << 32) / (tsc - cal.tsc0));
}

static pthread_once_t ids_once = PTHREAD_ONCE_INIT;
static uint32_t host_uid, host_gid;

static void read_ids(void)
{
    host_uid = (uint32_t)getuid();
    host_gid = (uint32_t)getgid();
}

static struct zg_linux_shared *shared(struct zg_instance *in)
{
    return zg_guest_wptr(in, ZG_LINUX_SHARED_GPA, sizeof(struct zg_linux_shared));
}

void lx_publish(struct zg_instance *in)
{
    struct lx_state *lx = lx_of(in);
    struct zg_linux_shared *sh = shared(in);
    if (!sh)
        return;
    const struct lx_layout *l = &lx->l;
    struct lx_region r[LX_NREGIONS];
    lx_regions(lx, r);
    for (int i = 0; i < LX_NREGIONS; i++)
        sh->region[i][0] = r[i].lo, sh->region[i][1] = r[i].hi;
    sh->out_ok = !lx->out_shut && !lx->out_lost;
    sh->brk_start = lx->brk_start;
    sh->brk_limit = l->ident_end;
    sh->brk = lx->brk;
    sh->brk_hwm = lx->brk_hwm;
    /* Fresh randomness for the runtime (getrandom, /dev/urandom): refilled
     * when used, and always at the first resume of a run, so no two
     * instances of a template ever see the same bytes. */
    uint8_t *rnd = zg_guest_ptr(in, ZG_LINUX_RND_GPA, ZG_LINUX_RND_SIZE);
    if (rnd && (!lx->rnd_fresh || sh->rnd_avail != ZG_LINUX_RND_SIZE)) {
        zg_guest_mark(in, ZG_LINUX_RND_GPA, ZG_LINUX_RND_SIZE);
        if (zg_fill_random(rnd, ZG_LINUX_RND_SIZE) == 0) {
            sh->rnd_avail = ZG_LINUX_RND_SIZE;
            lx->rnd_fresh = 1;
        } else {
            sh->rnd_avail = 0;
        }
    } else if (!rnd) {
        sh->rnd_avail = 0;
    }
    sh->rewrite = lx->rewrite;
    lx_code_ranges(lx, sh->code);
    sh->view_size = l->fv_size;
    sh->epoll_used = 0;
    for (unsigned e = 0; e < LX_NEPOLL; e++)
        sh->epoll_used |= lx->epoll[e].used != 0;
    /* The descriptor and open-file tables and the working directory, as the
     * monitor has them (written only when they differ: a page written is a
     * page a pooled reset copies back). */
    const void *g = zg_guest_ptr(in, ZG_LINUX_FDS_GPA, sizeof(lx->fd));
    const void *gf = zg_guest_ptr(in, ZG_LINUX_FILES_GPA, sizeof(lx->file));
    const void *cwd = zg_guest_ptr(in, ZG_LINUX_CWD_GPA, ZG_LINUX_CWD_SIZE);
    if (g && memcmp(g, lx->fd, sizeof(lx->fd)))
        memcpy(zg_guest_wptr(in, ZG_LINUX_FDS_GPA, sizeof(lx->fd)), lx->fd, sizeof(lx->fd));
    if (gf && memcmp(gf, lx->file, sizeof(lx->file)))
        memcpy(zg_guest_wptr(in, ZG_LINUX_FILES_GPA, sizeof(lx->file)), lx->file, sizeof(lx->file));
    sh->cur = lx->cur;
    sh->nthread = lx->nthread;
    struct zg_linux_sigthread *sig =
        zg_guest_ptr(in, ZG_LINUX_THREADS_GPA, LX_NTHREAD * sizeof(*sig));
    for (unsigned i = 0; sig && i < LX_NTHREAD; i++)
        if (sig[i].tid != lx->thread[i].tid) /* written only when it differs */
            ((struct zg_linux_sigthread *)zg_guest_wptr(in, ZG_LINUX_THREADS_GPA + i * sizeof(*sig),
                                                        sizeof(*sig)))
                ->tid = lx->thread[i].tid;
    if (cwd && memcmp(cwd, lx->cwd, ZG_LINUX_CWD_SIZE))
        memcpy(zg_guest_wptr(in, ZG_LINUX_CWD_GPA, ZG_LINUX_CWD_SIZE), lx->cwd, ZG_LINUX_CWD_SIZE);
    sh->fds_changed = 0;
    pthread_once(&ids_once, read_ids); /* no host call per exit: zerg never changes them */
    sh->uid = host_uid;
    sh->gid = host_gid;
    sh->real_base = zg_wall_ns();
    sh->mono_base = zg_now_ns(); /* CLOCK_MONOTONIC */
    sh->tsc_base = __rdtsc();
    sh->tsc_mul = lx->tsc_bad ? 0 : tsc_mul(sh->tsc_base, sh->mono_base);
}

void lx_flush(struct zg_instance *in)
{
    struct zg_linux_shared *sh = shared(in);
    if (!sh || !sh->out_len)
        return;
    uint64_t n = sh->out_len; /* the runtime's word: checked */
    sh->out_len = 0;
    if (n > ZG_LINUX_OUT_SIZE) {
        lx_log(in, "zerg: linux: the runtime's response buffer claims %llu bytes; dropped",
               (unsigned long long)n);
        return;
    }
    const uint8_t *buf = zg_guest_ptr(in, ZG_LINUX_OUT_GPA, n);
    if (buf && zg_io_send(in, buf, n) < 0)
        lx_of(in)->out_lost = 1; /* the client went away: later writes get EPIPE */
}

/* Is this the monitor's own open file, which the runtime may not change? */
static int monitors(const struct zg_linux_file *f)
{
    return f->kind != ZG_LINUX_FD_FREE && !zg_linux_fd_runtime(f->kind);
}

/* At an exit: the runtime may have opened or closed files and directories
 * of the view and devices, or moved their positions, in the guest's copy of
 * the descriptor and open-file tables. Those entries are taken back, each
 * file checked by its kind (lx_file_sound: an entry of the view of that
 * type, a device's minor, positions and flags it can make); the monitor's
 * own kinds and any entry that fails a check keep the monitor's copy; then
 * a descriptor naming a file no longer in use is closed and a file no
 * descriptor names is freed. Nothing else of the guest's copy is believed. */
static void import_fds(struct zg_instance *in, struct lx_state *lx)
{
    const struct zg_linux_shared *sh = zg_guest_ptr(in, ZG_LINUX_SHARED_GPA, sizeof(*sh));
    const struct zg_linux_fd *gd = zg_guest_ptr(in, ZG_LINUX_FDS_GPA, sizeof(lx->fd));
    const struct zg_linux_file *gf = zg_guest_ptr(in, ZG_LINUX_FILES_GPA, sizeof(lx->file));
    if (!sh || !gd || !gf || !sh->fds_changed)
        return;
    struct lxv v = lx_view_of(in);
    for (unsigned i = 0; i < LX_NFILE; i++) {
        struct zg_linux_file *m = &lx->file[i], n = gf[i];
        if (monitors(m))
            continue;
        if (n.kind == ZG_LINUX_FD_FREE) {
            *m = (struct zg_linux_file){0};
            continue;
        }
        n.port = 0;
        n.sock = 0;
        if (zg_linux_fd_runtime(n.kind) && lx_file_sound(lx, &n, &v))
            *m = n;
    }
    for (unsigned d = 0; d < LX_NFD; d++) {
        struct zg_linux_fd *m = &lx->fd[d], n = gd[d];
        if (m->file && m->file <= LX_NFILE && monitors(&lx->file[m->file - 1]))
            continue;
        if (!n.file) {
            if (m->file)
                lx_epoll_forget(lx, (int)d);
            *m = (struct zg_linux_fd){0};
        } else if (n.file <= LX_NFILE && zg_linux_fd_runtime(lx->file[n.file - 1].kind)) {
            *m = (struct zg_linux_fd){.file = n.file, .cloexec = n.cloexec != 0};
        }
    }
    for (unsigned d = 0; d < LX_NFD; d++) /* a descriptor of a file gone: closed */
        if (lx->fd[d].file && !lx_fd_get(lx, d)) {
            lx->fd[d] = (struct zg_linux_fd){0};
            lx_epoll_forget(lx, (int)d);
        }
    for (unsigned i = 0; i < LX_NFILE; i++) /* a file nobody names: freed */
        if (lx->file[i].kind != ZG_LINUX_FD_FREE && !monitors(&lx->file[i]) && !lx_file_refs(lx, i))
            lx->file[i] = (struct zg_linux_file){0};
}

/* At an exit: the heap's end as the runtime moved it (brk is served in the
 * guest), taken back within the heap's bounds. */
static void import_brk(struct zg_instance *in, struct lx_state *lx)
{
    const struct zg_linux_shared *sh = zg_guest_ptr(in, ZG_LINUX_SHARED_GPA, sizeof(*sh));
    if (!sh)
        return;
    uint64_t brk = sh->brk, hwm = sh->brk_hwm, end = lx->l.ident_end;
    if (brk >= lx->brk_start && brk <= end && hwm >= brk && hwm <= end) {
        lx->brk = brk;
        if (hwm > lx->brk_hwm)
            lx->brk_hwm = hwm;
    }
}

/* At an exit the runtime wrote the guest's TSC into the shared page: if it
 * is not between the host's TSC at the resume and now, the guest's TSC is
 * not the host's (an offset: hardware KVM), and its clocks are the
 * monitor's from then on. */
static void check_tsc(struct zg_instance *in, struct lx_state *lx)
{
    const struct zg_linux_shared *sh = zg_guest_ptr(in, ZG_LINUX_SHARED_GPA, sizeof(*sh));
    if (!sh || lx->tsc_bad)
        return;
    uint64_t seen = sh->tsc_seen, now = __rdtsc();
    if (sh->tsc_base && (seen < sh->tsc_base || seen > now))
        lx->tsc_bad = 1;
}

int lx_first_time(struct lx_state *lx, unsigned nr)
{
    if (nr >= LX_NSYSCALL)
        return 1;
    uint64_t bit = 1ull << (nr % 64);
    if (lx->logged[nr / 64] & bit)
        return 0;
    lx->logged[nr / 64] |= bit;
    return 1;
}

int64_t lx_sys_in_guest(struct lx_call *c)
{
    unsigned nr = c->nr;
    if (lx_first_time(c->lx, nr))
        lx_log(c->in,
               "zerg: linux: %s reached the monitor, but it is served in the guest (the "
               "program wrote over zerg's runtime?): ENOSYS",
               lx_name(nr));
    return -ENOSYS;
}

/* ---- Dispatch ----------------------------------------------------------------- */
const struct lx_row *lx_row_of(uint64_t nr)
{
    static const struct lx_row *by_nr[LX_NSYSCALL];
    static int built;
    if (!built) { /* idempotent: racing threads write the same pointers */
        for (unsigned i = 0; i < lx_nrows; i++)
            if (lx_rows[i].nr < LX_NSYSCALL)
                by_nr[lx_rows[i].nr] = &lx_rows[i];
        __atomic_store_n(&built, 1, __ATOMIC_RELEASE);
    }
    return nr < LX_NSYSCALL ? by_nr[nr] : NULL;
}

/* ZERG_LINUX_TRACE set: every call the monitor serves is logged with its
 * first four arguments and its result (calls served in the guest are not:
 * they never reach it). A debugging aid, like strace. */
static int trace_calls(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("ZERG_LINUX_TRACE") != NULL;
    return on;
}

/* How a call reached the monitor. */
enum via { VIA_REDO, VIA_TRAP, VIA_FAST };

/* Serves the call in the frame (the running thread's); fills res and
 * returns ZG_HC_STOP when the instance ends (or stops at the template
 * point). *redo: the thread now running has a call still to be served. */
static enum zg_hc_action serve_one(struct zg_instance *in, struct zg_run_result *res, enum via via,
                                   int *redo)
{
    int trapped = via == VIA_TRAP;
    struct lx_state *lx = lx_of(in);
    *redo = 0;
    struct zg_linux_frame *f = zg_guest_wptr(in, ZG_LINUX_FRAME_GPA, sizeof(*f));
    if (!f) { /* cannot happen: the frame is inside every Linux guest's memory */
        res->end = ZG_END_FAULT;
        snprintf(res->why, sizeof(res->why), "Linux call frame outside guest memory");
        return ZG_HC_STOP;
    }
    struct lx_call c = {.in = in, .lx = lx, .res = res};
    memcpy(c.a, f->arg, sizeof(c.a));
    uint64_t nr = f->nr;
    c.nr = nr < LX_NSYSCALL ? (unsigned)nr : LX_NSYSCALL;
    lx->last_nr = nr < LX_NSYSCALL ? (int64_t)nr : LX_NSYSCALL;
    if (trapped) /* before the template point too: the template keeps the site */
        lx_patch_site(in, lx, f->rip, nr);
    if (trapped && f->done == 1) { /* the runtime served it: the site was all */
        lx->trapped++;
        return ZG_HC_CONTINUE;
    }
    lx_flush(in); /* what the program wrote before this call goes first */
    /* The template point: the program's first read of its request (stdio
     * model), its first wait for a connection (server model: accept, or poll
     * on its listening socket), or its opening of ZG_LINUX_READY_PATH (a
     * program that wants to choose) -- once no other thread can run: the
     * others run first, until they wait too. */
    const struct zg_linux_file *fd0 = lx_fd_get(lx, 0);
    if ((in->cfg.flags & ZG_INST_STOP_AT_READY) &&
        (((nr == 0 || nr == 19) /* read, readv */ && c.a[0] == 0 && fd0 &&
          fd0->kind == ZG_LINUX_FD_STDIN) ||
         lx_is_ready_open(&c) || lx_is_first_wait(&c))) {
        if (lx_others_runnable(lx))
            return lx_postpone(&c, redo);
        in->cfg.flags &= ~ZG_INST_STOP_AT_READY;
        in->ready_gpa = ZG_LINUX_FRAME_GPA;
        res->end = ZG_END_READY;
        return ZG_HC_STOP;
    }
    lx->calls++;
    lx->trapped += trapped != 0;
    lx->fast += via == VIA_FAST;
    const struct lx_row *r = lx_row_of(nr);
    c.started = zg_now_ns();
    c.wait = (struct lx_wait){.host_fd = -1};
    int64_t ret;
    if (r) {
        ret = r->fn(&c);
    } else {
        if (lx_first_time(lx, nr < LX_NSYSCALL ? (unsigned)nr : LX_NSYSCALL))
            lx_log(in, "zerg: linux: system call %s (%llu) is not supported: ENOSYS",
                   lx_name((unsigned)(nr < LX_NSYSCALL ? nr : 0xffff)), (unsigned long long)nr);
        ret = -ENOSYS;
    }
    if (trace_calls())
        lx_log(in, "zerg: linux: [%u] %s(0x%llx, 0x%llx, 0x%llx, 0x%llx) = %lld%s",
               lx_self(lx)->tid, lx_name(c.nr), (unsigned long long)c.a[0],
               (unsigned long long)c.a[1], (unsigned long long)c.a[2], (unsigned long long)c.a[3],
               (long long)ret, ret == LX_BLOCK ? " (waits)" : "");
    if (c.stop)
        return ZG_HC_STOP;
    if (ret != LX_BLOCK && !c.sched) {
        f->ret = ret;
        return ZG_HC_CONTINUE;
    }
    /* it blocks, yields or ended: the next thread runs (lx_thread.c) */
    return lx_schedule(&c, ret, redo);
}

/* Serves the running thread's call, and the calls of the threads that run
 * after it whose calls were postponed; then the runtime's page is brought
 * up to date for the resume. */
static enum zg_hc_action serve_frame(struct zg_instance *in, struct zg_run_result *res,
                                     enum via via)
{
    for (;;) {
        int redo;
        enum zg_hc_action a = serve_one(in, res, via, &redo);
        if (a == ZG_HC_STOP)
            return a;
        if (in->expired)
            return ZG_HC_CONTINUE; /* the run loop ends it at its deadline */
        if (!redo) {
            lx_publish(in);
            return ZG_HC_CONTINUE;
        }
        via = VIA_REDO;
    }
}

static enum zg_hc_action lx_io(struct zg_instance *in, unsigned port, uint64_t value,
                               struct zg_run_result *res)
{
    if (port != ZG_LINUX_PORT || (value != ZG_LINUX_CALL_TRAP && value != ZG_LINUX_CALL_FAST)) {
        res->end = ZG_END_FAULT;
        snprintf(res->why, sizeof(res->why),
                 "Linux program wrote 0x%llx to port 0x%x, which is not its system-call entry",
                 (unsigned long long)value, port);
        return ZG_HC_STOP;
    }
    check_tsc(in, lx_of(in));
    import_fds(in, lx_of(in));
    import_brk(in, lx_of(in));
    return serve_frame(in, res, value == ZG_LINUX_CALL_TRAP ? VIA_TRAP : VIA_FAST);
}

static int lx_complete_ready(struct zg_instance *in, int restored)
{
    struct lx_state *lx = lx_of(in);
    lx->redo = 1; /* serve the read the program was stopped in */
    if (restored)
        lx_threads_restored(lx);
    return 0;
}

static void lx_last_call(const struct zg_instance *in, char *buf, size_t len)
{
    const struct lx_state *lx = in->pdata;
    if (!lx || lx->last_nr < 0)
        snprintf(buf, len, "the monitor had served no system call of it");
    else
        snprintf(buf, len, "the last system call the monitor served was %s",
                 lx_name((unsigned)lx->last_nr));
}

/* The template point is always the `out` of the runtime's entry, which
 * FXRSTORs the program's FPU state after it (linux/rt/entry.S; a template
 * made with an older runtime has another LX_STATE_VERSION and is refused). */
static int lx_guest_restores_fpu(const struct zg_instance *in)
{
    (void)in;
    return 1;
}

static enum zg_hc_action lx_before_run(struct zg_instance *in, struct zg_run_result *res)
{
    struct lx_state *lx = lx_of(in);
    if (!lx->redo) {
        lx_publish(in);
        return ZG_HC_CONTINUE;
    }
    lx->redo = 0;
    return serve_frame(in, res, VIA_REDO);
}

static void lx_end(struct zg_instance *in)
{
    if (in->pdata)
        lx_flush(in); /* a program killed or faulting: what it wrote is sent */
}

/* An exception the program could not take: a #PF in the mmap area may be
 * a first touch, backed here (lx_sparse.c). */
static int lx_fault(struct zg_instance *in, int vector, uint64_t addr, struct zg_run_result *res)
{
    if (vector != 14 || !in->pdata)
        return 0;
    return lx_sparse_fault(in, addr, res);
}

static void lx_detach(struct zg_instance *in)
{
    free(in->pdata);
    in->pdata = NULL;
}

static int lx_summary(const struct zg_instance *in, char *buf, size_t len)
{
    const struct lx_state *lx = in->pdata;
    if (!lx)
        return 0;
    const struct zg_linux_shared *sh = zg_guest_ptr(in, ZG_LINUX_SHARED_GPA, sizeof(*sh));
    uint64_t inside = sh ? sh->served - lx->served0 : 0; /* the runtime's count: a statistic */
    snprintf(buf, len,
             "linux: %llu system calls served in the guest, %llu by the monitor; exits: %llu "
             "after a `syscall` trap, %llu from rewritten call sites; %u call sites rewritten "
             "in this run; mmap area: %llu 2 MiB regions backed on touch, %llu given back, %u "
             "in use, mappings forgotten %llu times",
             (unsigned long long)inside, (unsigned long long)lx->calls,
             (unsigned long long)lx->trapped, (unsigned long long)lx->fast, lx->rewritten,
             (unsigned long long)lx->backed, (unsigned long long)lx->unbacked, lx->frames_used,
             (unsigned long long)lx->forgot);
    return 1;
}

const struct zg_persona_ops zg_persona_linux_ops = {
    .name = "linux",
    .boot = lx_boot,
    .io = lx_io,
    .complete_ready = lx_complete_ready,
    .guest_restores_fpu = lx_guest_restores_fpu,
    .last_call = lx_last_call,
    .before_run = lx_before_run,
    .end = lx_end,
    .detach = lx_detach,
    .fault = lx_fault,
    .save = lx_save,
    .state_version = LX_STATE_VERSION,
    .load = lx_load,
    .summary = lx_summary,
    .describe = lx_describe,
};
