/* zerg command: main() and the subcommand table (one file per verb). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor/zg_elf.h"
#include "monitor/zg_monitor.h"
#include "monitor/zg_persona.h"
#include "snapshotter/zg_snapshot.h"
#include "tools/zg_tool.h"

static const struct zg_cmd commands[] = {
    {"boot", "cold-boot a guest ELF and run one request through it", zg_cmd_boot},
    {"cache", "inspect, verify and collect the shared page cache", zg_cmd_cache},
    {"template", "create, list, inspect and remove warm templates", zg_cmd_template},
    {"run", "restore one instance from a template and run one request", zg_cmd_run},
    {"serve", "restore an instance per connection, behind a proxy (nginx, HAProxy)", zg_cmd_serve},
    {"bench", "cold boot against restore (fresh and pooled), with the KVM floor", zg_cmd_bench},
    {"linux", "the system calls served to unmodified Linux programs", zg_cmd_linux},
};

void zg_err(const char *fmt, ...)
{
    va_list ap;
    fputs("zerg: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const struct zg_hv_ops *zg_tool_backend(const char *verb, const char *name)
{
    const struct zg_hv_ops *hv = zg_hv_lookup(name);
    if (!hv)
        zg_err("%s: backend '%s' is not built into this zerg", verb, name);
    return hv;
}

int zg_tool_status(const char *verb, const char *what, const struct zg_run_result *res)
{
    char regs[512] = "";
    if (res->regs_valid)
        zg_format_regs(&res->regs, regs, sizeof(regs));
    switch (res->end) {
    case ZG_END_EXIT:
        if (res->why[0])
            fprintf(stderr, "zerg: note: %s\n", res->why);
        return res->status;
    case ZG_END_DEADLINE:
    case ZG_END_FAULT:
    case ZG_END_MEMORY:
        zg_err("%s: %s: %s", verb, what, res->why);
        if (regs[0])
            fprintf(stderr, "zerg: registers: %s\n", regs);
        return res->end == ZG_END_DEADLINE ? ZG_EXIT_DEADLINE : ZG_EXIT_FAULT;
    default:
        zg_err("%s: %s: %s", verb, what, res->why);
        return ZG_EXIT_HOST;
    }
}

int zg_tool_find_guest(const struct zg_tmpl *t, const char *given, char *path, size_t len)
{
    if (given) {
        snprintf(path, len, "%s", given);
        return 0;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -ENOENT;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    /* Beside the binary (the build tree: bin/guests), or where make install
     * puts them (PREFIX/bin/zerg, PREFIX/lib/zerg/guests). */
    static const char *const where[] = {"%.3000s/guests/%.128s",
                                        "%.3000s/../lib/zerg/guests/%.128s"};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        int w = snprintf(path, len, where[i], exe, t->info.guest);
        if (w < 0 || (size_t)w >= len)
            return -ENAMETOOLONG;
        if (access(path, R_OK) == 0)
            return 0;
    }
    return -ENOENT;
}

int zg_tool_exit_for(int rc)
{
    switch (rc) {
    case -EINVAL:
    case -EEXIST:
        return ZG_EXIT_USAGE;
    case -ENOENT:
        return ZG_EXIT_NOTFOUND;
    case -EBADMSG:
    case -EIO:
        return ZG_EXIT_DAMAGED;
    case -ENOEXEC:
    case -EPROTO:
    case -ENOTSUP:
    case -EACCES:
    case -EFBIG:
        return ZG_EXIT_REFUSED;
    case -ETIMEDOUT:
        return ZG_EXIT_DEADLINE;
    case -ECHILD:
        return ZG_EXIT_FAULT;
    default:
        return ZG_EXIT_HOST;
    }
}

void zg_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int zg_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int zg_tool_join_args(int argc, char **argv, int quote, char *buf, size_t len)
{
    size_t used = 0;
    if (!len)
        return -E2BIG;
    buf[0] = '\0';
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        int q = quote && (!*w || strpbrk(w, " \t\n'\"\\"));
        if (used && used + 1 < len)
            buf[used++] = ' ';
        if (q && used + 1 < len)
            buf[used++] = '\'';
        for (; *w && used + 4 < len; w++) {
            if (q && *w == '\'') {
                memcpy(buf + used, "'\\''", 4);
                used += 4;
            } else {
                buf[used++] = *w;
            }
        }
        if (*w || used + 2 > len)
            return -E2BIG;
        if (q)
            buf[used++] = '\'';
        buf[used] = '\0';
    }
    return 0;
}

int zg_tool_persona_quotes(const struct zg_persona_ops *p)
{
    return p && strcmp(p->name, "zerg") != 0;
}

int zg_tool_is_linux(const char *path)
{
    void *image = NULL;
    size_t len = 0;
    if (zg_file_read(path, ZG_ELF_MAX_SIZE, &image, &len) < 0)
        return 0; /* the create that follows reports why */
    int q = zg_tool_persona_quotes(zg_persona_for_image(image, len));
    free(image);
    return q;
}

/* Appends spec and a newline to buf. 0 or -E2BIG. */
static int add_line(char *buf, size_t len, const char *spec)
{
    size_t used = strlen(buf), n = strlen(spec);
    if (!n || strchr(spec, '\n') || used + n + 2 > len)
        return -E2BIG;
    memcpy(buf + used, spec, n);
    buf[used + n] = '\n';
    buf[used + n + 1] = '\0';
    return 0;
}

int zg_tool_linux_opt(const char *verb, struct zg_tool_linux_opts *o, int is_env, const char *arg)
{
    if (is_env ? (!strchr(arg, '=') || arg[0] == '=' || add_line(o->env, sizeof(o->env), arg) < 0)
               : add_line(o->ro, sizeof(o->ro), arg) < 0) {
        zg_err("%s: %s '%s': %s", verb, is_env ? "--env" : "--ro", arg,
               is_env ? "not K=V, or too many" : "empty, or too many trees");
        return ZG_EXIT_USAGE;
    }
    return 0;
}

const char *zg_tool_linux_ro(const struct zg_tool_linux_opts *o)
{
    return o->ro[0] ? o->ro : NULL;
}

const char *zg_tool_linux_env(const struct zg_tool_linux_opts *o)
{
    return o->env[0] ? o->env : NULL;
}

int zg_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        return -EINVAL;
    }
    if (*end && end[1] && !((end[1] == 'i' || end[1] == 'B') && (!end[2] || end[2] == 'B')))
        return -EINVAL;
    if (shift && v > (~0ull >> shift))
        return -EINVAL;
    *out = v << shift;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: zerg <command> [options]\n\n"
               "zerg makes a virtual machine ready in about a millisecond by never booting it.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'zerg <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return ZG_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    zg_err("unknown command '%s'", argv[1]);
    usage(stderr);
    return ZG_EXIT_USAGE;
}
