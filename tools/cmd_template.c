/* zerg template: create, ls, inspect, rm, push, pull. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "monitor/zg_monitor.h"
#include "remote/zg_remote.h"
#include "restorer/zg_restore.h"
#include "snapshotter/zg_snapshot.h"
#include "tools/zg_tool.h"

static void template_usage(FILE *f)
{
    fprintf(f, "usage: zerg template <subcommand> [options]\n\n"
               "  create NAME --guest APP.elf [--mem SIZE] [--timeout MS] [--backend kvm|xen]\n"
               "              [--ro HOST[=GUEST]]... [--env K=V]... [--force] [-q] [-- ARGS]\n"
               "        cold-boot APP.elf, stop it inside its READY call and capture it:\n"
               "        vCPU state into the manifest, pages into the shared page cache\n"
               "        (the template records its backend; 'zerg run' restores on it).\n"
               "        A Linux program (no ZERG ABI note) is captured where it first reads\n"
               "        its request; --ro carries a read-only copy of a host file or tree\n"
               "        into the template, as it is now (default timeout 60000 ms)\n"
               "  ls [--json]            list templates\n"
               "  inspect NAME [--json] [-v]\n"
               "                         check the manifest against the format and the\n"
               "                         cache (bad pages: the first 10 named, then\n"
               "                         counted; -v names all)\n"
               "  rm NAME                delete a template (its pages go at the next\n"
               "                         'zerg cache gc' unless another template uses them)\n"
               "  push NAME [--remote URL] [--full] [--timeout S[:MAX]] [--min-rate RATE]\n"
               "       [--json]\n"
               "                         upload the template to an object store: only the\n"
               "                         pages the store lacks (--full: every page, which\n"
               "                         repairs a store a pull found damaged), then its\n"
               "                         name (last)\n"
               "  pull NAME [--remote URL] [--jobs N] [--range SIZE] [--timeout S[:MAX]]\n"
               "       [--min-rate RATE] [--json]\n"
               "                         fetch the store's current version: only the pages\n"
               "                         this cache lacks, in ranged GETs of up to SIZE\n"
               "                         (default 4M), N at once (default 4); every page is\n"
               "                         checked before the cache takes it, and the template\n"
               "                         appears only when complete\n"
               "  Every transfer of a push or pull is capped at the size its object may have\n"
               "  and must end by S + its size / RATE seconds (at most MAX), moving RATE\n"
               "  bytes/s on average once S seconds have passed: a store that stalls,\n"
               "  trickles (exit 1) or sends more than it may (exit 4) fails, and the cache\n"
               "  still verifies. Defaults S=30, MAX=3600, RATE=16k (bytes/s; k, m: KiB,\n"
               "  MiB); $ZERG_REMOTE_TIMEOUT=S[:MAX] and $ZERG_REMOTE_MIN_RATE=RATE set them\n"
               "  for every push and pull ('zerg serve --pull-from' too), the options for one\n\n"
               "Remote URLs (docs/fleet.md): http(s)://HOST/PATH (GET/PUT, e.g. nginx WebDAV),\n"
               "s3://BUCKET/PREFIX or s3+http(s)://ENDPOINT/BUCKET/PREFIX (AWS SigV4 with\n"
               "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION); default $ZERG_REMOTE.\n\n"
               "Templates live in $ZERG_HOME/templates (default /var/lib/zerg for root,\n"
               "~/.local/share/zerg otherwise), pages in $ZERG_HOME/cache.\n");
}

static int home_or_fail(char *home, size_t len)
{
    int rc = zg_home_dir(home, len);
    if (rc < 0)
        zg_err("cannot determine the zerg home directory (set ZERG_HOME): %s", strerror(-rc));
    return rc;
}

struct progress {
    int tty;
    uint64_t last;
    const char *what; /* NULL: "storing pages" */
};

static int show_progress(void *arg, uint64_t done, uint64_t total)
{
    struct progress *p = arg;
    if (!p->tty)
        return 0;
    uint64_t now = zg_now_ns();
    if (done != total && now - p->last < 100000000ull)
        return 0;
    p->last = now;
    fprintf(stderr, "\rzerg: %s: %llu/%llu (%3.0f%%)", p->what ? p->what : "storing pages",
            (unsigned long long)done, (unsigned long long)total,
            total ? 100.0 * (double)done / (double)total : 100.0);
    if (done == total)
        fputc('\n', stderr);
    return 0;
}

