/* zerg run: restore one instance from a template and run one request through it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "restorer/zg_restore.h"
#include "tools/zg_tool.h"

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: zerg run NAME [options]\n\n"
            "Restores one instance of template NAME (never booting it), feeds standard\n"
            "input to its request stream, writes its response to standard output and\n"
            "exits with the guest's status.\n\n"
            "options:\n"
            "  --timeout MS   kill the instance after MS ms (default %u; 0 = none)\n"
            "  --backend NAME restore on this backend (default: the template's own)\n"
            "  -q, --quiet    discard the guest's console output\n"
            "  -v, --verbose  print the phases to standard error\n"
            "  --no-sandbox   run the instance without the sandbox (on kvm, once the\n"
            "                 instance is restored the process enters one: its own\n"
            "                 network and mount namespaces and user nobody as root, and\n"
            "                 a seccomp filter; docs/security.md)\n"
            "  -h, --help     this text\n\n"
            "exit status: the guest's own (0..255), or 2 usage, 3 no such template, 4 the\n"
            "template or pages it needs are damaged, 124 deadline, 125 guest fault, 126\n"
            "refused (another backend, a newer format), 127 host failure (docs/abi.md).\n",
            ZG_DEFAULT_DEADLINE_MS);
}

static double us(uint64_t a, uint64_t b)
{
    return (a && b && b >= a) ? (double)(b - a) / 1e3 : 0.0;
}

int zg_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"backend", required_argument, NULL, 'b'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"no-sandbox", no_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    struct zg_inst_config cfg = zg_inst_config_default();
    int verbose = 0, sandbox = 1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "t:b:qvh", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            cfg.hv = zg_tool_backend("run", optarg);
            if (!cfg.hv)
                return ZG_EXIT_USAGE;
            break;
        case 't':
            if (zg_parse_u64(optarg, 86400000, &cfg.deadline_ms) < 0) {
                zg_err("--timeout: '%s' is not a number of milliseconds", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 'q':
            cfg.console_fd = -1;
            break;
        case 'S':
            sandbox = 0;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            run_usage(stdout);
            return 0;
        default:
            run_usage(stderr);
            return ZG_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        zg_err("run: need exactly one template NAME");
        run_usage(stderr);
        return ZG_EXIT_USAGE;
    }
    const char *name = argv[optind];
    char home[4096], err[512];
    int rc = zg_home_dir(home, sizeof(home));
    if (rc < 0) {
        zg_err("cannot determine the zerg home directory (set ZERG_HOME)");
        return ZG_EXIT_HOST;
    }
    cfg.in_fd = 0;
    cfg.out_fd = 1;
    uint64_t t0 = zg_now_ns();
    struct zg_image *img;
    rc = zg_image_open(home, name, 0, &img, err, sizeof(err));
    if (rc < 0) {
        zg_err("run: %s", err);
        return zg_tool_exit_for(rc);
    }
    uint64_t t_img = zg_now_ns();
    if (img->note[0])
        fprintf(stderr, "zerg: warning: %s\n", img->note);
    if (!cfg.hv)
        cfg.hv = zg_hv_lookup(img->tmpl->info.backend);
    if (!cfg.hv) {
        zg_err("run: template '%s' needs the %s backend, which is not built into this zerg", name,
               img->tmpl->info.backend);
        zg_image_close(img);
        return ZG_EXIT_HOST;
    }
    struct zg_instance *in;
    rc = zg_restore(img, &cfg, &in, err, sizeof(err));
    if (rc < 0) {
        zg_err("run: %s", err);
        zg_image_close(img);
        return ZG_EXIT_HOST;
    }
    /* Everything is open (image, VM, standard streams): the guest runs
     * inside the sandbox. A host that does not allow it (valgrind cannot
     * run a filtered process) runs it without, and says so. */
    if (sandbox && !(cfg.hv->caps & ZG_HV_CAP_PARAVIRT)) {
        char why[200];
        if (zg_sandbox_enter(cfg.hv, NULL, why, sizeof(why)) < 0)
            fprintf(stderr, "zerg: warning: running without the sandbox: %s\n", why);
    }
    struct zg_run_result res;
    zg_inst_run(in, &res);
    int status = zg_tool_status("run", name, &res);
    if (verbose) {
        const struct zg_inst_times *t = zg_inst_times(in);
        fprintf(stderr,
                "zerg: phases (us): image %.1f (%s; checked against the template in %.1f) | "
                "map+VM %.1f | vCPU state %.1f | "
                "run called %.1f | first guest instruction by %.1f (its first exit) | "
                "first response byte %.1f | exit %.1f\n",
                us(t0, t_img), img->created ? "materialized" : "shared, already there",
                (double)img->verify_ns / 1e3, us(t_img, t->created), us(t->created, t->loaded),
                us(t0, t->first_run), us(t0, t->first_exit), us(t0, t->first_send),
                us(t0, t->exited));
        fprintf(stderr, "zerg: %llu round trips into the guest (each an exit to the monitor)\n",
                (unsigned long long)zg_inst_runs(in));
        char sum[300];
        if (zg_inst_summary(in, sum, sizeof(sum)))
            fprintf(stderr, "zerg: %s\n", sum);
    }
    zg_inst_destroy(in);
    zg_image_close(img);
    return status;
}
