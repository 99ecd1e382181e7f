/* zerg serve's engine: the master process (accept, queue, dispatch, log,
 * signals, workers; the metrics and agent listeners are side.c's). See
 * zg_serve.h for the shape. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <linux/audit.h>

#include "pagecache/zg_pagecache.h"
#include "remote/zg_remote.h"
#include "serve/sv_int.h"

/* An error at start, on standard error as the zerg command prints them. */
static void sv_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sv_err(const char *fmt, ...)
{
    va_list ap;
    fputs("zerg: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- state ------------------------------------------------------------------ */

/* A slot is STARTING (preparing), IDLE (waiting for a job), GRANTED (idle,
 * and may accept one connection itself: direct accept), BUSY (serving a job
 * the master passed it) or DIRECT (serving a connection it accepted).
 * BUSY may also have a direct connection behind it (dbusy): a job sent to
 * a granted slot that had just accepted one. */
enum slot_state { SL_STARTING, SL_IDLE, SL_GRANTED, SL_BUSY, SL_DIRECT, SL_CLOSED };

struct mslot {
    int fd;
    int worker;
    int idx; /* the slot's index within its worker */
    int gen;
    enum slot_state state;
    uint32_t tmpl; /* the job's */
    uint64_t seq, accept_ns;
    int grant;   /* holds a grant: accepts its own connections when idle */
    int stacked; /* on the idle stack (once: a slot that served a direct
                    connection may still be there from its grant) */
    int dbusy;   /* a connection the slot accepted is in flight: */
    uint32_t dtmpl;
    uint64_t dseq, daccept_ns;
};

struct mworker {
    pid_t pid; /* 0: reaped */
    int gen;
    int nslots;
    struct zg_sandbox_note *note; /* shared with the worker: a call its sandbox stopped */
};

struct qconn {
    int fd;
    uint32_t tmpl;
    uint64_t seq, accept_ns;
};

struct master {
    struct sv_config cfg;
    char home[4096];
    struct sv_template tmpls[SV_MAX_TEMPLATES];
    int ntmpls;
    struct sv_listener lis[SV_MAX_LISTENERS];
    int nlis;
    struct sv_side *side;  /* --metrics and --agent (side.c); NULL: neither */
    int ep, sfd, spare_fd; /* sfd: the read end of the signal pipe */
    struct mslot *slots;
    int nslots, cap_slots;
    struct mworker *workers;
    int nworkers, cap_workers;
    int *idle; /* stack of slot indices */
    int nidle;
    struct qconn *q; /* ring of cfg.backlog (+1) */
    size_t qcap, qhead, qlen;
    uint64_t seq, busy;
    int direct;   /* slots accept under grants (pooled and fresh, unless --accept master) */
    int ngranted; /* slots GRANTED */
    int watching; /* the listeners are in the master's epoll */
    uint64_t refused_unlogged, refused_logged_at;
    int gen;
    int draining, stop_now;
    uint64_t drain_deadline;
    int pend[256]; /* slots to start again: one entry per dead worker (its size) */
    int npend;
    uint64_t respawn_at;
    int log_fd, log_json, quiet;
    int (*find_guest)(const struct zg_tmpl *t, const char *given, char *path, size_t len);
    struct sv_log log;
    struct sv_stats st;
    const char *pull_from;                     /* --pull-from: the store, or NULL */
    pid_t pull_pid[SV_MAX_TEMPLATES];          /* a pull running for template t */
    int pull_fd[SV_MAX_TEMPLATES];             /* its report (a pipe's read end) */
    uint64_t pull_failed_at[SV_MAX_TEMPLATES]; /* when its last pull failed */
};

/* Signals reach the loop through a pipe (the classic self-pipe; signalfd
 * would do, but valgrind cannot deliver to it): this is its write end. */
static int sig_pipe_w = -1;

enum { TAG_LISTENER = 1, TAG_SLOT, TAG_SIGNAL, TAG_SIDE, TAG_PULL };

static uint64_t tag(int type, int index)
{
    return ((uint64_t)type << 32) | (uint32_t)index;
}

static int ep_add(struct master *m, int fd, int type, int index)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(type, index)};
    return epoll_ctl(m->ep, EPOLL_CTL_ADD, fd, &ev);
}

/* ---- templates -------------------------------------------------------------- */

static void free_template(struct sv_template *t)
{
    zg_image_close(t->img);
    free(t->elf);
    t->img = NULL;
    t->elf = NULL;
}

/* Loads template t's current version into *out (image; cold: the ELF too). */
static int load_template(struct master *m, const char *name, struct sv_template *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    int rc = zg_image_open(m->home, name, 0, &out->img, err, errlen);
    if (rc < 0)
        return rc;
    if (out->img->note[0])
        sv_log_event(&m->log, "image-rebuilt", "%s", out->img->note);
    if (m->cfg.mode == SV_COLD) {
        char path[4096];
        if (!m->find_guest || m->find_guest(out->img->tmpl, m->cfg.guest, path, sizeof(path)) < 0 ||
            zg_file_read(path, 256u << 20, &out->elf, &out->elf_len) < 0) {
            free_template(out);
            return zg_errf(err, errlen, -ENOENT,
                           "--cold: cannot read the guest of template '%s' (%s); give --guest",
                           name, path);
        }
        XXH128_hash_t h = XXH3_128bits(out->elf, out->elf_len);
        XXH128_canonical_t c;
        XXH128_canonicalFromHash(&c, h);
        if (memcmp(c.digest, out->img->tmpl->info.guest_hash, 16) != 0)
            sv_log_event(&m->log, "warning", "%s is not the guest template '%s' was made from",
                         path, name);
    }
    return 0;
}

/* The backend: --backend, else the one the first template was captured on;
 * every template must have been captured on it. A backend that owns guest
 * memory (Xen) has no dirty log yet: no pooled reset (fresh instead) and no
 * memory cap. */
