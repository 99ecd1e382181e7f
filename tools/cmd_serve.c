/* zerg serve: the command line. The engine is serve/ (zg_serve.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/zg_serve.h"
#include "tools/zg_tool.h"

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: zerg serve --listen ADDR[=TEMPLATE] [--listen ...] [--template NAME] "
            "[options]\n\n"
            "Serves each accepted connection with its own instance restored from a warm\n"
            "template: the instance's recv/send are the connection's bytes, and when it\n"
            "exits (or the client goes away) it is reset (pooled) or destroyed (--fresh).\n"
            "zerg does not parse the protocol: the guest owns it. Put nginx or HAProxy in\n"
            "front (docs/proxy.md).\n\n"
            "addresses: HOST:PORT, [V6ADDR]:PORT, :PORT, unix:/PATH, fd:N (an inherited\n"
            "listening socket), systemd:NAME (a socket-activated fd by FileDescriptorName).\n"
            "With LISTEN_FDS set and no --listen, every socket-activated fd is served.\n"
            "ADDR=TEMPLATE picks the template for that address; else --template's.\n\n"
            "options:\n"
            "  -t, --template NAME     the default template\n"
            "  -l, --listen ADDR[=T]   where to accept connections (repeatable)\n"
            "      --fresh             a new VM for every connection (default: pooled, an\n"
            "                          instance reset in place between connections)\n"
            "      --cold              cold-boot the template's guest for every connection\n"
            "                          (the original demo's model, for comparison)\n"
            "      --guest PATH        --cold: the guest ELF (default: beside the binary)\n"
            "      --backend NAME      kvm or xen (default: the templates' own); on xen,\n"
            "                          which has no dirty log yet, instances are fresh\n"
            "  -n, --max-instances N   connections served at once (default %d)\n"
            "  -b, --backlog N         accepted connections that may wait beyond that\n"
            "                          (default %d); more are closed at once (TCP reset)\n"
            "  -w, --workers N         processes the instances are spread over\n"
            "                          (default: CPUs, at least N/%d)\n"
            "      --deadline MS       kill an instance after MS ms (default %d; 0 none)\n"
            "      --mem-cap SIZE      kill an instance that writes more than SIZE of memory\n"
            "      --drain-timeout MS  on SIGTERM, wait this long for instances (default %d)\n"
            "      --metrics ADDR      serve Prometheus metrics (GET /metrics) and a health\n"
            "                          check (GET /health: 200, or 503 once draining) on ADDR\n"
            "      --agent ADDR        answer HAProxy's agent-check on ADDR: \"up N%%\" (the\n"
            "                          share of instances free, as a weight) or \"drain\"\n"
            "      --pull-from URL     a template that is not here is pulled from this store\n"
            "                          (zerg template pull) on its first connection, which\n"
            "                          waits for it; then it is served (docs/fleet.md);\n"
            "                          each transfer's deadline and minimum rate come from\n"
            "                          $ZERG_REMOTE_TIMEOUT, $ZERG_REMOTE_MIN_RATE (see\n"
            "                          'zerg template --help')\n"
            "      --socket-mode OCTAL permissions of unix sockets created (e.g. 0666)\n"
            "      --log FILE          append the log to FILE (default: standard error)\n"
            "      --log-format F      text (default) or json: one line per instance/event\n"
            "  -q, --quiet             no per-instance log lines (events still logged)\n"
            "      --guest-console     pass guests' console output to standard error\n"
            "      --accept WHO        slots (default): an idle instance's slot accepts its\n"
            "                          connection itself; master: the master accepts every\n"
            "                          connection and passes it on (--cold always)\n"
            "      --no-sandbox        workers without their sandbox: on kvm, pooled and\n"
            "                          fresh workers enter one before serving (their own\n"
            "                          network namespace and user nobody as root, and a\n"
            "                          seccomp filter: docs/security.md)\n"
            "  -h, --help              this text\n\n"
            "signals: SIGTERM/SIGINT drain (stop accepting, finish in-flight instances,\n"
            "exit); a second one stops at once. SIGHUP reloads the templates: new\n"
            "connections get the new version, in-flight ones finish on the old.\n",
            SV_DEFAULT_MAX, SV_DEFAULT_BACKLOG, SV_SLOTS_PER_WORKER, SV_DEFAULT_DEADLINE,
            SV_DEFAULT_DRAIN);
}

/* ---- options ----------------------------------------------------------------------- */

