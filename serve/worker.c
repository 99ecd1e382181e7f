/* zerg serve: a worker process and its slots (one thread, one instance per
 * template, one connection at a time). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/sv_int.h"

/* The slots wait until their worker has entered its sandbox; the worker
 * waits until each slot has done, before the filter, what a thread does
 * lazily on its own (its first allocation: glibc attaches it to an arena). */
static pthread_mutex_t go_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static int go, armed;
static int forbidden_test; /* ZERG_SERVE_TEST_FORBIDDEN_CALL: tests only */

struct slot {
    const struct sv_config *cfg;
    const struct sv_template *tmpls;
    int ntmpls;
    const struct sv_listener *lis; /* accepted from under a grant */
    int nlis;
    int ep;      /* the master's socket, and the listeners while granted */
    int granted; /* may accept one connection itself */
    int sock;
    struct zg_instance *inst[SV_MAX_TEMPLATES]; /* prepared (or NULL) */
    uint64_t vm[SV_MAX_TEMPLATES];              /* inst[t]'s number (sv_report.vm) */
    uint64_t vms;                               /* VMs this slot has created */
    uint64_t prep_ns[SV_MAX_TEMPLATES];         /* what preparing it took */
    char prep_err[SV_MAX_TEMPLATES][240];       /* why the last preparation failed */
};

static struct zg_inst_config slot_config(const struct slot *s)
{
    struct zg_inst_config c = zg_inst_config_default();
    c.hv = s->cfg->hv;
    c.deadline_ms = s->cfg->deadline_ms;
    c.mem_cap = s->cfg->mem_cap;
    c.console_fd = s->cfg->guest_console ? 2 : -1;
    c.flags = ZG_INST_ANSWER_LATER | (s->cfg->mode == SV_POOLED ? ZG_INST_TRACK_DIRTY : 0);
    return c;
}

/* Makes inst[t] ready to be handed a connection: a pooled instance is reset
 * in place (*copied gets the pages copied back), anything else is replaced
 * by a new restore. */
static void prepare(struct slot *s, int t, uint64_t *copied)
{
    const struct zg_image *img = s->tmpls[t].img;
    uint64_t t0 = zg_now_ns();
    struct zg_instance *in = s->inst[t];
    s->prep_err[t][0] = '\0';
    if (in && s->cfg->mode == SV_POOLED) {
        if (zg_restore_reset(img, in, copied, s->prep_err[t], sizeof(s->prep_err[t])) == 0) {
            s->prep_ns[t] = zg_now_ns() - t0;
            return;
        }
    }
    zg_inst_destroy(in);
    s->inst[t] = NULL;
    s->vm[t] = 0;
    struct zg_inst_config c = slot_config(s);
    if (zg_restore(img, &c, &s->inst[t], s->prep_err[t], sizeof(s->prep_err[t])) < 0)
        s->inst[t] = NULL;
    else
        s->vm[t] = ++s->vms;
    s->prep_ns[t] = zg_now_ns() - t0;
}