static int pick_backend(struct master *m)
{
    int first = 0;
    while (first < m->ntmpls - 1 && !m->tmpls[first].img)
        first++;
    const char *want = m->tmpls[first].img ? m->tmpls[first].img->tmpl->info.backend : "kvm";
    if (!m->cfg.hv && !(m->cfg.hv = zg_hv_lookup(want))) {
        sv_err("serve: backend '%s' is not built into this zerg", want);
        return -1;
    }
    for (int t = 0; t < m->ntmpls && m->cfg.mode != SV_COLD; t++) {
        char err[256];
        if (m->tmpls[t].img &&
            zg_image_check_backend(m->tmpls[t].img, m->cfg.hv, err, sizeof(err)) < 0) {
            sv_err("serve: %s", err);
            return -1;
        }
    }
    char detail[160] = "";
    if (m->cfg.hv->probe(detail, sizeof(detail)) < 0) {
        sv_err("serve: the %s backend cannot run: %s", m->cfg.hv->name, detail);
        return -1;
    }
    if (!(m->cfg.hv->caps & ZG_HV_CAP_DIRTY_LOG)) {
        if (m->cfg.mem_cap) {
            sv_err("serve: --mem-cap needs a dirty log, which the %s backend does not have yet",
                   m->cfg.hv->name);
            return -1;
        }
        if (m->cfg.mode == SV_POOLED)
            m->cfg.mode = SV_FRESH;
    }
    return 0;
}

static int template_index(struct master *m, const char *name)
{
    for (int i = 0; i < m->ntmpls; i++)
        if (!strcmp(m->tmpls[i].name, name))
            return i;
    if (m->ntmpls == SV_MAX_TEMPLATES || strlen(name) >= sizeof(m->tmpls[0].name))
        return -1;
    snprintf(m->tmpls[m->ntmpls].name, sizeof(m->tmpls[0].name), "%s", name);
    return m->ntmpls++;
}

/* ---- workers ---------------------------------------------------------------- */

static void close_slot(struct master *m, int s)
{
    struct mslot *sl = &m->slots[s];
    if (sl->state == SL_CLOSED)
        return;
    if (sl->state == SL_BUSY)
        m->busy--;
    if (sl->state == SL_GRANTED)
        m->ngranted--;
    if (sl->dbusy)
        m->busy--, sl->dbusy = 0;
    epoll_ctl(m->ep, EPOLL_CTL_DEL, sl->fd, NULL);
    close(sl->fd);
    sl->fd = -1;
    sl->state = SL_CLOSED;
}

/* Closes, in a new worker, every descriptor that belongs to the master. */
static void drop_master_fds(struct master *m)
{
    for (int i = 0; i < m->nlis && !m->direct; i++) /* direct: the slots accept from them */
        if (m->lis[i].fd >= 0)
            close(m->lis[i].fd);
    sv_side_drop_fds(m->side);
    for (int i = 0; i < m->nslots; i++)
        if (m->slots[i].fd >= 0)
            close(m->slots[i].fd);
    for (size_t i = 0; i < m->qlen; i++)
        close(m->q[(m->qhead + i) % m->qcap].fd);
    close(m->ep);
    close(m->sfd);
    close(sig_pipe_w);
    if (m->spare_fd >= 0)
        close(m->spare_fd);
    if (m->log_fd > 2)
        close(m->log_fd);
    if (m->log.fd > 2 && m->log.fd != m->log_fd)
        close(m->log.fd);
}

static int spawn_worker(struct master *m, int nslots)
{
    int mine[SV_SLOTS_PER_WORKER * 4], theirs[SV_SLOTS_PER_WORKER * 4];
    if (nslots > (int)(sizeof(mine) / sizeof(mine[0])))
        nslots = (int)(sizeof(mine) / sizeof(mine[0]));
    int made = 0;
    for (; made < nslots; made++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
            break;
        mine[made] = sv[0];
        theirs[made] = sv[1];
    }
    if (made < nslots) {
        for (int i = 0; i < made; i++) {
            close(mine[i]);
            close(theirs[i]);
        }
        return -EMFILE;
    }
    if (m->nworkers == m->cap_workers) {
        int cap = m->cap_workers ? m->cap_workers * 2 : 8;
        struct mworker *w = realloc(m->workers, (size_t)cap * sizeof(*w));
        if (!w)
            goto fail;
        m->workers = w;
        m->cap_workers = cap;
    }
    if (m->nslots + nslots > m->cap_slots) {
        int cap = (m->nslots + nslots) * 2;
        struct mslot *s = realloc(m->slots, (size_t)cap * sizeof(*s));
        int *idle = realloc(m->idle, (size_t)cap * sizeof(*idle));
        if (s)
            m->slots = s;
        if (idle)
            m->idle = idle;
        if (!s || !idle)
            goto fail;
        m->cap_slots = cap;
    }
    /* Signals stay blocked across fork: none may reach the child while it
     * still has the master's handlers and self-pipe. */
    struct zg_sandbox_note *note =
        mmap(NULL, sizeof(*note), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (note == MAP_FAILED)
        goto fail;
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid_t master = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < nslots; i++)
            close(mine[i]);
        drop_master_fds(m);
        sv_worker_main(&m->cfg, m->tmpls, m->ntmpls, m->lis, m->direct ? m->nlis : 0, theirs,
                       nslots, master, note);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        munmap(note, sizeof(*note));
        goto fail;
    }
    int w = m->nworkers++;
    m->workers[w] = (struct mworker){.pid = pid, .gen = m->gen, .nslots = nslots, .note = note};
    for (int i = 0; i < nslots; i++) {
        close(theirs[i]);
        int s = m->nslots++;
        m->slots[s] = (struct mslot){
            .fd = mine[i], .worker = w, .idx = i, .gen = m->gen, .state = SL_STARTING};
        ep_add(m, mine[i], TAG_SLOT, s);
    }
    return 0;
fail:
    for (int i = 0; i < nslots; i++) {
        close(mine[i]);
        close(theirs[i]);
    }
    return -ENOMEM;
}

/* Starts the current generation's workers: max_instances slots in all.
 * Returns how many slots could not be started (0: all). */
static int spawn_generation(struct master *m)
{
    uint64_t left = m->cfg.max_instances;
    for (uint64_t w = 0; w < m->cfg.workers && left; w++) {
        uint64_t n = (left + (m->cfg.workers - w) - 1) / (m->cfg.workers - w);
        if (spawn_worker(m, (int)n) < 0)
            return (int)left;
        left -= n;
    }
    return 0;
}

static uint64_t live_workers(const struct master *m)
{
    uint64_t n = 0;
    for (int i = 0; i < m->nworkers; i++)
        n += m->workers[i].pid > 0;
    return n;
}

/* Schedules n slots of the current generation to be started again, in
 * workers of at most the configured size, at most once a second. */
