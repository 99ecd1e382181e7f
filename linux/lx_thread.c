/* Linux personality: threads (docs/abi.md "Threads").
 *
 * Every thread of an instance runs on its one vCPU. A thread that is not
 * running is stopped in a call: its call frame (the call, where it returns,
 * its stack pointer, RFLAGS and the callee-saved registers; linux_abi.h)
 * and its FPU image, which the runtime's entry saves around every exit and
 * loads back after it. So the monitor switches threads by copying the
 * running thread's frame and image into its record and the next one's out
 * of its record, and the FS base when the two differ: no register ioctl.
 * The records are plain data in lx_state, so a template carries every
 * thread and a pooled reset puts all of them back.
 *
 * Scheduling: a thread runs until its call would block (LX_BLOCK), it
 * yields, waits on a futex or ends; then the next runnable thread runs,
 * round robin. When none can run, the instance waits (lx_sched_wait) for
 * the first of what the threads wait for, serves the waiting calls again,
 * and runs one that can. Futexes are served here: a wait puts the thread in
 * the futex state, a wake makes waiters runnable with 0. A thread that
 * spins without calling the kernel is not preempted: it runs until the
 * instance's deadline. */
#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "linux/lx_int.h"

#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ull
#endif

static struct zg_linux_sigthread *sigthreads(struct zg_instance *in)
{
    return zg_guest_wptr(in, ZG_LINUX_THREADS_GPA,
                         ZG_LINUX_NTHREAD * sizeof(struct zg_linux_sigthread));
}

/* The running thread's frame and FPU image into its record. */
static void save(struct zg_instance *in, struct lx_state *lx)
{
    struct lx_thread *t = lx_self(lx);
    const void *f = zg_guest_ptr(in, ZG_LINUX_FRAME_GPA, sizeof(t->frame));
    const void *fpu = zg_guest_ptr(in, ZG_LINUX_FPU_GPA, sizeof(t->fpu));
    if (f)
        memcpy(&t->frame, f, sizeof(t->frame));
    if (fpu)
        memcpy(t->fpu, fpu, sizeof(t->fpu));
}

/* Thread i becomes the running one: its frame and image into guest memory,
 * its FS and GS bases into the vCPU when they differ from the running
 * thread's. 0 or -EIO. */
static int load(struct zg_instance *in, struct lx_state *lx, unsigned i)
{
    struct lx_thread *from = lx_self(lx), *t = &lx->thread[i];
    void *f = zg_guest_wptr(in, ZG_LINUX_FRAME_GPA, sizeof(t->frame));
    void *fpu = zg_guest_wptr(in, ZG_LINUX_FPU_GPA, sizeof(t->fpu));
    if (!f || !fpu)
        return -EIO;
    memcpy(f, &t->frame, sizeof(t->frame));
    memcpy(fpu, t->fpu, sizeof(t->fpu));
    if (from->fs_base != t->fs_base || from->gs_base != t->gs_base) {
        struct zg_vcpu_state st;
        if (in->hv->vcpu_get_state(in->vm, &st, ZG_VCPU_SREGS) < 0)
            return -EIO;
        st.sregs.fs.base = t->fs_base;
        st.sregs.gs.base = t->gs_base;
        if (in->hv->vcpu_set_state(in->vm, &st, ZG_VCPU_SREGS) < 0)
            return -EIO;
    }
    lx->cur = i;
    return 0;
}

int lx_others_runnable(const struct lx_state *lx)
{
    for (unsigned i = 0; i < LX_NTHREAD; i++)
        if (i != lx->cur && lx->thread[i].state == LX_T_RUN)
            return 1;
    return 0;
}

/* Serves the call of waiting thread i again (its frame is in its record):
 * it becomes runnable with the result, or keeps waiting (what for updated).
 * 1 if the call ended the instance (c->stop). */
