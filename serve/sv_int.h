/* zerg serve's engine: what its parts share (master.c, worker.c, net.c,
 * metrics.c). The engine's interface is zg_serve.h. */
#ifndef ZG_SV_INT_H
#define ZG_SV_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "restorer/zg_restore.h"
#include "serve/zg_serve.h"

/* One template being served, as loaded by the master (workers inherit it). */
struct sv_template {
    char name[64];
    struct zg_image *img; /* pooled, fresh */
    void *elf;            /* cold: the guest ELF */
    size_t elf_len;
};

/* ---- master <-> slot messages ------------------------------------------ */

struct sv_job {
    uint32_t tmpl; /* index into the templates */
    uint32_t reserved;
    uint64_t seq; /* the connection's number */
};

/* A job whose tmpl is SV_JOB_ACCEPT carries no connection: it grants the
 * slot leave to accept connections itself from the listeners, one at a time
 * whenever it is idle (direct accept: the master's accept and descriptor
 * passing are off the request's path). The grant lasts until the slot ends,
 * or until it answers SV_REP_UNGRANT (it cannot accept: out of descriptors).
 * For each connection it accepts it reports SV_REP_TAKEN, then DONE as for
 * a job. Jobs with a connection still come (the master accepts while no
 * slot waits); one that crosses a TAKEN is served after that connection. */
#define SV_JOB_ACCEPT 0xffffffffu

#define SV_END_RESTORE (-1) /* no instance could be prepared */

enum sv_report_kind {
    SV_REP_IDLE = 1,    /* prepared, waiting for a job */
    SV_REP_DONE = 2,    /* a job finished (and the slot is prepared again) */
    SV_REP_TAKEN = 3,   /* accepted a connection under a grant (accept_ns, tmpl) */
    SV_REP_UNGRANT = 4, /* could not accept under its grant (why): the master accepts */
};

struct sv_report {
    uint32_t kind;
    uint32_t tmpl;
    uint64_t seq;
    uint64_t instance;      /* the instance's id */
    uint64_t prep_ns;       /* restoring or resetting the instance that served */
    uint64_t run_ns;        /* handing it the connection until its run ended */
    uint64_t end_ns;        /* zg_now_ns() when the connection was closed (the
                               report follows the next instance's preparation) */
    uint64_t bytes_in;      /* read from the connection */
    uint64_t bytes_out;     /* written to it */
    uint64_t private_bytes; /* memory it wrote (pooled/capped; else 0) */
    uint64_t exits;         /* round trips into the guest (zg_inst_runs) */
    int32_t end;            /* enum zg_end, or SV_END_RESTORE */
    int32_t status;         /* ZG_END_EXIT: the guest's status */
    uint64_t vm;            /* which VM of its slot ran it: the slot numbers every VM it
                               creates 1, 2, ...; a pooled VM keeps its number across
                               resets. 0: none (not prepared, or its worker died) */
    uint32_t worker, slot;  /* set by the master: the worker (its index, as in the
                               worker-died event) and the slot within it */
    uint32_t direct;        /* DONE: the connection was accepted by the slot (seq 0) */
    uint32_t reserved;
    uint64_t accept_ns; /* TAKEN: zg_now_ns() when the slot accepted it */
    char why[256];
};

/* ---- net.c ----------------------------------------------------------- */

struct sv_listener {
    char addr[256];   /* as given, for messages */
    int fd;           /* listening, non-blocking */
    int tmpl;         /* template index */
    int is_tcp;       /* TCP_NODELAY on its connections */
    char unlink[128]; /* a unix socket path we created (removed at exit); "" if none */
};

/* Opens `addr` ("HOST:PORT", "[V6]:PORT", ":PORT", "unix:/PATH", "fd:N")
 * into l->fd. mode: permissions of a unix socket file (0: leave to umask).
 * 0 or a negative errno with a message in err. */