static void pend_slots(struct master *m, int n)
{
    int per = (int)((m->cfg.max_instances + m->cfg.workers - 1) / m->cfg.workers);
    while (n > 0 && m->npend < (int)(sizeof(m->pend) / sizeof(m->pend[0]))) {
        int k = n < per ? n : per;
        m->pend[m->npend++] = k;
        n -= k;
    }
    uint64_t now = zg_now_ns();
    if (m->respawn_at < now)
        m->respawn_at = now + 1000000000ull;
}

static void pull_done(struct master *m, int t, int status);

static void reap(struct master *m)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return;
        for (int t = 0; t < m->ntmpls; t++)
            if (m->pull_pid[t] == pid)
                pull_done(m, t, status);
        for (int i = 0; i < m->nworkers; i++) {
            struct mworker *w = &m->workers[i];
            if (w->pid != pid)
                continue;
            w->pid = 0;
            int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (!clean) {
                m->st.worker_deaths++;
                char stopped[128] = "";
                if (w->note && __atomic_load_n(&w->note->seen, __ATOMIC_ACQUIRE)) {
                    m->st.sandbox_kills++;
                    snprintf(stopped, sizeof(stopped), ": its sandbox stopped system call %d (%s)",
                             (int)w->note->nr,
                             w->note->arch == AUDIT_ARCH_X86_64
                                 ? zg_syscall_name((unsigned)w->note->nr)
                                 : "another architecture's");
                }
                sv_log_event(&m->log, "worker-died", "worker %d (pid %d) %s %d%s", i, (int)pid,
                             WIFSIGNALED(status) ? "killed by signal" : "exited with status",
                             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), stopped);
                /* Its slots' sockets report the end of their connections. */
                if (w->gen == m->gen && !m->draining)
                    pend_slots(m, w->nslots);
            }
            if (w->note) {
                munmap(w->note, sizeof(*w->note));
                w->note = NULL;
            }
        }
    }
}

/* ---- connections -------------------------------------------------------------- */

/* An idle slot for a job: granted ones too (the master accepted because
 * none was waiting; a connection such a slot accepted meanwhile is served
 * first, then the job). */
static void push_idle(struct master *m, int s)
{
    if (!m->slots[s].stacked) {
        m->slots[s].stacked = 1;
        m->idle[m->nidle++] = s;
    }
}

static int pop_idle(struct master *m)
{
    while (m->nidle) {
        int s = m->idle[--m->nidle];
        struct mslot *sl = &m->slots[s];
        sl->stacked = 0;
        if ((sl->state == SL_IDLE || sl->state == SL_GRANTED) && sl->gen == m->gen) {
            if (sl->state == SL_GRANTED)
                m->ngranted--;
            sl->state = SL_IDLE;
            return s;
        }
    }
    return -1;
}

/* The master watches the listeners only while no slot is granted: then a
 * connection wakes a granted slot, not the master. */
static void master_watch(struct master *m, int on)
{
    if (m->watching == on)
        return;
    for (int i = 0; i < m->nlis; i++) {
        if (m->lis[i].fd < 0 || !m->tmpls[m->lis[i].tmpl].img)
            continue; /* a template not here yet is watched by pull_watch */
        if (on)
            ep_add(m, m->lis[i].fd, TAG_LISTENER, i);
        else
            epoll_ctl(m->ep, EPOLL_CTL_DEL, m->lis[i].fd, NULL);
    }
    m->watching = on;
}

/* 0: handed over; -1: that slot is gone (try another); -2: a passing
 * shortage (ENOBUFS...): the slot stays idle, the connection waits. */
static int send_to_slot(struct master *m, int s, const struct qconn *c)
{
    struct sv_job job = {.tmpl = c->tmpl, .seq = c->seq};
    int rc = sv_send_job(m->slots[s].fd, &job, c->fd);
    if (rc == -EPIPE || rc == -ECONNRESET || rc == -ENOTCONN || rc == -EBADF) {
        close_slot(m, s);
        return -1;
    }
    if (rc < 0) {
        push_idle(m, s);
        return -2;
    }
    close(c->fd);
    struct mslot *sl = &m->slots[s];
    sl->state = SL_BUSY;
    sl->tmpl = c->tmpl;
    sl->seq = c->seq;
    sl->accept_ns = c->accept_ns;
    m->busy++;
    return 0;
}

static void dispatch(struct master *m)
{
    while (m->qlen && m->busy < m->cfg.max_instances) {
        int s = pop_idle(m);
        if (s < 0)
            return;
        struct qconn *c = &m->q[m->qhead];
        int rc = send_to_slot(m, s, c);
        if (rc == -2)
            return; /* retried on the next turn of the loop */
        if (rc < 0)
            continue;
        m->qhead = (m->qhead + 1) % m->qcap;
        m->qlen--;
    }
}

/* Closes a connection nobody will serve, with a reset; logged at most once a
 * second (with how many since), so a flood cannot flood the log. */
static void refuse(struct master *m, int tmpl, int fd, const char *why)
{
    m->st.t[tmpl].refused++;
    sv_reset_close(fd);
    m->refused_unlogged++;
    uint64_t now = zg_now_ns();
    if (now - m->refused_logged_at >= 1000000000ull || m->draining) {
        sv_log_event(&m->log, "refused", "%llu connection(s) to template %s reset: %s",
                     (unsigned long long)m->refused_unlogged, m->tmpls[tmpl].name, why);
        m->refused_unlogged = 0;
        m->refused_logged_at = now;
    }
}

static void accept_on(struct master *m, int li)
{
    struct sv_listener *l = &m->lis[li];
    for (int burst = 0; burst < 256; burst++) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && m->spare_fd >= 0) {
                /* Out of descriptors: refuse one connection rather than spin. */
                close(m->spare_fd);
                fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
                m->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (fd >= 0) {
                    m->st.t[l->tmpl].accepted++;
                    refuse(m, l->tmpl, fd, "the server is out of file descriptors");
                }
            }
            return;
        }
        m->st.t[l->tmpl].accepted++;
        if (l->is_tcp) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        struct qconn c = {
            .fd = fd, .tmpl = (uint32_t)l->tmpl, .seq = ++m->seq, .accept_ns = zg_now_ns()};
        dispatch(m);
        if (m->qlen == 0 && m->busy < m->cfg.max_instances) {
            int s, rc = -1;
            while ((s = pop_idle(m)) >= 0 && (rc = send_to_slot(m, s, &c)) == -1)
                ;
            if (s >= 0 && rc == 0)
                continue;
        }
        if (m->qlen >= m->cfg.backlog) {
            refuse(m, l->tmpl, fd, "every instance busy and the backlog full");
            continue;
        }
        m->q[(m->qhead + m->qlen) % m->qcap] = c;
        m->qlen++;
    }
}

