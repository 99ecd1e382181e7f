/* zg_serve: the engine of `zerg serve` -- serves each accepted connection
 * with its own instance restored from a warm template.
 *
 * Shape
 *   One master process owns the listening sockets, a bounded queue of
 *   accepted connections, the per-instance log and the metrics. Instances
 *   run in worker processes (sharded, so no process holds more than a few
 *   dozen VMs: every page fault walks one KVM MMU notifier per VM of the
 *   process). Each worker runs `slots` threads; a slot owns one prepared
 *   instance per template and talks to the master over its own SOCK_SEQPACKET
 *   socketpair: the master sends a job with the connection's fd attached
 *   (SCM_RIGHTS); the slot runs the instance with the connection as its
 *   request stream, closes it, prepares the next instance (pooled: reset in
 *   place; fresh: a new VM) and answers with one report.
 *
 * Files: master.c (accept, queue, dispatch, log, signals, workers),
 * worker.c (slots: the request path), net.c (addresses, listeners, fd
 * passing), metrics.c (counters, histograms, Prometheus text, log lines),
 * side.c (the --metrics and --agent listeners, held against idle and slow
 * clients); sv_int.h is what they share. tools/cmd_serve.c is the command line.
 *
 *     struct zg_serve_opts o = {.cfg = {.mode = SV_POOLED, .max_instances = 16,
 *                                       .backlog = 128, .workers = 2,
 *                                       .deadline_ms = 10000, .drain_ms = 30000},
 *                               .listen = &(struct zg_serve_listen){"127.0.0.1:8080", "web"},
 *                               .nlisten = 1, .log_fd = 2};
 *     return zg_serve_run(&o);   // until SIGTERM: an exit status
 */
#ifndef ZG_SERVE_H
#define ZG_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "hypervisor/zg_hv.h"
#include "template/zg_template.h"

#define SV_MAX_TEMPLATES 16 /* templates served at once */
#define SV_MAX_LISTENERS 64 /* addresses listened on (zg_serve_opts.nlisten) */

enum sv_mode { SV_POOLED, SV_FRESH, SV_COLD };

const char *sv_mode_name(enum sv_mode m);

struct sv_config {
    enum sv_mode mode;
    uint64_t max_instances;     /* connections served at once */
    uint64_t backlog;           /* accepted connections waiting beyond that */
    uint64_t workers;           /* processes */
    uint64_t deadline_ms;       /* per instance */
    uint64_t mem_cap;           /* bytes per instance; 0 none */
    uint64_t drain_ms;          /* SIGTERM: how long in-flight instances may take */
    int guest_console;          /* pass guests' console output to stderr */
    int master_accepts;         /* the master accepts every connection and passes it to a
                                   slot; else (pooled, fresh) idle slots accept their own */
    int no_sandbox;             /* workers run without the sandbox (serve/sandbox.c), which
                                   pooled and fresh workers on kvm enter by default */
    const char *guest;          /* cold: the guest ELF (default: from the template) */
    const struct zg_hv_ops *hv; /* the backend every instance runs on */
};

/* Defaults the command line offers. */
#define SV_DEFAULT_MAX      16
#define SV_DEFAULT_BACKLOG  128
#define SV_DEFAULT_DEADLINE 10000
#define SV_DEFAULT_DRAIN    30000
#define SV_SLOTS_PER_WORKER 32 /* VMs per process stay few (see above) */

/* One address to listen on ("HOST:PORT", "[V6]:PORT", ":PORT", "unix:/PATH",
 * "fd:N", "systemd:NAME") and the template its connections get (NULL: the
 * default template). */
struct zg_serve_listen {
    const char *addr;
    const char *tmpl;
};

struct zg_serve_opts {
    struct sv_config cfg;                 /* cfg.workers: at least 1 */
    const struct zg_serve_listen *listen; /* none: the socket-activated fds */
    int nlisten;
    const char *default_template;
    const char *metrics_addr; /* Prometheus text (GET /metrics) and GET /health; NULL: none */
    const char *agent_addr;   /* HAProxy agent-check ("up N%", "drain"); NULL: none */
    const char *pull_from;    /* a template that is not here is pulled from this store
                                 (remote/zg_remote.h) on its first connection; NULL: a
                                 missing template is an error at start */
    unsigned socket_mode;     /* of unix sockets created; 0: umask's */
    int log_fd;               /* the log (kept open: the caller closes it) */
    int log_json, quiet;      /* JSON lines; no per-instance lines */
    /* Cold mode: the path of template t's guest ELF into path (given:
     * --guest, may be NULL). 0 or a negative errno. */
    int (*find_guest)(const struct zg_tmpl *t, const char *given, char *path, size_t len);
};

/* What zg_serve_run returns: the process's exit status. */
#define ZG_SERVE_STOPPED  0 /* drained and stopped */
#define ZG_SERVE_FORCED   1 /* stopped with instances in flight (second signal, drain timeout) */
#define ZG_SERVE_CONFIG   2 /* a listener or the metrics address could not be opened */
#define ZG_SERVE_NOTFOUND 3 /* a template does not exist */
#define ZG_SERVE_DAMAGED  4 /* a template, or pages it needs, are damaged */
#define ZG_SERVE_REFUSED                                                                           \
    126                   /* a template cannot be served: another backend or format, or            \
                             its backend cannot run here */
#define ZG_SERVE_HOST 127 /* the host side failed (event loop, workers, memory) */

/* Serves until SIGTERM or SIGINT (drain; a second one stops at once);
 * SIGHUP reloads the templates. Errors at start are printed on standard
 * error ("zerg: error: serve: ..."); everything after goes to the log.
 * Runs once per process (it owns the signal handlers). */
int zg_serve_run(const struct zg_serve_opts *o);

#endif /* ZG_SERVE_H */