int sv_listen(const char *addr, unsigned mode, int backlog, struct sv_listener *l, char *err,
              size_t errlen);

/* systemd socket activation: the number of inherited listening fds
 * (LISTEN_PID/LISTEN_FDS, starting at fd 3), with their names from
 * LISTEN_FDNAMES (may be NULL) in names[i] (pointers into a static copy). */
int sv_systemd_fds(const char **names, int max);

/* Sends job with fd attached / receives one. 0 or a negative errno;
 * sv_recv_job returns -EPIPE on the master's end of the socket closing,
 * -EBADF when a whole job arrived but its descriptor did not (the
 * receiver was out of descriptors: *job is valid, the connection lost),
 * -EPROTO for anything else malformed. */
int sv_send_job(int sock, const struct sv_job *job, int fd);
int sv_recv_job(int sock, struct sv_job *job, int *fd);

/* Closes a connection at once with a reset (TCP: RST), for refusals. */
void sv_reset_close(int fd);

/* Tells systemd (NOTIFY_SOCKET) something like "READY=1"; no-op without it. */
void sv_notify(const char *state);

/* ---- worker.c -------------------------------------------------------- */

/* Runs a worker process's slots until the master closes their sockets;
 * never returns. lis: the listeners its slots accept from under a grant
 * (nlis 0: none, every connection comes from the master). note: memory
 * shared with the master where the sandbox notes a call it stopped. */
void sv_worker_main(const struct sv_config *cfg, const struct sv_template *tmpls, int ntmpls,
                    const struct sv_listener *lis, int nlis, const int *slot_fds, int nslots,
                    pid_t master, struct zg_sandbox_note *note) __attribute__((noreturn));

/* ---- side.c ---------------------------------------------------------- */

/* The side listeners: --metrics (GET /metrics, GET /, GET /health) and
 * --agent (HAProxy's agent-check: one line per connection, then closed).
 * Whoever can reach them may connect and send nothing, or one byte at a
 * time; they must never keep a health check out:
 *   - a metrics client that has not sent its whole request head
 *     SV_SIDE_HEAD_MS after its accept is dropped (reset): the time counts
 *     from the accept, not from its last byte;
 *   - one that has it is answered at once, and dropped if the answer is not
 *     all taken SV_SIDE_ANSWER_MS after its accept (writes never block);
 *   - at most SV_SIDE_CLIENTS are held; when every place is taken, a new
 *     connection takes the place of the client that has waited longest
 *     without sending its head (if none, the oldest one): a connection is
 *     never refused for lack of a place;
 *   - an agent connection is answered and closed when it is accepted.
 * At most 64 connections are accepted per wake-up of the loop. Everything
 * runs in the master's loop and never blocks it. */
#define SV_SIDE_CLIENTS   256  /* metrics clients held at once */
#define SV_SIDE_HEAD_MS   1000 /* accept to the end of the request head */
#define SV_SIDE_ANSWER_MS 5000 /* accept to the answer's last byte taken */

struct sv_side;

/* What the side listeners ask the master (ctx is handed back). */
struct sv_side_ops {
    void *ctx;
    /* The Prometheus text in a new buffer (*out, freed by side.c); 0 or -ENOMEM. */
    int (*metrics)(void *ctx, char **out, size_t *len);
    /* For GET /health and the agent: draining, instances busy and at most. */
    void (*load)(void *ctx, int *draining, uint64_t *busy, uint64_t *max);
};

/* Opens the listeners asked for (NULL: not that one) into *out (NULL if
 * neither). 0, or a negative errno with "--metrics: ..." or "--agent: ..."
 * in err. mode: of unix sockets created. */
int sv_side_open(struct sv_side **out, const char *metrics_addr, const char *agent_addr,
                 unsigned mode, char *err, size_t errlen);
/* Registers the listeners with the loop's epoll ep: every event side.c
 * registers carries (tag << 32 | index), to be handed to sv_side_event.
 * spare_fd: a descriptor kept open to accept (and reset) one connection
 * when out of descriptors. 0 or a negative errno. */
