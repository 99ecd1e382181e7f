/* zerg command: what the subcommands share (the table, errors, parsing helpers).
 * Only code under tools/ exits the process; library code returns errors. */
#ifndef ZG_TOOL_H
#define ZG_TOOL_H

#include <stddef.h>
#include <stdint.h>

/* Exit statuses of the zerg command itself, the same meaning for every verb
 * (a guest's own status passes through unchanged where a command runs a
 * guest: boot, run; the table is in docs/abi.md, "Exit statuses"). */
#define ZG_EXIT_FAILED   1   /* the operation failed for a reason not below */
#define ZG_EXIT_USAGE    2   /* bad command line */
#define ZG_EXIT_NOTFOUND 3   /* what was named does not exist: template, guest file */
#define ZG_EXIT_DAMAGED  4   /* damaged: a template, the pages it needs, the cache */
#define ZG_EXIT_DEADLINE 124 /* the guest ran past its deadline and was killed */
#define ZG_EXIT_FAULT    125 /* the guest faulted or broke the ABI and was killed */
#define ZG_EXIT_REFUSED                                                                            \
    126                  /* refused before running: not a valid guest (ELF, ABI version,           \
                            size, permission), a template of another backend or of a               \
                            newer format */
#define ZG_EXIT_HOST 127 /* the host side failed (KVM, memory, I/O) */

/* The exit status for a library error (negative errno), by the conventions
 * of the modules: -ENOENT not found; -EBADMSG/-EIO damaged; -ENOEXEC,
 * -EPROTO, -ENOTSUP, -EACCES, -EFBIG refused; -ETIMEDOUT deadline; -ECHILD
 * guest fault; -EINVAL/-EEXIST usage; anything else the host. */
int zg_tool_exit_for(int rc);

/* One `zerg <verb>`: argv[0] is the verb. Returns the process exit status. */
struct zg_cmd {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv);
};

int zg_cmd_boot(int argc, char **argv);
int zg_cmd_cache(int argc, char **argv);
int zg_cmd_template(int argc, char **argv);
int zg_cmd_run(int argc, char **argv);
int zg_cmd_bench(int argc, char **argv);
int zg_cmd_serve(int argc, char **argv);
int zg_cmd_linux(int argc, char **argv);

struct zg_tmpl;
/* The guest ELF a template was made from: `given` if not NULL, else the
 * template's guest file name in the guests/ directory beside the zerg
 * binary. 0 (path filled), -ENOENT or -ENAMETOOLONG. */
int zg_tool_find_guest(const struct zg_tmpl *t, const char *given, char *path, size_t len);

struct zg_hv_ops;
/* The backend called `name`; NULL (after "<verb>: backend 'NAME' is not
 * built into this zerg" on stderr) when it is not built in. */
const struct zg_hv_ops *zg_tool_backend(const char *verb, const char *name);

struct zg_run_result;
/* Reports how a guest's run ended ("zerg: error: <verb>: <what>: <why>", the
 * registers of a killed guest) and returns the command's exit status: the
 * guest's own, or ZG_EXIT_DEADLINE / ZG_EXIT_FAULT / ZG_EXIT_HOST. */
int zg_tool_status(const char *verb, const char *what, const struct zg_run_result *res);

/* "error: <msg>" on stderr, prefixed with the program name. */
void zg_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* s as a JSON string, quotes included ("\"", "\\" and control bytes escaped). */
void zg_json_str(FILE *f, const char *s);

/* Joins argv[0..argc) into one command line in buf: with spaces, and, with
 * `quote`, each word that is empty or holds a space, tab, quote or backslash
 * in single quotes (' as '\'') -- how a Linux program's arguments travel
 * (linux/ splits them back as a shell would). 0 or -E2BIG. */
int zg_tool_join_args(int argc, char **argv, int quote, char *buf, size_t len);

struct zg_persona_ops;
/* 1 if a guest of personality p (NULL: not recognised) takes its arguments
 * quoted (a Linux program); zg_tool_is_linux reads the file at path to tell. */
int zg_tool_persona_quotes(const struct zg_persona_ops *p);
int zg_tool_is_linux(const char *path);

/* A Linux program's --ro HOST[=GUEST] and --env K=V options (boot, template
 * create, bench), in the newline-separated form zg_inst_config.linux_ro and
 * .linux_env take. zg_tool_linux_opt adds one (is_env: an --env, which must
 * be K=V); 0, or ZG_EXIT_USAGE after "<verb>: --ro/--env 'ARG': ..." on
 * stderr. zg_tool_linux_ro/_env: the lines, or NULL when none was given. */
#define ZG_TOOL_LINES_MAX 8192
struct zg_tool_linux_opts {
    char ro[ZG_TOOL_LINES_MAX];
    char env[ZG_TOOL_LINES_MAX];
};
int zg_tool_linux_opt(const char *verb, struct zg_tool_linux_opts *o, int is_env, const char *arg);
const char *zg_tool_linux_ro(const struct zg_tool_linux_opts *o);
const char *zg_tool_linux_env(const struct zg_tool_linux_opts *o);

/* Parses "64M", "1G", "4096", "2m" into bytes. 0 or -EINVAL. */
int zg_parse_size(const char *s, uint64_t *out);
/* Parses a non-negative decimal integer <= max. 0 or -EINVAL. */
int zg_parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif /* ZG_TOOL_H */