static int do_create(int argc, char **argv)
{
    static const struct option opts[] = {
        {"guest", required_argument, NULL, 'g'},   {"mem", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'}, {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},         {"backend", required_argument, NULL, 'b'},
        {"ro", required_argument, NULL, 'r'},      {"env", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    static struct zg_tool_linux_opts lo;
    memset(&lo, 0, sizeof(lo));
    struct zg_tmpl_create_opts o = {
        .mem_size = ZG_DEFAULT_MEM, .deadline_ms = 60000, .console_fd = 2};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "g:m:t:fqb:h", opts, NULL)) != -1) {
        if (c == 'r' || c == 'e') {
            if (zg_tool_linux_opt("template create", &lo, c == 'e', optarg))
                return ZG_EXIT_USAGE;
            o.linux_ro = zg_tool_linux_ro(&lo);
            o.linux_env = zg_tool_linux_env(&lo);
            continue;
        }
        switch (c) {
        case 'g':
            o.guest_path = optarg;
            break;
        case 'b':
            o.hv = zg_tool_backend("template create", optarg);
            if (!o.hv)
                return ZG_EXIT_USAGE;
            break;
        case 'm':
            if (zg_parse_size(optarg, &o.mem_size) < 0) {
                zg_err("--mem: '%s' is not a size", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 't':
            if (zg_parse_u64(optarg, 86400000, &o.deadline_ms) < 0) {
                zg_err("--timeout: '%s' is not a number of milliseconds", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 'f':
            o.replace = 1;
            break;
        case 'q':
            o.console_fd = -1;
            break;
        case 'h':
            template_usage(stdout);
            return 0;
        default:
            template_usage(stderr);
            return ZG_EXIT_USAGE;
        }
    }
    if (optind >= argc || !o.guest_path) {
        zg_err("template create: need NAME and --guest APP.elf");
        return ZG_EXIT_USAGE;
    }
    o.name = argv[optind++];
    if (optind < argc && !strcmp(argv[optind], "--"))
        optind++;
    char cmdline[ZG_CMDLINE_MAX], home[4096], err[512];
    if (zg_tool_join_args(argc - optind, argv + optind, zg_tool_is_linux(o.guest_path), cmdline,
                          sizeof(cmdline)) < 0) {
        zg_err("template create: guest command line too long");
        return ZG_EXIT_USAGE;
    }
    o.cmdline = cmdline;
    if (home_or_fail(home, sizeof(home)) < 0)
        return ZG_EXIT_HOST;
    o.home = home;
    struct progress p = {.tty = isatty(2)};
    o.progress = show_progress;
    o.progress_arg = &p;
    struct zg_tmpl_create_stats st;
    int rc = zg_tmpl_create(&o, &st, err, sizeof(err));
    if (rc < 0) {
        zg_err("template create: %s", err);
        return zg_tool_exit_for(rc);
    }
    zg_image_unlink_all(o.name); /* images of an older version of this name */
    const struct zg_pc_ingest_stats *s = &st.pages;
    printf("template %s: %llu pages (%llu MiB): %llu zero, %llu already in cache, "
           "%llu duplicate within the image, %llu newly stored (%llu compressed), %llu bytes "
           "written; cold boot to READY %.1f ms, capture %.1f ms\n",
           o.name, (unsigned long long)s->pages, (unsigned long long)(s->raw_bytes >> 20),
           (unsigned long long)s->zero_pages, (unsigned long long)s->present,
           (unsigned long long)s->batch_dups, (unsigned long long)s->stored,
           (unsigned long long)s->compressed, (unsigned long long)s->stored_bytes,
           (double)st.boot_ns / 1e6, (double)st.capture_ns / 1e6);
    if (s->repaired)
        printf("template %s: %llu page(s) the cache held damaged were stored again (repaired)\n",
               o.name, (unsigned long long)s->repaired);
    return 0;
}

static int do_ls(int argc, char **argv)
{
    int json = argc > 1 && !strcmp(argv[1], "--json");
    char home[4096], err[512];
    if (home_or_fail(home, sizeof(home)) < 0)
        return ZG_EXIT_HOST;
    char **names;
    size_t n;
    int rc = zg_tmpl_list(home, &names, &n);
    if (rc < 0) {
        zg_err("template ls: %s", strerror(-rc));
        return ZG_EXIT_HOST;
    }
    if (json)
        printf("[");
    else
        printf("%-24s %8s %-24s %10s  %s\n", "NAME", "MEM", "GUEST", "BOOT_MS", "CREATED");
    for (size_t i = 0; i < n; i++) {
        struct zg_tmpl *t;
        if (zg_tmpl_load(home, names[i], &t, err, sizeof(err)) < 0) {
            /* Listed, with what is wrong: a script must see it is there. */
            if (json) {
                printf("%s{\"name\":", i ? "," : "");
                zg_json_str(stdout, names[i]);
                printf(",\"state\":\"damaged\",\"error\":");
                zg_json_str(stdout, err);
                printf("}");
            } else {
                printf("%-24s (damaged: %s)\n", names[i], err);
            }
            continue;
        }
        time_t secs = (time_t)(t->info.created_wall_ns / 1000000000ull);
        char when[32];
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&secs));
        if (json) {
            printf("%s{\"name\":", i ? "," : "");
            zg_json_str(stdout, t->info.name);
            printf(",\"state\":\"ok\",\"mem_bytes\":%llu,\"guest\":",
                   (unsigned long long)t->info.mem_size);
            zg_json_str(stdout, t->info.guest);
            printf(",\"boot_ms\":%.3f,\"created\":\"%sZ\"}", (double)t->info.boot_ns / 1e6, when);
        } else
            printf("%-24s %7lluM %-24s %10.1f  %s\n", t->info.name,
                   (unsigned long long)(t->info.mem_size >> 20), t->info.guest,
                   (double)t->info.boot_ns / 1e6, when);
        zg_tmpl_free(t);
    }
    if (json)
        printf("]\n");
    zg_tmpl_list_free(names, n);
    return 0;
}

#define INSPECT_SHOWN 10 /* bad pages named one by one, then counted */

static int do_inspect(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        template_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? ZG_EXIT_USAGE : 0;
    }
    int json = 0, verbose = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            verbose = 1;
        else {
            zg_err("template inspect: unknown argument '%s'", argv[i]);
            return ZG_EXIT_USAGE;
        }
    }
    char home[4096], err[512], cachedir[4200];
    if (home_or_fail(home, sizeof(home)) < 0)
        return ZG_EXIT_HOST;
    struct zg_tmpl *t;
    int rc = zg_tmpl_load(home, argv[1], &t, err, sizeof(err));
    if (rc < 0) {
        zg_err("template inspect: %s", err);
        return zg_tool_exit_for(rc);
    }
    /* Every page must be in the cache and read back to its key. */
    snprintf(cachedir, sizeof(cachedir), "%s/cache", home);
    struct zg_pc *pc;
    uint64_t zero = 0, missing = 0, damaged = 0;
    rc = zg_pc_open(cachedir, 0, &pc);
    if (rc < 0) {
        zg_err("template inspect: cannot open the page cache: %s", zg_pc_last_error());
        zg_tmpl_free(t);
        return 1;
    }
    uint8_t page[ZG_PAGE_SIZE];
    for (uint64_t i = 0; i < t->npages; i++) {
        if (zg_pc_key_is_zero(&t->keys[i])) {
            zero++;
            continue;
        }
        int r = zg_pc_get(pc, &t->keys[i], page, ZG_PC_VERIFY);
        if (r < 0) {
            char hex[33];
            zg_pc_key_hex(&t->keys[i], hex);
            /* The first few by name; a whole pack gone is thousands. */
            if (!json && (verbose || missing + damaged < INSPECT_SHOWN))
                fprintf(stderr, "zerg: page %llu (guest address 0x%llx, key %s): %s\n",
                        (unsigned long long)i, (unsigned long long)(i * ZG_PAGE_SIZE), hex,
                        r == -ENOENT ? "missing from the cache" : zg_pc_last_error());
            if (r == -ENOENT)
                missing++;
            else
                damaged++;
        }
    }
    zg_pc_close(pc);
    if (!json && !verbose && missing + damaged > INSPECT_SHOWN)
        fprintf(stderr, "zerg: ... and %llu more pages missing or damaged (-v names every one)\n",
                (unsigned long long)(missing + damaged - INSPECT_SHOWN));
    int ok = !missing && !damaged;
    char hash[33];
    zg_pc_key_hex((const struct zg_pc_key *)t->info.guest_hash, hash);
    if (json)
        printf("{\"name\":\"%s\",\"ok\":%s,\"file_bytes\":%llu,\"mem_bytes\":%llu,\"pages\":%llu,"
               "\"zero_pages\":%llu,\"missing_pages\":%llu,\"damaged_pages\":%llu,"
               "\"guest\":\"%s\",\"guest_xxh128\":\"%s\",\"ready_gpa\":%llu,\"rip\":%llu,"
               "\"boot_ms\":%.3f,\"cmdline\":\"%s\"}\n",
               t->info.name, ok ? "true" : "false", (unsigned long long)t->file_size,
               (unsigned long long)t->info.mem_size, (unsigned long long)t->npages,
               (unsigned long long)zero, (unsigned long long)missing, (unsigned long long)damaged,
               t->info.guest, hash, (unsigned long long)t->info.ready_gpa,
               (unsigned long long)t->state.regs.rip, (double)t->info.boot_ns / 1e6,
               t->info.cmdline);
    else
        printf("template %s: manifest v%u.%u, %llu bytes, valid\n"
               "  guest %s (xxh128 %s), command line \"%s\"\n"
               "  memory %llu MiB: %llu pages, %llu zero, %llu missing, %llu damaged\n"
               "  stopped in READY at 0x%llx, rip 0x%llx, cold boot to READY %.1f ms\n"
               "%s\n",
               t->info.name, ZG_TMPL_VERSION_MAJOR, ZG_TMPL_VERSION_MINOR,
               (unsigned long long)t->file_size, t->info.guest, hash, t->info.cmdline,
               (unsigned long long)(t->info.mem_size >> 20), (unsigned long long)t->npages,
               (unsigned long long)zero, (unsigned long long)missing, (unsigned long long)damaged,
               (unsigned long long)t->info.ready_gpa, (unsigned long long)t->state.regs.rip,
               (double)t->info.boot_ns / 1e6,
               ok ? "OK" : "DAMAGED: this template cannot be restored");
    zg_tmpl_free(t);
    return ok ? 0 : ZG_EXIT_DAMAGED;
}

