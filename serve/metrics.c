/* zerg serve: counters, latency histograms, Prometheus text, log lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/sv_int.h"

/* Upper bounds in seconds; the last bucket is +Inf. */
static const double bucket_le[SV_HIST_BUCKETS - 1] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0,
};

static const char *const fail_names[SV_FAIL_COUNT] = {
    [SV_FAIL_DEADLINE] = "deadline", [SV_FAIL_FAULT] = "fault",     [SV_FAIL_MEMORY] = "memory",
    [SV_FAIL_HOST] = "host",         [SV_FAIL_RESTORE] = "restore", [SV_FAIL_WORKER] = "worker",
};

const char *sv_mode_name(enum sv_mode m)
{
    return m == SV_POOLED ? "pooled" : m == SV_FRESH ? "fresh" : "cold";
}

void sv_hist_add(struct sv_hist *h, double seconds)
{
    int b = 0;
    while (b < SV_HIST_BUCKETS - 1 && seconds > bucket_le[b])
        b++;
    h->counts[b]++;
    h->count++;
    h->sum += seconds;
}

/* A growing text buffer. */
struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n + 1;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void hist(struct buf *b, const char *name, const char *tmpl, const struct sv_hist *h)
{
    uint64_t cum = 0;
    for (int i = 0; i < SV_HIST_BUCKETS; i++) {
        cum += h->counts[i];
        if (i < SV_HIST_BUCKETS - 1)
            put(b, "%s_bucket{template=\"%s\",le=\"%g\"} %llu\n", name, tmpl, bucket_le[i],
                (unsigned long long)cum);
        else
            put(b, "%s_bucket{template=\"%s\",le=\"+Inf\"} %llu\n", name, tmpl,
                (unsigned long long)cum);
    }
    put(b, "%s_sum{template=\"%s\"} %.9f\n%s_count{template=\"%s\"} %llu\n", name, tmpl, h->sum,
        name, tmpl, (unsigned long long)h->count);
}

#define COUNTER(b, name, help) put(b, "# HELP " name " " help "\n# TYPE " name " counter\n")
#define GAUGE(b, name, help)   put(b, "# HELP " name " " help "\n# TYPE " name " gauge\n")