static int retry(struct lx_call *c, unsigned i)
{
    struct lx_thread *t = &c->lx->thread[i];
    const struct lx_row *r = lx_row_of(t->frame.nr);
    struct lx_call rc = {.in = c->in, .lx = c->lx, .res = c->res, .started = t->started};
    rc.nr = r ? r->nr : LX_NSYSCALL;
    memcpy(rc.a, t->frame.arg, sizeof(rc.a));
    rc.wait = (struct lx_wait){.host_fd = -1};
    int64_t ret = r ? r->fn(&rc) : -ENOSYS;
    if (rc.stop) {
        c->stop = 1;
        return 1;
    }
    if (ret == LX_BLOCK) {
        t->wait = rc.wait;
        t->state = rc.wait.futex ? LX_T_FUTEX : LX_T_WAIT;
    } else {
        t->frame.ret = ret;
        t->state = LX_T_RUN;
    }
    return 0;
}

/* The next runnable thread after the running one (round robin; the running
 * one last), or -1. */
static int next_runnable(const struct lx_state *lx)
{
    for (unsigned k = 1; k <= LX_NTHREAD; k++) {
        unsigned i = (lx->cur + k) % LX_NTHREAD;
        if (lx->thread[i].state == LX_T_RUN)
            return (int)i;
    }
    return -1;
}

/* Runs thread i: loaded (its record into guest memory), the call it was
 * left in to be served if it was postponed. */
static enum zg_hc_action run_thread(struct lx_call *c, unsigned i, int *redo)
{
    struct lx_thread *t = &c->lx->thread[i];
    if (load(c->in, c->lx, i) < 0) {
        c->res->end = ZG_END_HOST;
        snprintf(c->res->why, sizeof(c->res->why), "cannot switch to thread %u", t->tid);
        return ZG_HC_STOP;
    }
    *redo = t->redo != 0;
    t->redo = 0;
    return ZG_HC_CONTINUE;
}

enum zg_hc_action lx_schedule(struct lx_call *c, int64_t ret, int *redo)
{
    struct lx_state *lx = c->lx;
    struct lx_thread *self = lx_self(lx);
    *redo = 0;
    if (c->sched != LX_GONE) {
        save(c->in, lx);
        self->frame.ret = ret;
        if (ret == LX_BLOCK) {
            self->wait = c->wait;
            self->started = c->started;
            self->state = c->wait.futex ? LX_T_FUTEX : LX_T_WAIT;
        }
    }
    for (;;) {
        int next = next_runnable(lx);
        if (next >= 0)
            return run_thread(c, (unsigned)next, redo);
        /* No thread can run: serve the waiting calls again (what changed, a
         * time past), end the futex waits whose time has come ... */
        uint64_t now = zg_now_ns();
        struct lx_wait all = {.host_fd = -1};
        int waiting = 0;
        for (unsigned k = 1; k <= LX_NTHREAD; k++) {
            unsigned i = (lx->cur + k) % LX_NTHREAD;
            struct lx_thread *t = &lx->thread[i];
            if (t->state == LX_T_FUTEX && t->wait.until && now >= t->wait.until) {
                t->frame.ret = -ETIMEDOUT;
                t->state = LX_T_RUN;
            } else if (t->state == LX_T_WAIT && retry(c, i)) {
                return ZG_HC_STOP;
            }
            if (t->state != LX_T_WAIT && t->state != LX_T_FUTEX)
                continue;
            waiting = 1;
            if (t->wait.host_fd >= 0)
                all.host_fd = t->wait.host_fd, all.events |= t->wait.events;
            if (t->wait.until && (!all.until || t->wait.until < all.until))
                all.until = t->wait.until;
        }
        if (next_runnable(lx) >= 0)
            continue;
        if (!waiting) { /* cannot be: the last thread's exit ends the instance */
            c->res->end = ZG_END_FAULT;
            snprintf(c->res->why, sizeof(c->res->why), "no thread left to run");
            return ZG_HC_STOP;
        }
        /* ... and wait for the first of what they wait for. */
        if (!lx_sched_wait(c->in, &all))
            return ZG_HC_CONTINUE; /* the deadline: the run loop ends the instance */
    }
}

enum zg_hc_action lx_postpone(struct lx_call *c, int *redo)
{
    save(c->in, c->lx);
    lx_self(c->lx)->redo = 1;
    int next = next_runnable(c->lx);
    return run_thread(c, next >= 0 ? (unsigned)next : c->lx->cur, redo);
}