static int do_rm(int argc, char **argv)
{
    if (argc < 2) {
        zg_err("template rm: need NAME");
        return ZG_EXIT_USAGE;
    }
    char home[4096], err[512];
    if (home_or_fail(home, sizeof(home)) < 0)
        return ZG_EXIT_HOST;
    int rc = zg_tmpl_remove(home, argv[1], err, sizeof(err));
    if (rc < 0) {
        zg_err("template rm: %s", err);
        return ZG_EXIT_USAGE;
    }
    zg_image_unlink_all(argv[1]);
    return 0;
}

/* push and pull: the exit status for a remote error. */
static int remote_exit(int rc)
{
    switch (rc) {
    case -ENOENT:
        return ZG_EXIT_NOTFOUND;
    case -EBADMSG:
    case -EFBIG: /* an object longer than it may be: the store's damage */
        return ZG_EXIT_DAMAGED;
    case -EINVAL:
        return ZG_EXIT_USAGE;
    case -ENOTSUP:
        return ZG_EXIT_REFUSED;
    default:
        return ZG_EXIT_FAILED;
    }
}

static void remote_report(const char *op, const char *name, const char *url, int json,
                          const struct zg_remote_stats *s)
{
    if (json) {
        printf("{\"operation\":\"%s\",\"template\":", op);
        zg_json_str(stdout, name);
        printf(",\"remote\":");
        zg_json_str(stdout, url);
        printf(",\"version\":\"%s\",\"map\":\"%s\",\"pages\":%llu,\"distinct\":%llu,"
               "\"records\":%llu,\"record_bytes\":%llu,\"bytes\":%llu,\"requests\":%llu,"
               "\"ranges\":%llu,\"known\":%llu,\"up_to_date\":%s,\"seconds\":%.6f}\n",
               s->manifest, s->map, (unsigned long long)s->pages, (unsigned long long)s->distinct,
               (unsigned long long)s->records, (unsigned long long)s->record_bytes,
               (unsigned long long)s->bytes, (unsigned long long)s->requests,
               (unsigned long long)s->ranges, (unsigned long long)s->known,
               s->up_to_date ? "true" : "false", s->seconds);
        return;
    }
    if (!strcmp(op, "push"))
        printf("pushed %s: %llu of %llu distinct pages uploaded (%llu the store had), "
               "%.1f kB in %llu requests, %.3f s; version %s\n",
               name, (unsigned long long)s->records, (unsigned long long)s->distinct,
               (unsigned long long)s->known, (double)s->bytes / 1e3,
               (unsigned long long)s->requests, s->seconds, s->manifest);
    else if (s->up_to_date)
        printf("pulled %s: up to date (version %s), %llu request, %.3f s\n", name, s->manifest,
               (unsigned long long)s->requests, s->seconds);
    else
        printf("pulled %s: %llu of %llu distinct pages fetched in %llu ranged GETs, %.1f kB "
               "in %llu requests, %.3f s; version %s\n",
               name, (unsigned long long)s->records, (unsigned long long)s->distinct,
               (unsigned long long)s->ranges, (double)s->bytes / 1e3,
               (unsigned long long)s->requests, s->seconds, s->manifest);
}