int sv_metrics_render(const struct sv_stats *st, const struct sv_template *tmpls, int ntmpls,
                      enum sv_mode mode, char **out, size_t *len)
{
    struct buf b = {.p = malloc(16384), .cap = 16384};
    if (!b.p)
        return -ENOMEM;
    b.p[0] = '\0';
    COUNTER(&b, "zerg_connections_total", "Connections accepted (refused ones included).");
    for (int t = 0; t < ntmpls; t++)
        put(&b, "zerg_connections_total{template=\"%s\"} %llu\n", tmpls[t].name,
            (unsigned long long)st->t[t].accepted);
    COUNTER(&b, "zerg_connections_refused_total",
            "Connections reset unserved: every instance busy and the backlog full, or still "
            "queued when the server stopped.");
    for (int t = 0; t < ntmpls; t++)
        put(&b, "zerg_connections_refused_total{template=\"%s\"} %llu\n", tmpls[t].name,
            (unsigned long long)st->t[t].refused);
    COUNTER(&b, "zerg_restores_total", "Instances handed a connection.");
    for (int t = 0; t < ntmpls; t++)
        put(&b, "zerg_restores_total{template=\"%s\",mode=\"%s\"} %llu\n", tmpls[t].name,
            sv_mode_name(mode), (unsigned long long)st->t[t].served);
    COUNTER(&b, "zerg_instance_failures_total", "Instances killed or not started, by reason.");
    for (int t = 0; t < ntmpls; t++)
        for (int f = 0; f < SV_FAIL_COUNT; f++)
            put(&b, "zerg_instance_failures_total{template=\"%s\",reason=\"%s\"} %llu\n",
                tmpls[t].name, fail_names[f], (unsigned long long)st->t[t].failures[f]);
    COUNTER(&b, "zerg_instance_exits_nonzero_total", "Guests that exited with a non-zero status.");
    for (int t = 0; t < ntmpls; t++)
        put(&b, "zerg_instance_exits_nonzero_total{template=\"%s\"} %llu\n", tmpls[t].name,
            (unsigned long long)st->t[t].exits_nonzero);
    COUNTER(&b, "zerg_received_bytes_total", "Bytes instances read from their connections.");
    for (int t = 0; t < ntmpls; t++)
        put(&b, "zerg_received_bytes_total{template=\"%s\"} %llu\n", tmpls[t].name,
            (unsigned long long)st->t[t].bytes_in);
    COUNTER(&b, "zerg_sent_bytes_total", "Bytes instances wrote to their connections.");
    for (int t = 0; t < ntmpls; t++)
        put(&b, "zerg_sent_bytes_total{template=\"%s\"} %llu\n", tmpls[t].name,
            (unsigned long long)st->t[t].bytes_out);
    COUNTER(&b, "zerg_template_pulls_total",
            "Pulls of a template that was not here (--pull-from), by outcome.");
    for (int t = 0; t < ntmpls; t++)
        put(&b,
            "zerg_template_pulls_total{template=\"%s\",outcome=\"ok\"} %llu\n"
            "zerg_template_pulls_total{template=\"%s\",outcome=\"failed\"} %llu\n",
            tmpls[t].name, (unsigned long long)st->t[t].pulls, tmpls[t].name,
            (unsigned long long)st->t[t].pulls_failed);
    put(&b, "# HELP zerg_restore_seconds Restoring (fresh) or resetting (pooled) the instance "
            "that served a connection.\n# TYPE zerg_restore_seconds histogram\n");
    for (int t = 0; t < ntmpls; t++)
        hist(&b, "zerg_restore_seconds", tmpls[t].name, &st->t[t].restore);
    put(&b, "# HELP zerg_run_seconds From handing an instance its connection to its end.\n"
            "# TYPE zerg_run_seconds histogram\n");
    for (int t = 0; t < ntmpls; t++)
        hist(&b, "zerg_run_seconds", tmpls[t].name, &st->t[t].run);
    put(&b, "# HELP zerg_connection_seconds From accept to the instance's end, queueing "
            "included.\n# TYPE zerg_connection_seconds histogram\n");
    for (int t = 0; t < ntmpls; t++)
        hist(&b, "zerg_connection_seconds", tmpls[t].name, &st->t[t].total);
    GAUGE(&b, "zerg_instances", "Instance slots by state (pool occupancy).");
    put(&b,
        "zerg_instances{state=\"busy\"} %llu\nzerg_instances{state=\"idle\"} %llu\n"
        "zerg_instances{state=\"preparing\"} %llu\n",
        (unsigned long long)st->busy, (unsigned long long)st->idle,
        (unsigned long long)st->preparing);
    GAUGE(&b, "zerg_instances_max", "Connections served at once, at most (--max-instances).");
    put(&b, "zerg_instances_max %llu\n", (unsigned long long)st->max_instances);
    GAUGE(&b, "zerg_queue_length", "Accepted connections waiting for an instance.");
    put(&b, "zerg_queue_length %llu\n", (unsigned long long)st->queued);
    GAUGE(&b, "zerg_queue_max", "Waiting connections beyond which new ones are refused.");
    put(&b, "zerg_queue_max %llu\n", (unsigned long long)st->backlog);
    GAUGE(&b, "zerg_workers", "Worker processes running.");
    put(&b, "zerg_workers %llu\n", (unsigned long long)st->workers);
    COUNTER(&b, "zerg_worker_deaths_total", "Worker processes that died unexpectedly.");
    put(&b, "zerg_worker_deaths_total %llu\n", (unsigned long long)st->worker_deaths);
    COUNTER(&b, "zerg_worker_sandbox_kills_total",
            "Worker processes ended by a system call outside their sandbox's filter.");
    put(&b, "zerg_worker_sandbox_kills_total %llu\n", (unsigned long long)st->sandbox_kills);
    COUNTER(&b, "zerg_reloads_total", "Template reloads (SIGHUP).");
    put(&b, "zerg_reloads_total{result=\"ok\"} %llu\nzerg_reloads_total{result=\"failed\"} %llu\n",
        (unsigned long long)st->reloads_ok, (unsigned long long)st->reloads_failed);
    COUNTER(&b, "zerg_log_lines_dropped_total",
            "Log lines dropped because the log's reader did not keep up.");
    put(&b, "zerg_log_lines_dropped_total %llu\n", (unsigned long long)st->log_dropped);
    COUNTER(&b, "zerg_metrics_clients_dropped_total",
            "Clients of this listener dropped unanswered: no request head in time "
            "(deadline), or to make room for a new connection (evicted).");
    put(&b,
        "zerg_metrics_clients_dropped_total{reason=\"deadline\"} %llu\n"
        "zerg_metrics_clients_dropped_total{reason=\"evicted\"} %llu\n",
        (unsigned long long)st->side_expired, (unsigned long long)st->side_evicted);
    GAUGE(&b, "zerg_template_generation", "Reload generation of the templates served.");
    put(&b, "zerg_template_generation %llu\n", (unsigned long long)st->generation);
    if (b.oom) {
        free(b.p);
        return -ENOMEM;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%06ldZ", ts.tv_nsec / 1000);
}

/* Copies s with quotes, backslashes and control characters escaped. */
static void escape(char *dst, size_t len, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(dst + o, len - o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
}

#define SV_LOG_QUEUE (1u << 20) /* bytes of log lines held while the reader is slow */

int sv_log_open(struct sv_log *lg, int fd, int json)
{
    memset(lg, 0, sizeof(*lg));
    lg->fd = fd;
    lg->json = json;
    lg->cap = SV_LOG_QUEUE;
    lg->buf = malloc(lg->cap);
    if (!lg->buf)
        return -ENOMEM;
    struct stat sb;
    if (fd >= 0 && fstat(fd, &sb) == 0) {
        if (S_ISSOCK(sb.st_mode)) {
            lg->is_sock = 1; /* journald's stderr: send() can be non-blocking per call */
        } else if (S_ISFIFO(sb.st_mode)) {
            /* A pipe opened again through /proc is a new open file: it can be
             * non-blocking without touching the stderr the workers share. */
            char path[64];
            snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
            int nfd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (nfd >= 0) {
                lg->fd = nfd;
                lg->owns_fd = 1;
            }
        }
    }
    return 0;
}

int sv_log_flush(struct sv_log *lg)
{
    size_t off = 0;
    while (off < lg->len) {
        ssize_t n = lg->is_sock
                        ? send(lg->fd, lg->buf + off, lg->len - off, MSG_DONTWAIT | MSG_NOSIGNAL)
                        : write(lg->fd, lg->buf + off, lg->len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        off = lg->len; /* the log is gone (EPIPE, EIO): drop, never stop serving */
        break;
    }
    memmove(lg->buf, lg->buf + off, lg->len - off);
    lg->len -= off;
    return lg->len > 0;
}

void sv_log_close(struct sv_log *lg)
{
    for (int i = 0; i < 200 && sv_log_flush(lg); i++)
        usleep(10000); /* at most 2 s for a slow reader at exit */
    if (lg->owns_fd)
        close(lg->fd);
    free(lg->buf);
    lg->buf = NULL;
    lg->fd = -1;
}

static void log_put(struct sv_log *lg, const char *line, size_t n)
{
    if (lg->fd < 0 || !lg->buf)
        return;
    if (lg->len + n > lg->cap) {
        sv_log_flush(lg);
        if (lg->len + n > lg->cap) {
            lg->dropped++;
            return;
        }
    }
    memcpy(lg->buf + lg->len, line, n);
    lg->len += n;
    sv_log_flush(lg);
}

void sv_log_instance(struct sv_log *lg, const char *tmpl, enum sv_mode mode,
                     const struct sv_report *r, uint64_t wait_ns, uint64_t total_ns)
{
    if (lg->fd < 0)
        return;
    int json = lg->json;
    char ts[48], why[420], line[1024];
    timestamp(ts, sizeof(ts));
    escape(why, sizeof(why), r->why);
    const char *end = r->end == SV_END_RESTORE ? "restore" : zg_end_name((enum zg_end)r->end);
    int n;
    if (json)
        n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%s\",\"event\":\"instance\",\"template\":\"%s\",\"mode\":\"%s\","
                     "\"conn\":%llu,\"instance\":\"%016llx\",\"slot\":\"%u.%u\",\"vm\":%llu,"
                     "\"wait_us\":%.1f,\"restore_us\":%.1f,\"run_us\":%.1f,\"total_us\":%.1f,"
                     "\"bytes_in\":%llu,\"bytes_out\":%llu,\"mem_kib\":%llu,\"exits\":%llu,"
                     "\"end\":\"%s\","
                     "\"status\":%d,\"accepted_by\":\"%s\",\"why\":\"%s\"}\n",
                     ts, tmpl, sv_mode_name(mode), (unsigned long long)r->seq,
                     (unsigned long long)r->instance, r->worker, r->slot, (unsigned long long)r->vm,
                     (double)wait_ns / 1e3, (double)r->prep_ns / 1e3, (double)r->run_ns / 1e3,
                     (double)total_ns / 1e3, (unsigned long long)r->bytes_in,
                     (unsigned long long)r->bytes_out, (unsigned long long)(r->private_bytes >> 10),
                     (unsigned long long)r->exits, end, r->status, r->direct ? "slot" : "master",
                     why);
    else
        n = snprintf(line, sizeof(line),
                     "%s zerg-serve instance template=%s mode=%s conn=%llu instance=%016llx "
                     "slot=%u.%u vm=%llu wait_us=%.1f restore_us=%.1f run_us=%.1f total_us=%.1f "
                     "in=%llu out=%llu mem_kib=%llu exits=%llu end=%s status=%d by=%s%s%s%s\n",
                     ts, tmpl, sv_mode_name(mode), (unsigned long long)r->seq,
                     (unsigned long long)r->instance, r->worker, r->slot, (unsigned long long)r->vm,
                     (double)wait_ns / 1e3, (double)r->prep_ns / 1e3, (double)r->run_ns / 1e3,
                     (double)total_ns / 1e3, (unsigned long long)r->bytes_in,
                     (unsigned long long)r->bytes_out, (unsigned long long)(r->private_bytes >> 10),
                     (unsigned long long)r->exits, end, r->status, r->direct ? "slot" : "master",
                     why[0] ? " why=\"" : "", why, why[0] ? "\"" : "");
    if (n > 0)
        log_put(lg, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void sv_log_event(struct sv_log *lg, const char *event, const char *fmt, ...)
{
    if (lg->fd < 0)
        return;
    int json = lg->json;
    char ts[48], msg[600], esc[1300], line[1500];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    timestamp(ts, sizeof(ts));
    int n;
    if (json) {
        escape(esc, sizeof(esc), msg);
        n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"event\":\"%s\",\"msg\":\"%s\"}\n", ts,
                     event, esc);
    } else {
        n = snprintf(line, sizeof(line), "%s zerg-serve %s %s\n", ts, event, msg);
    }
    if (n > 0)
        log_put(lg, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}