/* ---- Creation and exit ------------------------------------------------------ */
#define THREAD_FLAGS (CLONE_VM | CLONE_THREAD | CLONE_SIGHAND)
#define THREAD_OPTIONAL                                                                            \
    (CLONE_FS | CLONE_FILES | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |                 \
     CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | CLONE_DETACHED)

static int64_t do_clone(struct lx_call *c, uint64_t flags, uint64_t stack, uint64_t ptid,
                        uint64_t ctid, uint64_t tls)
{
    struct lx_state *lx = c->lx;
    if (!(flags & CLONE_VM) || (flags & CLONE_VFORK)) {
        if (lx_first_time(lx, c->nr))
            lx_log(c->in, "zerg: linux: %s of a new process: ENOSYS (one process per instance)",
                   lx_name(c->nr));
        return -ENOSYS;
    }
    if ((flags & THREAD_FLAGS) != THREAD_FLAGS ||
        (flags & ~(uint64_t)(THREAD_FLAGS | THREAD_OPTIONAL | 0xff)))
        return -EINVAL;
    if ((flags & CLONE_SETTLS) && tls >= ZG_LINUX_STACK_VA_END)
        return -EPERM;
    unsigned i;
    for (i = 0; i < LX_NTHREAD && lx->thread[i].state != LX_T_FREE; i++)
        ;
    if (i == LX_NTHREAD) {
        if (lx_first_time(lx, c->nr))
            lx_log(c->in, "zerg: linux: more than %u threads at once: EAGAIN", LX_NTHREAD);
        return -EAGAIN;
    }
    void *pt = (flags & CLONE_PARENT_SETTID) ? lx_uwptr(c->in, ptid, 4) : NULL;
    void *ct = (flags & CLONE_CHILD_SETTID) ? lx_uwptr(c->in, ctid, 4) : NULL;
    if (((flags & CLONE_PARENT_SETTID) && !pt) || ((flags & CLONE_CHILD_SETTID) && !ct))
        return -EFAULT;
    struct zg_linux_sigthread *sig = sigthreads(c->in);
    if (!sig)
        return -EIO;
    struct lx_thread *parent = lx_self(lx), *t = &lx->thread[i];
    uint32_t tid = lx->next_tid++;
    save(c->in, lx); /* the parent's frame and image: the child's start */
    memset(t, 0, sizeof(*t));
    t->tid = tid;
    t->state = LX_T_RUN;
    t->frame = parent->frame;
    memcpy(t->fpu, parent->fpu, sizeof(t->fpu));
    t->frame.ret = 0; /* the child returns 0 from the call ... */
    if (stack)
        t->frame.rsp = stack; /* ... on its own stack */
    t->fs_base = (flags & CLONE_SETTLS) ? tls : parent->fs_base;
    t->gs_base = parent->gs_base;
    t->clear_tid = (flags & CLONE_CHILD_CLEARTID) ? ctid : 0;
    /* its signal mask is its parent's; no alternate stack (as Linux) */
    sig[i] = (struct zg_linux_sigthread){.tid = tid, .sigmask = sig[lx->cur].sigmask};
    if (pt)
        memcpy(pt, &tid, 4);
    if (ct)
        memcpy(ct, &tid, 4);
    lx->nthread++;
    return tid;
}

int64_t lx_sys_clone(struct lx_call *c)
{
    /* x86-64: clone(flags, stack, parent_tid, child_tid, tls) */
    return do_clone(c, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4]);
}

int64_t lx_sys_clone3(struct lx_call *c)
{
    /* struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal,
     * stack, stack_size, tls, set_tid, set_tid_size, cgroup */
    if (c->a[1] < 64 || c->a[1] > 4096)
        return -EINVAL;
    const void *src = lx_uptr(c->in, c->a[0], 64);
    if (!src)
        return -EFAULT;
    uint64_t a[8]; /* the program's pointer need not be aligned */
    memcpy(a, src, sizeof(a));
    uint64_t flags = a[0], stack = a[5], size = a[6];
    if (a[4] || (flags & 0xff))
        return (flags & CLONE_VM) ? -EINVAL : -ENOSYS; /* an exit signal: a process */
    if ((stack && !size) || (!stack && size) || stack + size < stack)
        return -EINVAL;
    if (c->a[1] > 64) { /* set_tid, cgroup: none may be asked for */
        const void *msrc = lx_uptr(c->in, c->a[0] + 64, 24);
        if (!msrc)
            return -EFAULT;
        uint64_t more[3];
        memcpy(more, msrc, sizeof(more));
        if (more[0] || more[1] || (c->a[1] >= 88 && more[2]))
            return -EINVAL;
    }
    return do_clone(c, flags, stack ? stack + size : 0, a[3], a[2], a[7]);
}