static int do_remote(int argc, char **argv, int pull)
{
    static const struct option opts[] = {
        {"remote", required_argument, NULL, 'r'},
        {"jobs", required_argument, NULL, 'j'},
        {"range", required_argument, NULL, 'R'},
        {"json", no_argument, NULL, 'J'},
        {"full", no_argument, NULL, 'F'},
        {"timeout", required_argument, NULL, 'T'},
        {"min-rate", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *op = pull ? "pull" : "push";
    struct zg_remote_opts o = {.url = getenv("ZERG_REMOTE")};
    int json = 0, c;
    uint64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:j:h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            o.url = optarg;
            break;
        case 'j':
            if (!pull || zg_parse_u64(optarg, 64, &v) < 0 || v == 0) {
                zg_err("template %s: --jobs: '%s' is not 1..64 (pull only)", op, optarg);
                return ZG_EXIT_USAGE;
            }
            o.jobs = (unsigned)v;
            break;
        case 'R':
            if (!pull || zg_parse_size(optarg, &v) < 0 || v < ZG_PC_RECORD_MAX || v > (64u << 20)) {
                zg_err("template %s: --range: '%s' is not a size of 4128 bytes to 64M (pull "
                       "only)",
                       op, optarg);
                return ZG_EXIT_USAGE;
            }
            o.range_max = v;
            break;
        case 'T':
            if (zg_remote_parse_timeout(optarg, &o.timeout_floor, &o.timeout_ceiling) < 0) {
                zg_err("template %s: --timeout: '%s' is not S[:MAX] seconds (0 < S <= MAX)", op,
                       optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 'M':
            if (zg_remote_parse_rate(optarg, &o.min_rate) < 0) {
                zg_err("template %s: --min-rate: '%s' is not a rate of 1 byte/s or more (BYTES, "
                       "BYTESk, BYTESm)",
                       op, optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 'J':
            json = 1;
            break;
        case 'F':
            if (pull) {
                zg_err("template pull: --full is for push");
                return ZG_EXIT_USAGE;
            }
            o.full = 1;
            break;
        case 'h':
            template_usage(stdout);
            return 0;
        default:
            template_usage(stderr);
            return ZG_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || !o.url || !*o.url) {
        zg_err("template %s: need NAME and --remote URL (or ZERG_REMOTE)", op);
        return ZG_EXIT_USAGE;
    }
    const char *name = argv[optind];
    char home[4096], err[512] = "";
    if (home_or_fail(home, sizeof(home)) < 0)
        return ZG_EXIT_HOST;
    struct progress p = {.tty = isatty(2), .what = pull ? "fetching pages" : "uploading pages"};
    o.progress = show_progress;
    o.progress_arg = &p;
    struct zg_remote_stats st;
    int rc = pull ? zg_remote_pull(home, name, &o, &st, err, sizeof(err))
                  : zg_remote_push(home, name, &o, &st, err, sizeof(err));
    if (p.tty && p.last)
        fputc('\n', stderr);
    if (rc < 0) {
        zg_err("template %s %s: %s", op, name, err[0] ? err : strerror(-rc));
        return remote_exit(rc);
    }
    remote_report(op, name, o.url, json, &st);
    return 0;
}

int zg_cmd_template(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        template_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? ZG_EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "create"))
        return do_create(argc - 1, argv + 1);
    if (!strcmp(sub, "ls"))
        return do_ls(argc - 1, argv + 1);
    if (!strcmp(sub, "inspect"))
        return do_inspect(argc - 1, argv + 1);
    if (!strcmp(sub, "rm"))
        return do_rm(argc - 1, argv + 1);
    if (!strcmp(sub, "push") || !strcmp(sub, "pull"))
        return do_remote(argc - 1, argv + 1, !strcmp(sub, "pull"));
    zg_err("template: unknown subcommand '%s'", sub);
    template_usage(stderr);
    return ZG_EXIT_USAGE;
}