static enum sv_fail fail_reason(int32_t end)
{
    switch (end) {
    case ZG_END_DEADLINE:
        return SV_FAIL_DEADLINE;
    case ZG_END_FAULT:
        return SV_FAIL_FAULT;
    case ZG_END_MEMORY:
        return SV_FAIL_MEMORY;
    case SV_END_RESTORE:
        return SV_FAIL_RESTORE;
    default:
        return SV_FAIL_HOST;
    }
}

static void slot_idle(struct master *m, int s)
{
    struct mslot *sl = &m->slots[s];
    if (sl->gen != m->gen || (m->draining && m->qlen == 0)) {
        close_slot(m, s); /* an old generation's slot, or drained */
        return;
    }
    sl->state = SL_IDLE;
    if (m->direct && !sl->grant) {
        struct sv_job grant = {.tmpl = SV_JOB_ACCEPT};
        int rc = sv_send_job(sl->fd, &grant, -1);
        if (rc == -EPIPE || rc == -ECONNRESET || rc == -ENOTCONN || rc == -EBADF) {
            close_slot(m, s);
            return;
        }
        sl->grant = rc == 0;
    }
    if (sl->grant) {
        sl->state = SL_GRANTED;
        m->ngranted++;
    }
    push_idle(m, s);
}

/* A connection's end (or its loss), into the statistics and the log. */
static void finished(struct master *m, int s, struct sv_report *r, uint64_t seq, uint64_t accept_ns)
{
    struct mslot *sl = &m->slots[s];
    /* To the connection's close, not to this report: a slot reports after
     * preparing its next instance (a new VM, on Xen ~ a restore). */
    uint64_t end = r->end_ns > accept_ns ? r->end_ns : zg_now_ns();
    uint64_t total = end - accept_ns;
    uint64_t queued = total > r->run_ns ? total - r->run_ns : 0;
    struct sv_tmpl_stats *ts = &m->st.t[r->tmpl];
    if (r->end == ZG_END_EXIT) {
        ts->served++;
        if (r->status != 0)
            ts->exits_nonzero++;
    } else {
        if (r->end != SV_END_RESTORE)
            ts->served++;
        ts->failures[fail_reason(r->end)]++;
    }
    ts->bytes_in += r->bytes_in;
    ts->bytes_out += r->bytes_out;
    if (r->end != SV_END_RESTORE)
        sv_hist_add(&ts->restore, (double)r->prep_ns / 1e9);
    sv_hist_add(&ts->run, (double)r->run_ns / 1e9);
    sv_hist_add(&ts->total, (double)total / 1e9);
    r->why[sizeof(r->why) - 1] = '\0';
    r->seq = seq;
    r->worker = (uint32_t)sl->worker;
    r->slot = (uint32_t)sl->idx;
    if (!m->quiet || r->end != ZG_END_EXIT)
        sv_log_instance(&m->log, m->tmpls[r->tmpl].name, m->cfg.mode, r, queued, total);
}

/* A connection in flight on a slot whose worker died. */
static void lost_with_worker(struct master *m, int s, uint32_t tmpl, uint64_t seq,
                             uint64_t accept_ns, int direct)
{
    struct mslot *sl = &m->slots[s];
    struct sv_report dead;
    memset(&dead, 0, sizeof(dead));
    dead.seq = seq;
    dead.direct = (uint32_t)direct;
    dead.end = ZG_END_HOST;
    dead.worker = (uint32_t)sl->worker;
    dead.slot = (uint32_t)sl->idx;
    snprintf(dead.why, sizeof(dead.why), "its worker process died");
    uint64_t total = zg_now_ns() - accept_ns;
    m->st.t[tmpl].served++;
    m->st.t[tmpl].failures[SV_FAIL_WORKER]++;
    sv_log_instance(&m->log, m->tmpls[tmpl].name, m->cfg.mode, &dead, 0, total);
}

/* A granted slot accepted a connection (TAKEN), or could not (UNGRANT).
 * 0, or -1: a report the slot's state does not allow. */
static int on_grant_report(struct master *m, int s, const struct sv_report *r)
{
    struct mslot *sl = &m->slots[s];
    if (r->kind == SV_REP_UNGRANT) {
        sl->grant = 0;
        if (sl->state == SL_GRANTED) {
            sl->state = SL_IDLE; /* still on the idle stack */
            m->ngranted--;
        } else if (sl->state != SL_BUSY) {
            return -1;
        }
        sv_log_event(&m->log, "ungrant",
                     "worker %d slot %d cannot accept (%.200s): the master "
                     "accepts",
                     sl->worker, sl->idx, r->why);
        /* What woke that slot is still waiting to be accepted. */
        for (int i = 0; i < m->nlis; i++)
            if (m->lis[i].fd >= 0)
                accept_on(m, i);
        return 0;
    }
    if ((sl->state != SL_GRANTED && sl->state != SL_BUSY) || !sl->grant || sl->dbusy ||
        r->tmpl >= (uint32_t)m->ntmpls)
        return -1;
    if (sl->state == SL_GRANTED) {
        m->ngranted--;
        sl->state = SL_DIRECT;
    }
    uint64_t now = zg_now_ns();
    sl->dbusy = 1;
    sl->dtmpl = r->tmpl;
    sl->dseq = ++m->seq;
    sl->daccept_ns = r->accept_ns && r->accept_ns <= now ? r->accept_ns : now;
    m->busy++;
    m->st.t[r->tmpl].accepted++;
    return 0;
}