/* A thread that ends holding a robust mutex: the futex word at uaddr, if
 * the thread owns it, is marked FUTEX_OWNER_DIED and a waiter woken (the
 * next locker gets EOWNERDEAD), as Linux's handle_futex_death. */
static void futex_death(struct lx_call *c, uint64_t uaddr, uint32_t tid)
{
    void *p = (uaddr & 3) ? NULL : lx_uwptr(c->in, uaddr, 4);
    if (!p)
        return;
    uint32_t val;
    memcpy(&val, p, 4);
    if ((val & FUTEX_TID_MASK) != tid)
        return;
    uint32_t now = (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    memcpy(p, &now, 4);
    if (val & FUTEX_WAITERS)
        (void)lx_futex_wake(c->lx, uaddr, 1, FUTEX_BITSET_MATCH_ANY);
}

/* The robust list of an exiting thread (set_robust_list): each entry's
 * futex word at entry + futex_offset, and the one being locked or unlocked
 * (list_op_pending). At most 2048 entries, as Linux (a loop in a list the
 * program wrote ends there). */
static void walk_robust(struct lx_call *c, const struct lx_thread *t)
{
    uint64_t head[3]; /* list.next, futex_offset, list_op_pending */
    const void *h = t->robust ? lx_uptr(c->in, t->robust, sizeof(head)) : NULL;
    if (!h)
        return;
    memcpy(head, h, sizeof(head));
    int64_t off = (int64_t)head[1];
    uint64_t entry = head[0] & ~1ull, pending = head[2] & ~1ull;
    for (unsigned n = 0; entry && entry != t->robust && n < 2048; n++) {
        const void *e = lx_uptr(c->in, entry, 8);
        if (!e)
            break;
        uint64_t next;
        memcpy(&next, e, 8);
        if (entry != pending)
            futex_death(c, entry + (uint64_t)off, t->tid);
        entry = next & ~1ull;
    }
    if (pending)
        futex_death(c, pending + (uint64_t)off, t->tid);
}

/* exit: the thread ends; the robust mutexes it holds are marked as their
 * owner's death, its clear_child_tid is cleared and woken (so pthread_join
 * returns). The last thread's exit ends the instance. */
int64_t lx_sys_exit_thread(struct lx_call *c)
{
    struct lx_state *lx = c->lx;
    if (lx->nthread <= 1)
        return lx_sys_exit(c);
    struct lx_thread *t = lx_self(lx);
    walk_robust(c, t);
    if (t->clear_tid) {
        void *w = lx_uwptr(c->in, t->clear_tid, 4);
        if (w) {
            memset(w, 0, 4);
            (void)lx_futex_wake(lx, t->clear_tid, 1, FUTEX_BITSET_MATCH_ANY);
        }
    }
    struct zg_linux_sigthread *sig = sigthreads(c->in);
    if (sig)
        sig[lx->cur] = (struct zg_linux_sigthread){0};
    uint64_t fs = t->fs_base, gs = t->gs_base;
    memset(t, 0, sizeof(*t));
    t->fs_base = fs, t->gs_base = gs; /* what the vCPU holds, for the next load */
    lx->nthread--;
    c->sched = LX_GONE;
    return 0;
}

int64_t lx_sys_get_robust_list(struct lx_call *c)
{
    const struct lx_thread *t = NULL;
    for (unsigned i = 0; i < LX_NTHREAD && !t; i++)
        if (c->lx->thread[i].state != LX_T_FREE &&
            (c->a[0] ? c->lx->thread[i].tid == c->a[0] : i == c->lx->cur))
            t = &c->lx->thread[i];
    if (!t)
        return -ESRCH;
    void *head = lx_uwptr(c->in, c->a[1], 8), *len = lx_uwptr(c->in, c->a[2], 8);
    if (!head || !len)
        return -EFAULT;
    uint64_t size = 24; /* sizeof(struct robust_list_head) */
    memcpy(head, &t->robust, 8);
    memcpy(len, &size, 8);
    return 0;
}

int64_t lx_sys_gettid(struct lx_call *c)
{
    return lx_self(c->lx)->tid;
}

int64_t lx_sys_sched_yield(struct lx_call *c)
{
    if (lx_others_runnable(c->lx))
        c->sched = LX_YIELD;
    return 0;
}

/* ---- Futexes ------------------------------------------------------------------ */
int lx_futex_wake(struct lx_state *lx, uint64_t uaddr, uint32_t n, uint32_t bitset)
{
    int woken = 0;
    for (unsigned k = 1; k <= LX_NTHREAD && (uint32_t)woken < n; k++) {
        struct lx_thread *t = &lx->thread[(lx->cur + k) % LX_NTHREAD];
        if (t->state == LX_T_FUTEX && t->wait.futex == uaddr && (t->wait.bitset & bitset)) {
            t->state = LX_T_RUN;
            t->frame.ret = 0;
            t->wait = (struct lx_wait){.host_fd = -1};
            woken++;
        }
    }
    return woken;
}

/* Moves up to n waiters of uaddr to uaddr2: how many. */
static int futex_requeue(struct lx_state *lx, uint64_t uaddr, uint64_t uaddr2, uint32_t n)
{
    int moved = 0;
    for (unsigned i = 0; i < LX_NTHREAD && (uint32_t)moved < n; i++) {
        struct lx_thread *t = &lx->thread[i];
        if (t->state == LX_T_FUTEX && t->wait.futex == uaddr) {
            t->wait.futex = uaddr2;
            moved++;
        }
    }
    return moved;
}

/* FUTEX_WAKE_OP's operation on *w2 and its comparison of the old value. */
static int wake_op(uint32_t *w2, uint32_t v3, int *cmp)
{
    uint32_t op = (v3 >> 28) & 7, cmpop = (v3 >> 24) & 15;
    uint32_t arg = (v3 >> 12) & 0xfff, cmparg = v3 & 0xfff;
    if ((v3 >> 31) & 1) /* FUTEX_OP_OPARG_SHIFT */
        arg = arg < 32 ? 1u << arg : 0;
    uint32_t old = *w2;
    switch (op & 7) {
    case FUTEX_OP_SET:
        *w2 = arg;
        break;
    case FUTEX_OP_ADD:
        *w2 = old + arg;
        break;
    case FUTEX_OP_OR:
        *w2 = old | arg;
        break;
    case FUTEX_OP_ANDN:
        *w2 = old & ~arg;
        break;
    case FUTEX_OP_XOR:
        *w2 = old ^ arg;
        break;
    default:
        return -ENOSYS;
    }
    int32_t o = (int32_t)old, a = (int32_t)cmparg;
    switch (cmpop) {
    case FUTEX_OP_CMP_EQ:
        *cmp = o == a;
        break;
    case FUTEX_OP_CMP_NE:
        *cmp = o != a;
        break;
    case FUTEX_OP_CMP_LT:
        *cmp = o < a;
        break;
    case FUTEX_OP_CMP_LE:
        *cmp = o <= a;
        break;
    case FUTEX_OP_CMP_GT:
        *cmp = o > a;
        break;
    case FUTEX_OP_CMP_GE:
        *cmp = o >= a;
        break;
    default:
        return -ENOSYS;
    }
    return 0;
}

int64_t lx_sys_futex(struct lx_call *c)
{
    unsigned cmd = (unsigned)(c->a[1] & FUTEX_CMD_MASK);
    uint64_t uaddr = c->a[0], uaddr2 = c->a[4];
    uint32_t val = (uint32_t)c->a[2], val3 = (uint32_t)c->a[5];
    if (uaddr & 3)
        return -EINVAL; /* an unaligned futex word, as Linux */
    const uint32_t *word = lx_uptr(c->in, uaddr, 4);
    if (!word)
        return -EFAULT;
    switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
        uint32_t bitset = cmd == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : val3;
        if (!bitset)
            return -EINVAL;
        uint64_t until = 0;
        if (c->a[3]) { /* WAIT: relative on CLOCK_MONOTONIC; BITSET: absolute */
            clockid_t clk = (c->a[1] & FUTEX_CLOCK_REALTIME) ? CLOCK_REALTIME : CLOCK_MONOTONIC;
            int rc = lx_until(c, (uint64_t)clk, cmd == FUTEX_WAIT_BITSET ? TIMER_ABSTIME : 0,
                              c->a[3], &until);
            if (rc < 0)
                return rc;
            if (!until)
                until = 1;
        }
        if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != val)
            return -EAGAIN;
        if (until && zg_now_ns() >= until)
            return -ETIMEDOUT;
        c->wait = (struct lx_wait){.host_fd = -1, .until = until, .futex = uaddr, .bitset = bitset};
        return LX_BLOCK;
    }
    case FUTEX_WAKE:
        return lx_futex_wake(c->lx, uaddr, val, FUTEX_BITSET_MATCH_ANY);
    case FUTEX_WAKE_BITSET:
        return val3 ? lx_futex_wake(c->lx, uaddr, val, val3) : -EINVAL;
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
        if (cmd == FUTEX_CMP_REQUEUE && *word != val3)
            return -EAGAIN;
        if ((uaddr2 & 3) || !lx_uptr(c->in, uaddr2, 4))
            return (uaddr2 & 3) ? -EINVAL : -EFAULT;
        int woken = lx_futex_wake(c->lx, uaddr, val, FUTEX_BITSET_MATCH_ANY);
        return woken + futex_requeue(c->lx, uaddr, uaddr2, (uint32_t)c->a[3]);
    }
    case FUTEX_WAKE_OP: {
        uint32_t *w2 = (uaddr2 & 3) ? NULL : lx_uwptr(c->in, uaddr2, 4);
        if (!w2)
            return (uaddr2 & 3) ? -EINVAL : -EFAULT;
        int cmp = 0, rc = wake_op(w2, val3, &cmp);
        if (rc < 0)
            return rc;
        int woken = lx_futex_wake(c->lx, uaddr, val, FUTEX_BITSET_MATCH_ANY);
        if (cmp)
            woken += lx_futex_wake(c->lx, uaddr2, (uint32_t)c->a[3], FUTEX_BITSET_MATCH_ANY);
        return woken;
    }
    default:
        if (lx_first_time(c->lx, c->nr))
            lx_log(c->in, "zerg: linux: futex operation %u is not supported: ENOSYS", cmd);
        return -ENOSYS; /* the PI futexes */
    }
}