int sv_side_start(struct sv_side *s, int ep, int tag, const struct sv_side_ops *ops, int *spare_fd);
/* One epoll event whose tag was the one given to sv_side_start. */
void sv_side_event(struct sv_side *s, uint32_t index, uint32_t events);
/* Drops clients past their deadline; the ms until the next deadline (at
 * most 1000), -1 if none: the loop waits no longer than that. */
int sv_side_tick(struct sv_side *s, uint64_t now);
/* Clients dropped at their deadline, and to make room for a new one. */
void sv_side_counts(const struct sv_side *s, uint64_t *expired, uint64_t *evicted);
/* In a new worker process: closes the side's descriptors, nothing else. */
void sv_side_drop_fds(struct sv_side *s);
/* Closes everything (unix socket files removed) and frees s; NULL: nothing. */
void sv_side_close(struct sv_side *s);

/* ---- metrics.c ------------------------------------------------------- */

#define SV_HIST_BUCKETS 18

struct sv_hist {
    uint64_t counts[SV_HIST_BUCKETS]; /* per bucket, not cumulative; last is +Inf */
    uint64_t count;
    double sum; /* seconds */
};

enum sv_fail {
    SV_FAIL_DEADLINE,
    SV_FAIL_FAULT,
    SV_FAIL_MEMORY,
    SV_FAIL_HOST,
    SV_FAIL_RESTORE,
    SV_FAIL_WORKER,
    SV_FAIL_COUNT
};

struct sv_tmpl_stats {
    uint64_t accepted, refused, served, exits_nonzero;
    uint64_t pulls, pulls_failed; /* --pull-from: pulls of the template that ended */
    uint64_t failures[SV_FAIL_COUNT];
    uint64_t bytes_in, bytes_out;
    struct sv_hist restore, run, total;
};

struct sv_stats {
    struct sv_tmpl_stats t[SV_MAX_TEMPLATES];
    uint64_t reloads_ok, reloads_failed, worker_deaths, log_dropped;
    uint64_t sandbox_kills;              /* worker deaths by a call their sandbox stopped */
    uint64_t side_expired, side_evicted; /* metrics clients dropped (sv_side_counts) */
    /* gauges, set by the master before rendering */
    uint64_t busy, idle, preparing, queued, max_instances, backlog, workers, generation;
};

void sv_hist_add(struct sv_hist *h, double seconds);

/* Prometheus text exposition of st into a new buffer (*out, free it). */
int sv_metrics_render(const struct sv_stats *st, const struct sv_template *tmpls, int ntmpls,
                      enum sv_mode mode, char **out, size_t *len);

/* The log: lines are queued in memory and written without ever blocking
 * the master (a pipe or socket nobody reads fills the queue, then lines are
 * dropped and counted instead). */
struct sv_log {
    int fd;      /* -1: no log */
    int is_sock; /* write with send(MSG_DONTWAIT) */
    int owns_fd; /* fd was opened here (a pipe opened again, non-blocking) */
    int json;
    char *buf;
    size_t len, cap;
    uint64_t dropped;
};

/* Sets up the log on fd (2 or a --log file); 0 or -ENOMEM. */
int sv_log_open(struct sv_log *lg, int fd, int json);
/* Writes what the fd takes now. 1 if lines are still queued. */
int sv_log_flush(struct sv_log *lg);
/* Writes everything, waiting if it must (at exit). */
void sv_log_close(struct sv_log *lg);

/* One log line for a finished (or failed) connection, text or JSON. */
void sv_log_instance(struct sv_log *lg, const char *tmpl, enum sv_mode mode,
                     const struct sv_report *r, uint64_t wait_ns, uint64_t total_ns);

/* A server event ("listening", "reload", "drain", ...) on the log. */
void sv_log_event(struct sv_log *lg, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* ZG_SV_INT_H */