static int report(struct slot *s, const struct sv_report *r)
{
    ssize_t n;
    do
        n = send(s->sock, r, sizeof(*r), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(*r) ? 0 : -1;
}

/* Ends a connection: no more bytes from us; unread request bytes dropped. */
static void finish_conn(int fd)
{
    shutdown(fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && read(fd, sink, sizeof(sink)) > 0; i++)
        ; /* bounded: a client streaming bytes cannot hold the slot here */
    close(fd);
}

/* Cold mode: the original demo's model, a new VM booted for the connection. */
static void run_cold(struct slot *s, const struct sv_template *tp, int fd, struct sv_report *r)
{
    struct zg_inst_config c = slot_config(s);
    c.flags = 0;
    c.mem_size = tp->img ? tp->img->tmpl->info.mem_size : ZG_DEFAULT_MEM;
    c.cmdline = tp->img ? tp->img->tmpl->info.cmdline : "";
    c.in_fd = c.out_fd = fd;
    struct zg_instance *in = NULL;
    struct zg_run_result res;
    uint64_t t0 = zg_now_ns();
    int rc = zg_inst_create(&c, &in);
    if (rc == 0) {
        r->vm = ++s->vms;
        rc = zg_inst_boot_elf(in, tp->elf, tp->elf_len);
    }
    if (rc == 0)
        rc = zg_inst_run(in, &res);
    if (rc < 0) {
        r->end = SV_END_RESTORE;
        snprintf(r->why, sizeof(r->why), "cold boot failed: %.230s",
                 in ? zg_inst_error(in) : strerror(-rc));
    } else {
        r->end = (int32_t)res.end;
        r->status = res.status;
        snprintf(r->why, sizeof(r->why), "%s", res.why);
        r->instance = zg_inst_id(in);
        r->bytes_in = zg_inst_bytes_in(in);
        r->bytes_out = zg_inst_bytes_out(in);
        r->private_bytes = zg_inst_private_bytes(in);
        r->exits = zg_inst_runs(in);
    }
    r->run_ns = zg_now_ns() - t0;
    zg_inst_destroy(in);
}

static void run_job(struct slot *s, const struct sv_job *job, int fd, int direct)
{
    if (forbidden_test) /* the sandbox's test: a call no worker makes */
        (void)socket(AF_INET, SOCK_STREAM, 0);
    struct sv_report r;
    memset(&r, 0, sizeof(r));
    r.kind = SV_REP_DONE;
    r.tmpl = job->tmpl;
    r.seq = job->seq;
    r.direct = (uint32_t)direct;
    int t = (int)job->tmpl;
    if (s->cfg->mode == SV_COLD) {
        run_cold(s, &s->tmpls[t], fd, &r);
        finish_conn(fd);
        r.end_ns = zg_now_ns();
        report(s, &r);
        return;
    }
    if (!s->inst[t])
        prepare(s, t, NULL); /* the last preparation failed: try once more, now */
    struct zg_instance *in = s->inst[t];
    if (!in) {
        sv_reset_close(fd);
        r.end_ns = zg_now_ns();
        r.end = SV_END_RESTORE;
        snprintf(r.why, sizeof(r.why), "%s", s->prep_err[t]);
        report(s, &r);
        return;
    }
    r.prep_ns = s->prep_ns[t];
    r.vm = s->vm[t];
    uint64_t t0 = zg_now_ns();
    zg_inst_set_io(in, fd, fd);
    struct zg_run_result res;
    memset(&res, 0, sizeof(res));
    if (zg_inst_complete_ready(in, 1) < 0 || zg_inst_run(in, &res) < 0) {
        res.end = ZG_END_HOST;
        snprintf(res.why, sizeof(res.why), "cannot start the instance: %s", zg_inst_error(in));
    }
    finish_conn(fd);
    zg_inst_set_io(in, -1, -1);
    r.end_ns = zg_now_ns();
    r.run_ns = r.end_ns - t0;
    r.end = (int32_t)res.end;
    r.status = res.status;
    snprintf(r.why, sizeof(r.why), "%s", res.why);
    r.instance = zg_inst_id(in);
    r.bytes_in = zg_inst_bytes_in(in);
    r.bytes_out = zg_inst_bytes_out(in);
    r.private_bytes = zg_inst_private_bytes(in);
    r.exits = zg_inst_runs(in);
    if (res.end == ZG_END_HOST) {
        /* A VM whose hook failed is not reused. */
        zg_inst_destroy(in);
        s->inst[t] = NULL;
        s->vm[t] = 0;
    }
    uint64_t copied = 0;
    prepare(s, t, &copied);
    if (s->cfg->mode == SV_POOLED && copied * ZG_PAGE_SIZE > r.private_bytes)
        r.private_bytes = copied * ZG_PAGE_SIZE;
    report(s, &r);
}

/* Watches the listeners (a grant) or stops watching them. EPOLLEXCLUSIVE:
 * a connection wakes one waiting slot, not all of them. */
static int watch_listeners(struct slot *s, int on)
{
    if (s->granted == on)
        return 0;
    for (int i = 0; i < s->nlis; i++) {
        if (!s->tmpls[s->lis[i].tmpl].img)
            continue; /* not here yet: the master pulls it (--pull-from) */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t)i + 1};
        if (epoll_ctl(s->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->lis[i].fd, &ev) < 0 && on) {
            int e = errno;
            for (int k = 0; k < i; k++)
                if (s->tmpls[s->lis[k].tmpl].img)
                    epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lis[k].fd, NULL);
            return -e;
        }
    }
    s->granted = on;
    return 0;
}

/* Under a grant: accepts from listener li and serves the connection.
 * 0: served, or nothing to accept; -1: the master is gone. */
static int accept_direct(struct slot *s, int li)
{
    const struct sv_listener *l = &s->lis[li];
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 &&
        (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED))
        return 0; /* another slot (or the master) took it */
    struct sv_report r;
    memset(&r, 0, sizeof(r));
    if (fd < 0) {
        watch_listeners(s, 0);
        /* Out of descriptors (or worse): give the grant back; the master
         * accepts instead (and refuses what it cannot pass on). */
        r.kind = SV_REP_UNGRANT;
        snprintf(r.why, sizeof(r.why), "accept: %s", strerror(errno));
        return report(s, &r);
    }
    if (l->is_tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    r.kind = SV_REP_TAKEN;
    r.tmpl = (uint32_t)l->tmpl;
    r.accept_ns = zg_now_ns();
    if (report(s, &r) < 0) {
        sv_reset_close(fd);
        return -1;
    }
    struct sv_job job = {.tmpl = (uint32_t)l->tmpl};
    run_job(s, &job, fd, 1);
    return 0;
}

