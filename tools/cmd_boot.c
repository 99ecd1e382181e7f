/* zerg boot: cold-boot a guest ELF and run one request through it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor/zg_elf.h"
#include "monitor/zg_monitor.h"
#include "monitor/zg_persona.h"
#include "tools/zg_tool.h"

static void boot_usage(FILE *f)
{
    fprintf(f,
            "usage: zerg boot GUEST.elf [options] [-- ARGS...]\n\n"
            "Cold-boots GUEST.elf in a fresh VM, feeds standard input to its request stream\n"
            "(RECV), writes its response (SEND) to standard output, and exits with the\n"
            "guest's exit status. Console output goes to standard error.\n\n"
            "options:\n"
            "  --mem SIZE        guest memory, e.g. 64M (default 64M; 4M..4G, 2M steps)\n"
            "  --timeout MS      kill the guest after MS milliseconds of wall time\n"
            "                    (default %u; 0 = no deadline)\n"
            "  --backend NAME    hypervisor backend (default kvm)\n"
            "  --ro HOST[=GUEST] a Linux program: a read-only copy of the host file or\n"
            "                    tree HOST, at GUEST (default: the same path); repeatable.\n"
            "                    Nothing else of the host's files is visible.\n"
            "  --env K=V         a Linux program: add K=V to its environment (repeatable)\n"
            "  -q, --quiet       discard the guest's console output\n"
            "  -v, --verbose     print a timing breakdown to standard error\n"
            "  -h, --help        this text\n\n"
            "Options may come before or after GUEST.elf; everything after -- (and any\n"
            "word after GUEST.elf that is not an option) becomes the guest's command\n"
            "line, so ARGS that begin with '-' go after --.\n\n"
            "exit status: the guest's own (0..255), or %d usage, %d no such guest file, %d\n"
            "killed at the deadline, %d guest fault, %d guest image refused, %d host failure\n"
            "(the table for every command: docs/abi.md, \"Exit statuses\").\n",
            ZG_DEFAULT_DEADLINE_MS, ZG_EXIT_USAGE, ZG_EXIT_NOTFOUND, ZG_EXIT_DEADLINE,
            ZG_EXIT_FAULT, ZG_EXIT_REFUSED, ZG_EXIT_HOST);
}

static double ms(uint64_t a, uint64_t b)
{
    return (a && b && b >= a) ? (double)(b - a) / 1e6 : 0.0;
}

int zg_cmd_boot(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mem", required_argument, NULL, 'm'},
        {"timeout", required_argument, NULL, 't'},
        {"backend", required_argument, NULL, 'b'},
        {"ro", required_argument, NULL, 'r'},
        {"env", required_argument, NULL, 'e'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct zg_inst_config cfg = zg_inst_config_default();
    int verbose = 0;
    const char *backend = "kvm";
    int c;
    optind = 1;
    static struct zg_tool_linux_opts lo;
    memset(&lo, 0, sizeof(lo));
    /* Options anywhere before `--` (GNU getopt permutes the rest after
     * them): `zerg boot app.elf --mem 32M -- ARGS` as well as before. */
    while ((c = getopt_long(argc, argv, "m:t:b:qvh", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (zg_parse_size(optarg, &cfg.mem_size) < 0) {
                zg_err("--mem: '%s' is not a size (e.g. 64M)", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 't':
            if (zg_parse_u64(optarg, 86400000, &cfg.deadline_ms) < 0) {
                zg_err("--timeout: '%s' is not a number of milliseconds", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 'b':
            backend = optarg;
            break;
        case 'r':
        case 'e':
            if (zg_tool_linux_opt("boot", &lo, c == 'e', optarg))
                return ZG_EXIT_USAGE;
            cfg.linux_ro = zg_tool_linux_ro(&lo);
            cfg.linux_env = zg_tool_linux_env(&lo);
            break;
        case 'q':
            cfg.console_fd = -1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            boot_usage(stdout);
            return 0;
        default:
            boot_usage(stderr);
            return ZG_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        zg_err("boot: no guest ELF given");
        boot_usage(stderr);
        return ZG_EXIT_USAGE;
    }
    /* What getopt left: the guest, then its arguments (those after `--`
     * may begin with '-'). */
    const char *path = argv[optind++];

    char cmdline[ZG_CMDLINE_MAX];
    cfg.argv0 = path;
    cfg.hv = zg_tool_backend("boot", backend);
    if (!cfg.hv)
        return ZG_EXIT_USAGE;
    cfg.in_fd = 0;
    cfg.out_fd = 1;

    uint64_t t0 = zg_now_ns();
    void *image = NULL;
    size_t image_len = 0;
    int rc = zg_file_read(path, ZG_ELF_MAX_SIZE, &image, &image_len);
    if (rc < 0) {
        zg_err("boot: cannot read guest '%s': %s", path,
               rc == -EFBIG ? "larger than 256 MiB" : strerror(-rc));
        return rc == -ENOENT                                    ? ZG_EXIT_NOTFOUND
               : rc == -EACCES || rc == -EINVAL || rc == -EFBIG ? ZG_EXIT_REFUSED
                                                                : ZG_EXIT_HOST;
    }
    uint64_t t_read = zg_now_ns();

    /* The guest's command line: ARGS joined by spaces (quoted as a shell
     * would for a Linux program, whose argv is split back from it). */
    const struct zg_persona_ops *persona = zg_persona_for_image(image, image_len);
    int quote = zg_tool_persona_quotes(persona);
    if (zg_tool_join_args(argc - optind, argv + optind, quote, cmdline, sizeof(cmdline)) < 0) {
        zg_err("boot: guest command line longer than %u bytes", ZG_CMDLINE_MAX - 1);
        free(image);
        return ZG_EXIT_USAGE;
    }
    cfg.cmdline = cmdline;
    if (verbose && persona)
        fprintf(stderr, "zerg: %s is %s\n", path,
                quote ? "a Linux program (no ZERG ABI note): the Linux personality runs it"
                      : "a zerg guest");

    struct zg_instance *in = NULL;
    int status;
    rc = zg_inst_create(&cfg, &in);
    if (rc < 0) {
        zg_err("boot: %s", in ? zg_inst_error(in) : strerror(-rc));
        status = rc == -EINVAL ? ZG_EXIT_USAGE : ZG_EXIT_HOST;
        goto out;
    }
    rc = zg_inst_boot_elf(in, image, image_len);
    if (rc < 0) {
        zg_err("boot: %s: %s", path, zg_inst_error(in));
        status = (rc == -ENOEXEC || rc == -EPROTO) ? ZG_EXIT_REFUSED : ZG_EXIT_HOST;
        goto out;
    }
    struct zg_run_result res;
    zg_inst_run(in, &res);
    status = zg_tool_status("boot", path, &res);
    if (verbose) {
        const struct zg_inst_times *t = zg_inst_times(in);
        if (t->ready)
            fprintf(stderr,
                    "zerg: timing (ms): read ELF %.3f | VM creation %.3f | load %.3f | "
                    "run to ready %.3f | ready to exit %.3f | total %.3f\n",
                    ms(t0, t_read), ms(t_read, t->created), ms(t->created, t->loaded),
                    ms(t->first_run, t->ready), ms(t->ready, t->exited), ms(t0, t->exited));
        else
            fprintf(stderr,
                    "zerg: timing (ms): read ELF %.3f | VM creation %.3f | load %.3f | "
                    "run to exit (no READY) %.3f | total %.3f\n",
                    ms(t0, t_read), ms(t_read, t->created), ms(t->created, t->loaded),
                    ms(t->first_run, t->exited), ms(t0, t->exited));
        fprintf(stderr,
                "zerg: instance %016llx: %llu bytes in, %llu bytes out, %llu round trips into "
                "the guest, exit status %d\n",
                (unsigned long long)zg_inst_id(in), (unsigned long long)zg_inst_bytes_in(in),
                (unsigned long long)zg_inst_bytes_out(in), (unsigned long long)zg_inst_runs(in),
                status);
        char sum[300];
        if (zg_inst_summary(in, sum, sizeof(sum)))
            fprintf(stderr, "zerg: %s\n", sum);
    }
out:
    zg_inst_destroy(in);
    free(image);
    return status;
}