static void on_slot(struct master *m, int s, uint32_t events)
{
    struct mslot *sl = &m->slots[s];
    struct sv_report r;
    ssize_t n = recv(sl->fd, &r, sizeof(r), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR) && !(events & (EPOLLHUP | EPOLLERR)))
        return;
    if (n != (ssize_t)sizeof(r)) {
        /* The worker is gone (or talks nonsense): its connections ended with it. */
        if (sl->state == SL_BUSY)
            lost_with_worker(m, s, sl->tmpl, sl->seq, sl->accept_ns, 0);
        if (sl->dbusy)
            lost_with_worker(m, s, sl->dtmpl, sl->dseq, sl->daccept_ns, 1);
        close_slot(m, s);
        return;
    }
    if (r.kind == SV_REP_IDLE && sl->state == SL_STARTING) {
        slot_idle(m, s);
        return;
    }
    if (r.kind == SV_REP_TAKEN || r.kind == SV_REP_UNGRANT) {
        if (on_grant_report(m, s, &r) < 0)
            close_slot(m, s);
        return;
    }
    if (r.kind != SV_REP_DONE || r.tmpl >= (uint32_t)m->ntmpls) {
        close_slot(m, s);
        return;
    }
    if (r.direct) {
        if (!sl->dbusy || r.tmpl != sl->dtmpl) {
            close_slot(m, s);
            return;
        }
        sl->dbusy = 0;
        m->busy--;
        finished(m, s, &r, sl->dseq, sl->daccept_ns);
        if (sl->state == SL_DIRECT) {
            sl->state = SL_STARTING; /* slot_idle decides */
            slot_idle(m, s);
        }
        return;
    }
    if (sl->state != SL_BUSY || r.seq != sl->seq) {
        close_slot(m, s);
        return;
    }
    m->busy--;
    sl->state = SL_STARTING;
    finished(m, s, &r, sl->seq, sl->accept_ns);
    if (sl->dbusy)
        sl->state = SL_DIRECT; /* the connection it accepted is next */
    else
        slot_idle(m, s);
}

/* ---- metrics endpoint ----------------------------------------------------------- */

static void update_gauges(struct master *m)
{
    m->st.busy = m->busy;
    m->st.idle = m->st.preparing = 0;
    for (int i = 0; i < m->nslots; i++) {
        if (m->slots[i].state == SL_IDLE || m->slots[i].state == SL_GRANTED)
            m->st.idle++;
        else if (m->slots[i].state == SL_STARTING)
            m->st.preparing++;
    }
    m->st.queued = m->qlen;
    m->st.max_instances = m->cfg.max_instances;
    m->st.backlog = m->cfg.backlog;
    m->st.workers = live_workers(m);
    m->st.generation = (uint64_t)m->gen;
    sv_side_counts(m->side, &m->st.side_expired, &m->st.side_evicted);
}

/* What the side listeners (side.c) ask: the metrics text, and the load for
 * GET /health and the agent. */
static int side_metrics(void *ctx, char **out, size_t *len)
{
    struct master *m = ctx;
    update_gauges(m);
    return sv_metrics_render(&m->st, m->tmpls, m->ntmpls, m->cfg.mode, out, len);
}

static void side_load(void *ctx, int *draining, uint64_t *busy, uint64_t *max)
{
    struct master *m = ctx;
    *draining = m->draining;
    *busy = m->busy;
    *max = m->cfg.max_instances;
}

/* ---- signals: drain and reload ----------------------------------------------------- */

static void stop_listening(struct master *m)
{
    for (int i = 0; i < m->nlis; i++) {
        if (m->lis[i].fd < 0)
            continue;
        epoll_ctl(m->ep, EPOLL_CTL_DEL, m->lis[i].fd, NULL);
        close(m->lis[i].fd);
        m->lis[i].fd = -1;
        if (m->lis[i].unlink[0])
            unlink(m->lis[i].unlink);
    }
}

static void reload(struct master *m)
{
    struct sv_template next[SV_MAX_TEMPLATES];
    char err[512];
    for (int t = 0; t < m->ntmpls; t++) {
        if (!m->tmpls[t].img && m->pull_from) { /* still not here: pulled on demand */
            memset(&next[t], 0, sizeof(next[t]));
            snprintf(next[t].name, sizeof(next[t].name), "%s", m->tmpls[t].name);
            continue;
        }
        if (load_template(m, m->tmpls[t].name, &next[t], err, sizeof(err)) < 0) {
            for (int u = 0; u < t; u++)
                free_template(&next[u]);
            m->st.reloads_failed++;
            sv_log_event(&m->log, "reload-failed", "keeping the templates served: %s", err);
            return;
        }
    }
    for (int t = 0; t < m->ntmpls; t++) {
        free_template(&m->tmpls[t]); /* the old workers keep their own mappings */
        m->tmpls[t] = next[t];
    }
    m->gen++;
    for (int s = 0; s < m->nslots; s++)
        if (m->slots[s].state == SL_IDLE || m->slots[s].state == SL_GRANTED ||
            m->slots[s].state == SL_STARTING)
            close_slot(m, s); /* busy ones close when their connection ends */
    m->nidle = 0;
    for (int s = 0; s < m->nslots; s++)
        m->slots[s].stacked = 0;
    m->npend = 0;
    int missing = spawn_generation(m);
    if (missing > 0) {
        m->st.reloads_failed++;
        sv_log_event(&m->log, "reload-failed",
                     "generation %d: %d slot(s) could not be started (%s); retrying", m->gen,
                     missing, strerror(errno));
        pend_slots(m, missing);
        return;
    }
    m->st.reloads_ok++;
    sv_log_event(&m->log, "reload", "generation %d: %d template(s) reloaded", m->gen, m->ntmpls);
}

/* ---- templates pulled on demand (--pull-from) ------------------------------------- */

#define PULL_RETRY_NS 5000000000ull /* after a failed pull, refuse for this long */

/* A template that is not here has its listeners watched by the master
 * alone (slots skip them): the first connection starts a pull. */
static void pull_watch(struct master *m, int t, int on)
{
    for (int i = 0; i < m->nlis; i++)
        if (m->lis[i].fd >= 0 && m->lis[i].tmpl == t) {
            if (on)
                ep_add(m, m->lis[i].fd, TAG_PULL, i);
            else
                epoll_ctl(m->ep, EPOLL_CTL_DEL, m->lis[i].fd, NULL);
        }
}