/* A job from the master: 0 done, -1 the master is gone (or talks nonsense). */
static int on_master(struct slot *s)
{
    struct sv_job job;
    int fd;
    int rc = sv_recv_job(s->sock, &job, &fd);
    if (rc == -EPROTO)
        return 0;
    if (rc == -EBADF) {
        /* The master counts this job in flight: answer it. */
        struct sv_report lost;
        memset(&lost, 0, sizeof(lost));
        lost.kind = SV_REP_DONE;
        lost.tmpl = job.tmpl;
        lost.seq = job.seq;
        lost.end = SV_END_RESTORE;
        snprintf(lost.why, sizeof(lost.why),
                 "the connection was lost in passing (worker out of descriptors?)");
        return report(s, &lost);
    }
    if (rc == 0 && job.tmpl == SV_JOB_ACCEPT) {
        if (s->nlis == 0 || watch_listeners(s, 1) < 0) {
            struct sv_report r;
            memset(&r, 0, sizeof(r));
            r.kind = SV_REP_UNGRANT;
            snprintf(r.why, sizeof(r.why), "cannot watch the listeners: %s",
                     s->nlis ? strerror(errno) : "none");
            return report(s, &r);
        }
        return 0;
    }
    if (rc < 0 || job.tmpl >= (uint32_t)s->ntmpls) {
        if (rc == 0)
            close(fd);
        return -1;
    }
    run_job(s, &job, fd, 0);
    return 0;
}

static void *slot_main(void *arg)
{
    struct slot *s = arg;
    void *volatile first = malloc(64); /* this thread's arena, before the filter */
    free(first);
    pthread_mutex_lock(&go_mu);
    armed++;
    pthread_cond_broadcast(&go_cv);
    while (!go)
        pthread_cond_wait(&go_cv, &go_mu);
    pthread_mutex_unlock(&go_mu);
    if (s->cfg->mode != SV_COLD)
        for (int t = 0; t < s->ntmpls; t++)
            if (s->tmpls[t].img) /* else not here yet (--pull-from) */
                prepare(s, t, NULL);
    struct sv_report idle;
    memset(&idle, 0, sizeof(idle));
    idle.kind = SV_REP_IDLE;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event sev = {.events = EPOLLIN, .data.u32 = 0};
    if (s->ep >= 0 && epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sock, &sev) == 0 &&
        report(s, &idle) == 0) {
        for (int alive = 1; alive;) {
            struct epoll_event ev[8];
            int n = epoll_wait(s->ep, ev, 8, -1);
            if (n < 0 && errno != EINTR)
                break;
            /* The master first: a job, the end, or a grant taken back. */
            int li = -1, from_master = 0;
            for (int i = 0; i < n; i++) {
                if (ev[i].data.u32 == 0)
                    from_master = 1;
                else if (li < 0)
                    li = (int)ev[i].data.u32 - 1;
            }
            if (from_master)
                alive = on_master(s) == 0;
            else if (li >= 0 && s->granted)
                alive = accept_direct(s, li) == 0;
        }
    }
    if (s->ep >= 0)
        close(s->ep);
    for (int t = 0; t < s->ntmpls; t++)
        zg_inst_destroy(s->inst[t]);
    close(s->sock);
    return NULL;
}

void sv_worker_main(const struct sv_config *cfg, const struct sv_template *tmpls, int ntmpls,
                    const struct sv_listener *lis, int nlis, const int *slot_fds, int nslots,
                    pid_t master, struct zg_sandbox_note *note)
{
    /* The master decides when instances stop: a SIGTERM sent to the whole
     * process group (systemd, a terminal's ^C) must not cut connections. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (getppid() != master)
        _exit(1); /* the master died before PR_SET_PDEATHSIG took hold */

    struct slot *slots = calloc((size_t)nslots, sizeof(*slots));
    pthread_t *th = calloc((size_t)nslots, sizeof(*th));
    if (!slots || !th)
        _exit(1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    int started = 0;
    int sandbox = !cfg->no_sandbox && cfg->mode != SV_COLD && cfg->hv &&
                  !(cfg->hv->caps & ZG_HV_CAP_PARAVIRT);
    forbidden_test = sandbox && getenv("ZERG_SERVE_TEST_FORBIDDEN_CALL") != NULL;
    for (int i = 0; i < nslots; i++) {
        slots[i] = (struct slot){.cfg = cfg,
                                 .tmpls = tmpls,
                                 .ntmpls = ntmpls,
                                 .lis = lis,
                                 .nlis = nlis,
                                 .ep = -1,
                                 .sock = slot_fds[i]};
        if (pthread_create(&th[i], &attr, slot_main, &slots[i]) != 0) {
            close(slot_fds[i]); /* the master sees the slot gone */
            th[i] = 0;
            continue;
        }
        started++;
    }
    if (sandbox) {
        pthread_mutex_lock(&go_mu);
        while (armed < started)
            pthread_cond_wait(&go_cv, &go_mu);
        pthread_mutex_unlock(&go_mu);
        char why[200];
        if (zg_sandbox_enter(cfg->hv, note, why, sizeof(why)) < 0) {
            fprintf(stderr,
                    "zerg: serve worker: cannot enter the sandbox: %s (--no-sandbox "
                    "runs without)\n",
                    why);
            _exit(70);
        }
    }
    pthread_mutex_lock(&go_mu);
    go = 1;
    pthread_cond_broadcast(&go_cv);
    pthread_mutex_unlock(&go_mu);
    for (int i = 0; i < nslots; i++)
        if (th[i])
            pthread_join(th[i], NULL);
    pthread_attr_destroy(&attr);
    free(slots);
    free(th);
    _exit(started ? 0 : 1);
}