static int parse_listen(char *arg, struct zg_serve_listen *out)
{
    char *eq = strrchr(arg, '=');
    out->addr = arg;
    out->tmpl = NULL;
    if (eq) {
        *eq = '\0';
        out->tmpl = eq + 1;
        if (!*out->tmpl)
            return -EINVAL;
    }
    return *out->addr ? 0 : -EINVAL;
}

int zg_cmd_serve(int argc, char **argv)
{
    enum {
        O_FRESH = 256,
        O_COLD,
        O_GUEST,
        O_DEADLINE,
        O_MEMCAP,
        O_DRAIN,
        O_METRICS,
        O_SOCKMODE,
        O_LOG,
        O_LOGFMT,
        O_CONSOLE,
        O_BACKEND,
        O_ACCEPT,
        O_NOSANDBOX,
        O_AGENT,
        O_PULLFROM
    };
    static const struct option opts[] = {
        {"template", required_argument, NULL, 't'},
        {"listen", required_argument, NULL, 'l'},
        {"fresh", no_argument, NULL, O_FRESH},
        {"cold", no_argument, NULL, O_COLD},
        {"guest", required_argument, NULL, O_GUEST},
        {"max-instances", required_argument, NULL, 'n'},
        {"backlog", required_argument, NULL, 'b'},
        {"workers", required_argument, NULL, 'w'},
        {"deadline", required_argument, NULL, O_DEADLINE},
        {"mem-cap", required_argument, NULL, O_MEMCAP},
        {"drain-timeout", required_argument, NULL, O_DRAIN},
        {"metrics", required_argument, NULL, O_METRICS},
        {"socket-mode", required_argument, NULL, O_SOCKMODE},
        {"log", required_argument, NULL, O_LOG},
        {"log-format", required_argument, NULL, O_LOGFMT},
        {"quiet", no_argument, NULL, 'q'},
        {"guest-console", no_argument, NULL, O_CONSOLE},
        {"backend", required_argument, NULL, O_BACKEND},
        {"accept", required_argument, NULL, O_ACCEPT},
        {"no-sandbox", no_argument, NULL, O_NOSANDBOX},
        {"agent", required_argument, NULL, O_AGENT},
        {"pull-from", required_argument, NULL, O_PULLFROM},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct zg_serve_opts o = {.cfg = {.mode = SV_POOLED,
                                      .max_instances = SV_DEFAULT_MAX,
                                      .backlog = SV_DEFAULT_BACKLOG,
                                      .deadline_ms = SV_DEFAULT_DEADLINE,
                                      .drain_ms = SV_DEFAULT_DRAIN},
                              .log_fd = 2,
                              .find_guest = zg_tool_find_guest};
    struct zg_serve_listen la[SV_MAX_LISTENERS];
    int nla = 0;
    const char *log_path = NULL;
    uint64_t workers = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:l:n:b:w:qh", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            o.default_template = optarg;
            break;
        case 'l':
            if (nla == SV_MAX_LISTENERS || parse_listen(optarg, &la[nla]) < 0) {
                zg_err("--listen: '%s' is not ADDR or ADDR=TEMPLATE (at most %d)", optarg,
                       SV_MAX_LISTENERS);
                return ZG_EXIT_USAGE;
            }
            nla++;
            break;
        case O_AGENT:
            o.agent_addr = optarg;
            break;
        case O_PULLFROM:
            o.pull_from = optarg;
            break;
        case O_NOSANDBOX:
            o.cfg.no_sandbox = 1;
            break;
        case O_ACCEPT:
            if (strcmp(optarg, "slots") && strcmp(optarg, "master")) {
                zg_err("--accept: '%s' is not slots or master", optarg);
                return ZG_EXIT_USAGE;
            }
            o.cfg.master_accepts = !strcmp(optarg, "master");
            break;
        case O_FRESH:
            o.cfg.mode = SV_FRESH;
            break;
        case O_COLD:
            o.cfg.mode = SV_COLD;
            break;
        case O_GUEST:
            o.cfg.guest = optarg;
            break;
        case 'n':
            if (zg_parse_u64(optarg, 4096, &o.cfg.max_instances) < 0 || !o.cfg.max_instances) {
                zg_err("--max-instances: '%s' is not a number from 1 to 4096", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 'b':
            if (zg_parse_u64(optarg, 65536, &o.cfg.backlog) < 0) {
                zg_err("--backlog: '%s' is not a number from 0 to 65536", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 'w':
            if (zg_parse_u64(optarg, 256, &workers) < 0 || !workers) {
                zg_err("--workers: '%s' is not a number from 1 to 256", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case O_DEADLINE:
            if (zg_parse_u64(optarg, 86400000, &o.cfg.deadline_ms) < 0) {
                zg_err("--deadline: '%s' is not a number of milliseconds", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case O_MEMCAP:
            if (zg_parse_size(optarg, &o.cfg.mem_cap) < 0 || o.cfg.mem_cap < ZG_PAGE_SIZE) {
                zg_err("--mem-cap: '%s' is not a size of at least 4K", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case O_DRAIN:
            if (zg_parse_u64(optarg, 86400000, &o.cfg.drain_ms) < 0) {
                zg_err("--drain-timeout: '%s' is not a number of milliseconds", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case O_METRICS:
            o.metrics_addr = optarg;
            break;
        case O_SOCKMODE: {
            char *end;
            errno = 0;
            unsigned long mode = strtoul(optarg, &end, 8);
            if (errno || *end || !*optarg || mode > 0777) {
                zg_err("--socket-mode: '%s' is not an octal mode like 0660", optarg);
                return ZG_EXIT_USAGE;
            }
            o.socket_mode = (unsigned)mode;
            break;
        }
        case O_LOG:
            log_path = optarg;
            break;
        case O_LOGFMT:
            if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
                zg_err("--log-format: '%s' is not text or json", optarg);
                return ZG_EXIT_USAGE;
            }
            o.log_json = !strcmp(optarg, "json");
            break;
        case 'q':
            o.quiet = 1;
            break;
        case O_BACKEND:
            if (!(o.cfg.hv = zg_tool_backend("serve", optarg)))
                return ZG_EXIT_USAGE;
            break;
        case O_CONSOLE:
            o.cfg.guest_console = 1;
            break;
        case 'h':
            serve_usage(stdout);
            return 0;
        default:
            serve_usage(stderr);
            return ZG_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        zg_err("serve: unexpected argument '%s'", argv[optind]);
        serve_usage(stderr);
        return ZG_EXIT_USAGE;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (!workers) {
        workers = cpus > 0 ? (uint64_t)cpus : 1;
        uint64_t need = (o.cfg.max_instances + SV_SLOTS_PER_WORKER - 1) / SV_SLOTS_PER_WORKER;
        if (workers < need)
            workers = need;
    }
    if (workers > o.cfg.max_instances)
        workers = o.cfg.max_instances;
    if ((o.cfg.max_instances + workers - 1) / workers > SV_SLOTS_PER_WORKER * 4) {
        zg_err("--workers %llu: at most %d instances per worker", (unsigned long long)workers,
               SV_SLOTS_PER_WORKER * 4);
        return ZG_EXIT_USAGE;
    }
    o.cfg.workers = workers;
    if (o.pull_from && o.cfg.mode == SV_COLD) {
        zg_err("--pull-from: not with --cold (a cold boot needs the guest file, not a template)");
        return ZG_EXIT_USAGE;
    }
    if (log_path) {
        o.log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (o.log_fd < 0) {
            zg_err("--log: cannot open %s: %s", log_path, strerror(errno));
            return ZG_EXIT_USAGE;
        }
    }
    o.listen = la;
    o.nlisten = nla;
    int status = zg_serve_run(&o);
    if (o.log_fd > 2)
        close(o.log_fd);
    return status;
}