/* ---- Templates ------------------------------------------------------------------ */
int lx_threads_ok(const struct lx_state *lx)
{
    unsigned live = 0;
    if (lx->cur >= LX_NTHREAD || lx->thread[lx->cur].state == LX_T_FREE || lx->next_tid < 2)
        return 0;
    for (unsigned i = 0; i < LX_NTHREAD; i++) {
        const struct lx_thread *t = &lx->thread[i];
        if (t->state > LX_T_FUTEX || t->redo > 1)
            return 0;
        if (t->state == LX_T_FREE)
            continue;
        if (!t->tid || t->tid >= lx->next_tid || (t->state == LX_T_FUTEX && !t->wait.futex))
            return 0;
        for (unsigned j = 0; j < i; j++)
            if (lx->thread[j].state != LX_T_FREE && lx->thread[j].tid == t->tid)
                return 0;
        live++;
    }
    return live == lx->nthread;
}

void lx_threads_restored(struct lx_state *lx)
{
    uint64_t now = zg_now_ns();
    for (unsigned i = 0; i < LX_NTHREAD; i++) {
        struct lx_thread *t = &lx->thread[i];
        if (t->state == LX_T_WAIT || t->state == LX_T_FUTEX) {
            /* the template's process's clock and descriptors mean nothing
             * here: a futex wait's time is dropped (a wake still ends it), a
             * waiting call is served again from now */
            t->started = now;
            t->wait.host_fd = -1;
            if (t->state == LX_T_FUTEX)
                t->wait.until = 0;
        }
    }
}
