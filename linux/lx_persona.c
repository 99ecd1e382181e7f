/* Linux personality: the ops table, the call dispatcher, guest memory as the
 * program names it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* The guest-physical address of the program's [va, va+len), or 0. */
static uint64_t translate(const struct lx_state *lx, uint64_t va, uint64_t len)
{
    const struct lx_layout *l = &lx->l;
    if (len == 0 || va + len < va)
        return 0;
    if (va >= ZG_LINUX_RT_END && va + len <= l->ident_end)
        return va;
    if (va >= ZG_LINUX_MMAP_VA && va - ZG_LINUX_MMAP_VA <= l->mmap_size &&
        len <= l->mmap_size - (va - ZG_LINUX_MMAP_VA))
        return l->mmap_gpa + (va - ZG_LINUX_MMAP_VA);
    uint64_t slo = ZG_LINUX_STACK_VA_END - ZG_LINUX_STACK_SIZE;
    if (va >= slo && va + len <= ZG_LINUX_STACK_VA_END)
        return l->stack_gpa + (va - slo);
    return 0;
}

void *lx_uptr(struct zg_instance *in, uint64_t va, uint64_t len)
{
    uint64_t gpa = translate(lx_of(in), va, len);
    return gpa ? zg_guest_ptr(in, gpa, len) : NULL;
}

void *lx_uwptr(struct zg_instance *in, uint64_t va, uint64_t len)
{
    uint64_t gpa = translate(lx_of(in), va, len);
    return gpa ? zg_guest_wptr(in, gpa, len) : NULL;
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

/* ---- Dispatch ----------------------------------------------------------------- */
static const struct lx_row *row_of(unsigned nr)
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

/* Serves the call in the frame; fills res and returns ZG_HC_STOP when the
 * instance ends (or stops at the template point). */
static enum zg_hc_action serve_frame(struct zg_instance *in, struct zg_run_result *res, int trapped)
{
    struct lx_state *lx = lx_of(in);
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
    if (trapped) /* before the template point too: the template keeps the site */
        lx_patch_site(in, lx, f->rip, nr);
    /* The template point: the program's first read of its request (stdio
     * model), its first wait for a connection (server model: accept, or poll
     * on its listening socket), or its opening of ZG_LINUX_READY_PATH (a
     * program that wants to choose). */
    if ((in->cfg.flags & ZG_INST_STOP_AT_READY) &&
        (((nr == 0 || nr == 19) /* read, readv */ && c.a[0] == 0 &&
          lx->fd[0].kind == LX_FD_STDIN) ||
         lx_is_ready_open(&c) || lx_is_first_wait(&c))) {
        in->cfg.flags &= ~ZG_INST_STOP_AT_READY;
        in->ready_gpa = ZG_LINUX_FRAME_GPA;
        res->end = ZG_END_READY;
        return ZG_HC_STOP;
    }
    lx->calls++;
    lx->trapped += trapped != 0;
    const struct lx_row *r = row_of(nr < LX_NSYSCALL ? (unsigned)nr : LX_NSYSCALL);
    int64_t ret;
    if (r) {
        ret = r->fn(&c);
    } else {
        if (nr >= LX_NSYSCALL || !(lx->logged[nr / 64] & (1ull << (nr % 64)))) {
            if (nr < LX_NSYSCALL)
                lx->logged[nr / 64] |= 1ull << (nr % 64);
            lx_log(in, "zerg: linux: system call %s (%llu) is not supported: ENOSYS",
                   lx_name((unsigned)(nr < LX_NSYSCALL ? nr : 0xffff)), (unsigned long long)nr);
        }
        ret = -ENOSYS;
    }
    if (c.stop)
        return ZG_HC_STOP;
    f->ret = ret;
    return ZG_HC_CONTINUE;
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
    return serve_frame(in, res, value == ZG_LINUX_CALL_TRAP);
}

static int lx_complete_ready(struct zg_instance *in, int restored)
{
    (void)restored;
    lx_of(in)->redo = 1; /* serve the read the program was stopped in */
    return 0;
}

static enum zg_hc_action lx_before_run(struct zg_instance *in, struct zg_run_result *res)
{
    struct lx_state *lx = lx_of(in);
    if (!lx->redo)
        return ZG_HC_CONTINUE;
    lx->redo = 0;
    return serve_frame(in, res, 0); /* counted when it trapped */
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
    snprintf(buf, len,
             "linux: %llu system calls, %llu by `syscall` (a trap each), %llu through "
             "rewritten call sites; %u call sites rewritten in this run",
             (unsigned long long)lx->calls, (unsigned long long)lx->trapped,
             (unsigned long long)(lx->calls - lx->trapped), lx->rewritten);
    return 1;
}

const struct zg_persona_ops zg_persona_linux_ops = {
    .name = "linux",
    .boot = lx_boot,
    .io = lx_io,
    .complete_ready = lx_complete_ready,
    .before_run = lx_before_run,
    .detach = lx_detach,
    .save = lx_save,
    .state_version = LX_STATE_VERSION,
    .load = lx_load,
    .summary = lx_summary,
    .describe = lx_describe,
};