/* Resets the connections waiting on template t's listeners. */
static void pull_refuse(struct master *m, int t, const char *why)
{
    for (int i = 0; i < m->nlis; i++) {
        int fd;
        while (m->lis[i].fd >= 0 && m->lis[i].tmpl == t &&
               (fd = accept4(m->lis[i].fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
            m->st.t[t].accepted++;
            refuse(m, t, fd, why);
        }
    }
}

/* The child: pulls, reports one line into fd, exits with the outcome. */
static void __attribute__((noreturn)) pull_child(struct master *m, int t, int fd)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
    struct zg_remote_opts o = {.url = m->pull_from};
    struct zg_remote_stats st;
    char err[512] = "";
    int rc = zg_remote_pull(m->home, m->tmpls[t].name, &o, &st, err, sizeof(err));
    if (rc < 0)
        dprintf(fd, "%s", err[0] ? err : strerror(-rc));
    else
        dprintf(fd,
                "version %s: %llu of %llu distinct pages fetched, %llu bytes in %llu "
                "requests, %.3f s",
                st.manifest, (unsigned long long)st.records, (unsigned long long)st.distinct,
                (unsigned long long)st.bytes, (unsigned long long)st.requests, st.seconds);
    _exit(rc == 0 ? 0 : rc == -ENOENT ? ZG_SERVE_NOTFOUND : rc == -EBADMSG ? ZG_SERVE_DAMAGED : 1);
}

static void on_pull_wanted(struct master *m, int li)
{
    int t = m->lis[li].tmpl;
    if (m->tmpls[t].img || m->pull_pid[t] > 0 || m->draining)
        return;
    if (m->pull_failed_at[t] && zg_now_ns() - m->pull_failed_at[t] < PULL_RETRY_NS) {
        pull_refuse(m, t, "the template is not here and its last pull failed");
        return;
    }
    int p[2];
    pid_t pid = -1;
    if (pipe2(p, O_CLOEXEC) == 0) {
        pid = fork();
        if (pid == 0) {
            close(p[0]);
            pull_child(m, t, p[1]);
        }
        close(p[1]);
        if (pid < 0)
            close(p[0]);
    }
    if (pid < 0) {
        sv_log_event(&m->log, "pull-failed", "template %s: cannot start a pull: %s",
                     m->tmpls[t].name, strerror(errno));
        m->pull_failed_at[t] = zg_now_ns();
        pull_refuse(m, t, "the template could not be pulled");
        return;
    }
    m->pull_pid[t] = pid;
    m->pull_fd[t] = p[0];
    pull_watch(m, t, 0); /* connections wait in the listen queue meanwhile */
    sv_log_event(&m->log, "pull", "template %s is not here: pulling it from %s (pid %d)",
                 m->tmpls[t].name, m->pull_from, (int)pid);
}

static void pull_done(struct master *m, int t, int status)
{
    char msg[600] = "";
    ssize_t n = read(m->pull_fd[t], msg, sizeof(msg) - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(m->pull_fd[t]);
    m->pull_pid[t] = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        char err[512], name[sizeof(m->tmpls[t].name)];
        snprintf(name, sizeof(name), "%s", m->tmpls[t].name); /* load_template clears it */
        int rc = load_template(m, name, &m->tmpls[t], err, sizeof(err));
        if (rc == 0 && m->cfg.mode != SV_COLD &&
            zg_image_check_backend(m->tmpls[t].img, m->cfg.hv, err, sizeof(err)) < 0) {
            free_template(&m->tmpls[t]);
            rc = -1;
        }
        if (rc < 0) /* the name stays: the template may be pulled again */
            snprintf(m->tmpls[t].name, sizeof(m->tmpls[t].name), "%s", name);
        if (rc == 0) {
            m->st.t[t].pulls++;
            sv_log_event(&m->log, "pulled", "template %s: %s", m->tmpls[t].name, msg);
            if (m->draining)
                return;
            if (m->watching)
                for (int i = 0; i < m->nlis; i++)
                    if (m->lis[i].fd >= 0 && m->lis[i].tmpl == t)
                        ep_add(m, m->lis[i].fd, TAG_LISTENER, i);
            reload(m); /* a generation of workers that knows the template */
            return;
        }
        snprintf(msg, sizeof(msg), "%s", err);
    } else if (WIFSIGNALED(status)) {
        snprintf(msg, sizeof(msg), "the pull was killed by signal %d", WTERMSIG(status));
    }
    m->st.t[t].pulls_failed++;
    m->pull_failed_at[t] = zg_now_ns();
    sv_log_event(&m->log, "pull-failed", "template %s: %s", m->tmpls[t].name, msg);
    pull_refuse(m, t, "the template could not be pulled");
    if (!m->draining)
        pull_watch(m, t, 1);
}

static void on_sig(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(sig_pipe_w, &b, 1);
    (void)n; /* a full pipe already holds a wake-up */
    errno = saved;
}

static int install_signals(struct master *m)
{
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    m->sfd = p[0];
    sig_pipe_w = p[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sig;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return -errno;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void on_signal(struct master *m)
{
    unsigned char sig;
    while (read(m->sfd, &sig, 1) == 1) {
        switch (sig) {
        case SIGCHLD:
            reap(m);
            break;
        case SIGHUP:
            if (!m->draining)
                reload(m);
            break;
        default: /* SIGTERM, SIGINT */
            if (m->draining) {
                m->drain_deadline = zg_now_ns();
                m->stop_now = 1;
                sv_log_event(&m->log, "stop", "second signal: stopping now");
                break;
            }
            m->draining = 1;
            m->npend = 0;
            m->drain_deadline = zg_now_ns() + m->cfg.drain_ms * 1000000ull;
            stop_listening(m);
            sv_notify("STOPPING=1");
            sv_log_event(&m->log, "drain", "%s: no longer accepting; %llu in flight, %zu queued",
                         sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)m->busy,
                         m->qlen);
            for (int s = 0; s < m->nslots; s++)
                if ((m->slots[s].state == SL_IDLE || m->slots[s].state == SL_GRANTED) &&
                    m->qlen == 0)
                    close_slot(m, s);
            break;
        }
    }
}

/* ---- the loop ----------------------------------------------------------------------- */

static int run_master(struct master *m)
{
    struct epoll_event evs[64];
    for (;;) {
        uint64_t now = zg_now_ns();
        if (m->draining && m->qlen == 0 && m->busy == 0)
            break;
        if (m->draining && now >= m->drain_deadline)
            break;
        if (m->npend && now >= m->respawn_at && !m->draining) {
            while (m->npend) {
                int n = m->pend[m->npend - 1];
                sv_log_event(&m->log, "respawn", "starting a worker for %d slot(s)", n);
                if (spawn_worker(m, n) < 0) {
                    sv_log_event(&m->log, "error", "cannot start a worker: %s; retrying in 1 s",
                                 strerror(errno));
                    m->respawn_at = now + 1000000000ull;
                    break;
                }
                m->npend--;
            }
        }
        int timeout = 1000;
        int side_ms = sv_side_tick(m->side, now);
        if (side_ms >= 0 && side_ms < timeout)
            timeout = side_ms;
        if (m->draining) {
            uint64_t left = (m->drain_deadline - now) / 1000000 + 1;
            if (left < (uint64_t)timeout)
                timeout = (int)left;
        }
        if (m->npend && !m->draining) {
            uint64_t left = m->respawn_at > now ? (m->respawn_at - now) / 1000000 + 1 : 0;
            if (left < (uint64_t)timeout)
                timeout = (int)left;
        }
        m->st.log_dropped = m->log.dropped;
        if (sv_log_flush(&m->log) && timeout > 50)
            timeout = 50; /* lines wait for a slow reader: try again soon */
        master_watch(m, !m->direct || m->ngranted == 0);
        int n = epoll_wait(m->ep, evs, 64, timeout);
        if (n < 0 && errno != EINTR) {
            sv_log_event(&m->log, "error", "epoll_wait: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
            int type = (int)(evs[i].data.u64 >> 32);
            int idx = (int)(uint32_t)evs[i].data.u64;
            switch (type) {
            case TAG_LISTENER:
                if (m->lis[idx].fd >= 0)
                    accept_on(m, idx);
                break;
            case TAG_SLOT:
                if (m->slots[idx].state != SL_CLOSED)
                    on_slot(m, idx, evs[i].events);
                break;
            case TAG_SIGNAL:
                on_signal(m);
                break;
            case TAG_SIDE:
                sv_side_event(m->side, (uint32_t)idx, evs[i].events);
                break;
            case TAG_PULL:
                on_pull_wanted(m, idx);
                break;
            }
        }
        dispatch(m);
        if (m->draining && m->qlen == 0)
            for (int s = 0; s < m->nslots; s++)
                if (m->slots[s].state == SL_IDLE || m->slots[s].state == SL_GRANTED)
                    close_slot(m, s);
    }
    return 0;
}

/* Stops every worker: their sockets close (threads exit after their
 * connection), then a grace period, then SIGKILL. */
static void stop_workers(struct master *m, int forced)
{
    for (size_t i = 0; i < m->qlen; i++) {
        struct qconn *c = &m->q[(m->qhead + i) % m->qcap];
        refuse(m, (int)c->tmpl, c->fd, "the server stopped before an instance was free");
    }
    m->qlen = 0;
    for (int s = 0; s < m->nslots; s++)
        close_slot(m, s);
    uint64_t until = zg_now_ns() + (forced ? 0 : 5000000000ull);
    for (;;) {
        reap(m);
        if (!live_workers(m))
            return;
        if (zg_now_ns() >= until) {
            for (int i = 0; i < m->nworkers; i++)
                if (m->workers[i].pid > 0)
                    kill(m->workers[i].pid, SIGKILL);
            for (int i = 0; i < m->nworkers; i++)
                if (m->workers[i].pid > 0) {
                    waitpid(m->workers[i].pid, NULL, 0);
                    m->workers[i].pid = 0;
                }
            return;
        }
        usleep(10000);
    }
}

/* Every connection costs the master a descriptor while it waits: take the
 * hard limit, not the default soft 1024. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int open_listeners(struct master *m, const struct zg_serve_listen *la, int nla,
                          const char *deftmpl, unsigned sockmode)
{
    const char *names[SV_MAX_LISTENERS];
    int nsd = sv_systemd_fds(names, SV_MAX_LISTENERS);
    char err[512], fdaddr[64], sdaddr[SV_MAX_LISTENERS][16];
    struct zg_serve_listen sd[SV_MAX_LISTENERS];
    if (nla == 0) {
        for (int i = 0; i < nsd; i++) {
            snprintf(sdaddr[i], sizeof(sdaddr[i]), "fd:%d", 3 + i);
            sd[i] = (struct zg_serve_listen){sdaddr[i], NULL};
        }
        la = sd;
        nla = nsd;
    }
    if (nla > SV_MAX_LISTENERS) {
        sv_err("serve: %d addresses to listen on: at most %d", nla, SV_MAX_LISTENERS);
        return -EINVAL;
    }
    if (nla == 0) {
        sv_err("serve: nothing to listen on: give --listen ADDR (or socket-activate)");
        return -EINVAL;
    }
    for (int i = 0; i < nla; i++) {
        const char *addr = la[i].addr;
        if (!strncmp(addr, "systemd:", 8)) {
            int k = 0;
            while (k < nsd && !(names[k] && !strcmp(names[k], addr + 8)))
                k++;
            if (k == nsd) {
                sv_err("serve: no socket-activated fd named '%s' (LISTEN_FDNAMES)", addr + 8);
                return -ENOENT;
            }
            snprintf(fdaddr, sizeof(fdaddr), "fd:%d", 3 + k);
            addr = fdaddr;
        }
        const char *tname = la[i].tmpl ? la[i].tmpl : deftmpl;
        if (!tname) {
            sv_err("serve: %s: no template (give ADDR=TEMPLATE or --template NAME)", la[i].addr);
            return -EINVAL;
        }
        int t = template_index(m, tname);
        if (t < 0) {
            sv_err("serve: too many templates, or the name '%s' is too long", tname);
            return -EINVAL;
        }
        struct sv_listener *l = &m->lis[m->nlis];
        if (sv_listen(addr, sockmode, (int)(m->cfg.backlog < 64 ? 64 : m->cfg.backlog), l, err,
                      sizeof(err)) < 0) {
            sv_err("serve: %s", err);
            return -EINVAL;
        }
        snprintf(l->addr, sizeof(l->addr), "%s", la[i].addr);
        l->tmpl = t;
        m->nlis++;
    }
    return 0;
}

int zg_serve_run(const struct zg_serve_opts *o)
{
    static struct master mst;
    struct master *m = &mst;
    memset(m, 0, sizeof(*m));
    m->cfg = o->cfg;
    if (!m->cfg.workers)
        m->cfg.workers = 1;
    m->direct = m->cfg.mode != SV_COLD && !m->cfg.master_accepts;
    m->log_fd = o->log_fd;
    m->log_json = o->log_json;
    m->quiet = o->quiet;
    m->find_guest = o->find_guest;
    m->pull_from = o->pull_from;
    m->log.fd = -1;
    m->spare_fd = -1;
    if (sv_log_open(&m->log, m->log_fd, m->log_json) < 0) {
        sv_err("serve: out of memory");
        return ZG_SERVE_HOST;
    }
    if (zg_home_dir(m->home, sizeof(m->home)) < 0) {
        sv_err("cannot determine the zerg home directory (set ZERG_HOME)");
        sv_log_close(&m->log);
        return ZG_SERVE_HOST;
    }
    raise_fd_limit();
    int status = ZG_SERVE_HOST;
    m->ep = epoll_create1(EPOLL_CLOEXEC);
    m->qcap = m->cfg.backlog + 1;
    m->q = calloc(m->qcap, sizeof(*m->q));
    if (m->ep < 0 || install_signals(m) < 0 || !m->q) {
        sv_err("serve: cannot set up the event loop: %s", strerror(errno));
        goto out;
    }
    if (open_listeners(m, o->listen, o->nlisten, o->default_template, o->socket_mode) < 0) {
        status = ZG_SERVE_CONFIG;
        goto out;
    }
    char side_err[600];
    int side_rc = sv_side_open(&m->side, o->metrics_addr, o->agent_addr, o->socket_mode, side_err,
                               sizeof(side_err));
    if (side_rc < 0) {
        sv_err("serve: %s", side_err);
        status = side_rc == -ENOMEM ? ZG_SERVE_HOST : ZG_SERVE_CONFIG;
        goto out;
    }
    for (int t = 0; t < m->ntmpls; t++) {
        char err[512], name[64];
        snprintf(name, sizeof(name), "%s", m->tmpls[t].name);
        int lrc = load_template(m, name, &m->tmpls[t], err, sizeof(err));
        if (lrc == -ENOENT && m->pull_from && m->cfg.mode != SV_COLD)
            continue; /* pulled on its first connection */
        if (lrc < 0) {
            sv_err("serve: %s", err);
            status = lrc == -ENOENT                   ? ZG_SERVE_NOTFOUND
                     : lrc == -EIO || lrc == -EBADMSG ? ZG_SERVE_DAMAGED
                                                      : ZG_SERVE_REFUSED;
            goto out;
        }
    }
    if (pick_backend(m) < 0) {
        status = ZG_SERVE_REFUSED;
        goto out;
    }
    m->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (spawn_generation(m) != 0) {
        sv_err("serve: cannot start the workers: %s", strerror(errno));
        goto out;
    }
    /* Tests only: the sandbox's test hook is for the first workers, not for
     * the ones started in their place. */
    unsetenv("ZERG_SERVE_TEST_FORBIDDEN_CALL");
    char capbuf[32] = "none";
    if (m->cfg.mem_cap)
        snprintf(capbuf, sizeof(capbuf), "%llu KiB", (unsigned long long)(m->cfg.mem_cap >> 10));
    master_watch(m, 1);
    for (int t = 0; t < m->ntmpls; t++)
        if (!m->tmpls[t].img)
            pull_watch(m, t, 1);
    for (int i = 0; i < m->nlis; i++) {
        sv_log_event(&m->log, "listening",
                     "%s -> template %s%s (%s, max-instances %llu, workers %llu, backlog %llu, "
                     "deadline %llu ms, mem-cap %s)",
                     m->lis[i].addr, m->tmpls[m->lis[i].tmpl].name,
                     m->tmpls[m->lis[i].tmpl].img ? "" : " (not here: pulled on demand)",
                     sv_mode_name(m->cfg.mode), (unsigned long long)m->cfg.max_instances,
                     (unsigned long long)m->cfg.workers, (unsigned long long)m->cfg.backlog,
                     (unsigned long long)m->cfg.deadline_ms, capbuf);
    }
    sv_side_start(m->side, m->ep, TAG_SIDE,
                  &(struct sv_side_ops){.ctx = m, .metrics = side_metrics, .load = side_load},
                  &m->spare_fd);
    if (o->agent_addr)
        sv_log_event(&m->log, "agent", "HAProxy agent-check on %s", o->agent_addr);
    if (o->metrics_addr)
        sv_log_event(&m->log, "metrics", "Prometheus text on %s", o->metrics_addr);
    ep_add(m, m->sfd, TAG_SIGNAL, 0);
    sv_notify("READY=1");
    int rc = run_master(m);
    int forced = rc < 0 || m->busy > 0 || m->qlen > 0;
    if (forced)
        sv_log_event(&m->log, "stop", "%s: killing %llu in-flight instance(s), %zu queued",
                     rc < 0        ? "event loop failed"
                     : m->stop_now ? "second signal"
                                   : "drain timeout",
                     (unsigned long long)m->busy, m->qlen);
    stop_listening(m);
    for (int t = 0; t < m->ntmpls; t++)
        if (m->pull_pid[t] > 0) { /* an unfinished pull leaves the cache consistent */
            kill(m->pull_pid[t], SIGKILL);
            waitpid(m->pull_pid[t], NULL, 0);
            close(m->pull_fd[t]);
            m->pull_pid[t] = 0;
        }
    stop_workers(m, forced);
    uint64_t served = 0, refused = 0;
    for (int t = 0; t < m->ntmpls; t++) {
        served += m->st.t[t].served;
        refused += m->st.t[t].refused;
    }
    sv_log_event(
        &m->log, "stopped", "accepted %llu connection(s): %llu handed to instances, %llu refused",
        (unsigned long long)m->seq, (unsigned long long)served, (unsigned long long)refused);
    status = forced ? ZG_SERVE_FORCED : ZG_SERVE_STOPPED;
out:
    stop_listening(m);
    sv_side_close(m->side);
    m->side = NULL;
    for (int t = 0; t < m->ntmpls; t++)
        free_template(&m->tmpls[t]);
    if (m->nworkers)
        stop_workers(m, 1);
    for (int i = 0; i < m->nworkers; i++)
        if (m->workers[i].note)
            munmap(m->workers[i].note, sizeof(*m->workers[i].note));
    free(m->slots);
    free(m->idle);
    free(m->workers);
    free(m->q);
    sv_log_close(&m->log);
    return status;
}
