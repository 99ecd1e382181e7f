/* zerg bench: cold boot against restore (fresh and pooled), with this host's KVM floor. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "monitor/zg_elf.h"
#include "restorer/zg_restore.h"
#include "tools/zg_tool.h"

static const char request[] = "GET /bench HTTP/1.0\r\n\r\n";

static void bench_usage(FILE *f)
{
    fprintf(f, "usage: zerg bench NAME [options]\n\n"
               "Measures, in one run: cold boot of the template's guest (VM creation, load,\n"
               "init until READY), restore from template NAME into a new VM (fresh), restore\n"
               "into a pooled VM reset in place (pooled), and this host's floor (KVM_CREATE_VM +\n"
               "KVM_CREATE_VCPU + state for an empty VM). Each instance answers one request.\n\n"
               "options:\n"
               "  --runs N        runs of each restore mode and of the floor (default 300)\n"
               "  --cold-runs N   cold boots (default 40; each takes the guest's whole init)\n"
               "  --guest PATH    the guest ELF for the cold boots (default: the template's\n"
               "                  guest file name in the zerg binary's guests/ directory)\n"
               "  --backend NAME  the backend to measure (default: the template's own; on\n"
               "                  Xen there is no pooled mode and the floor is an empty domain)\n"
               "  --json          one JSON object instead of the table\n"
               "  --plot FILE     draw the latency distributions (SVG, with gnuplot)\n"
               "  -h, --help      this text\n\n"
               "Times in microseconds: median (p50), p90, p99. 'restore' is to the first guest\n"
               "instruction, 'first byte' to the guest's first response byte; pooled includes\n"
               "putting the used VM back to the template (copy written pages, reload state).\n");
}

struct series {
    const char *key;  /* JSON key */
    const char *name; /* table label */
    double *v;
    size_t n;
    double p50, p90, p99;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summarize(struct series *s)
{
    double *c = malloc((s->n ? s->n : 1) * sizeof(double));
    memcpy(c, s->v, s->n * sizeof(double));
    qsort(c, s->n, sizeof(double), cmp_double);
    s->p50 = s->n ? c[(s->n - 1) * 50 / 100] : 0;
    s->p90 = s->n ? c[(s->n - 1) * 90 / 100] : 0;
    s->p99 = s->n ? c[(s->n - 1) * 99 / 100] : 0;
    free(c);
}

/* A pipe holding one request and then end of stream. */
static int request_fd(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    ssize_t w = write(p[1], request, sizeof(request) - 1);
    close(p[1]);
    if (w != (ssize_t)sizeof(request) - 1) {
        close(p[0]);
        return -1;
    }
    return p[0];
}

static double us(uint64_t a, uint64_t b)
{
    return b >= a ? (double)(b - a) / 1e3 : 0.0;
}

/* Anonymous (copy-on-write) KiB of the mapping that starts at addr. */
static long anon_kib(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512], want[32];
    snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)addr);
    int in = 0;
    long kib = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strchr(line, '-') && strncmp(line, want, strlen(want)) == 0)
            in = 1;
        else if (in && strncmp(line, "Anonymous:", 10) == 0) {
            kib = strtol(line + 10, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static int plot(const char *file, struct series *s, size_t ns)
{
    char dir[] = "/tmp/zerg-plot.XXXXXX";
    if (!mkdtemp(dir))
        return -errno;
    char script[128];
    snprintf(script, sizeof(script), "%s/plot.gp", dir);
    FILE *g = fopen(script, "w");
    if (!g)
        return -errno;
    fprintf(g, "set terminal svg size 900,520 dynamic\nset output '%s'\n", file);
    fprintf(g, "set title 'zerg bench: latency distributions (CDF)'\nset logscale x\n"
               "set xlabel 'microseconds (log scale)'\nset ylabel 'fraction of runs'\n"
               "set key bottom right\nset grid\nplot ");
    for (size_t i = 0; i < ns; i++) {
        char data[160];
        snprintf(data, sizeof(data), "%s/%zu.dat", dir, i);
        FILE *d = fopen(data, "w");
        if (!d) {
            fclose(g);
            return -errno;
        }
        double *c = malloc((s[i].n ? s[i].n : 1) * sizeof(double));
        memcpy(c, s[i].v, s[i].n * sizeof(double));
        qsort(c, s[i].n, sizeof(double), cmp_double);
        for (size_t k = 0; k < s[i].n; k++)
            fprintf(d, "%.3f %.5f\n", c[k] > 0.001 ? c[k] : 0.001,
                    (double)(k + 1) / (double)s[i].n);
        free(c);
        fclose(d);
        fprintf(g, "%s'%s' using 1:2 with steps lw 2 title '%s'", i ? ", " : "", data, s[i].name);
    }
    fprintf(g, "\n");
    fclose(g);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "gnuplot '%s' 2>&1", script);
    int rc = system(cmd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "zerg: note: could not remove %s\n", dir);
    return rc == 0 ? 0 : -EIO;
}

int zg_cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"runs", required_argument, NULL, 'r'},  {"cold-runs", required_argument, NULL, 'c'},
        {"guest", required_argument, NULL, 'g'}, {"backend", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'},        {"plot", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    uint64_t runs = 300, cold_runs = 40;
    const char *guest = NULL, *plot_file = NULL, *backend = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:c:g:b:jp:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            backend = optarg;
            break;
        case 'r':
        case 'c':
            if (zg_parse_u64(optarg, 1000000, c == 'r' ? &runs : &cold_runs) < 0 ||
                (c == 'r' ? runs : cold_runs) == 0) {
                zg_err("bench: '%s' is not a positive number of runs", optarg);
                return ZG_EXIT_USAGE;
            }
            break;
        case 'g':
            guest = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'p':
            plot_file = optarg;
            break;
        case 'h':
            bench_usage(stdout);
            return 0;
        default:
            bench_usage(stderr);
            return ZG_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        zg_err("bench: need exactly one template NAME");
        return ZG_EXIT_USAGE;
    }
    const char *name = argv[optind];
    char home[4096], err[512], gpath[4096];
    if (zg_home_dir(home, sizeof(home)) < 0) {
        zg_err("cannot determine the zerg home directory (set ZERG_HOME)");
        return ZG_EXIT_HOST;
    }
    struct zg_image *img;
    if (zg_image_open(home, name, 0, &img, err, sizeof(err)) < 0) {
        zg_err("bench: %s", err);
        return ZG_EXIT_REFUSED;
    }
    const struct zg_tmpl *t = img->tmpl;
    void *elf = NULL;
    size_t elf_len = 0;
    if (zg_tool_find_guest(t, guest, gpath, sizeof(gpath)) < 0 ||
        zg_file_read(gpath, ZG_ELF_MAX_SIZE, &elf, &elf_len) < 0) {
        zg_err("bench: cannot read the guest for cold boots (%s); give --guest PATH", gpath);
        zg_image_close(img);
        return ZG_EXIT_USAGE;
    }
    const struct zg_hv_ops *hv = zg_tool_backend("bench", backend ? backend : t->info.backend);
    if (!hv) {
        free(elf);
        zg_image_close(img);
        return ZG_EXIT_USAGE;
    }
    XXH128_canonical_t h;
    XXH128_canonicalFromHash(&h, XXH3_128bits(elf, elf_len));
    if (memcmp(h.digest, t->info.guest_hash, 16) != 0)
        fprintf(stderr, "zerg: warning: %s is not the guest template %s was made from\n", gpath,
                name);

    enum { FLOOR, COLD, FRESH, POOLED, FB_COLD, FB_FRESH, FB_POOLED, NSER };
    struct series s[NSER] = {
        [FLOOR] = {"kvm_floor_us", "KVM floor (empty VM)"},
        [COLD] = {"cold_boot_us", "cold boot to READY"},
        [FRESH] = {"restore_fresh_us", "restore, fresh VM"},
        [POOLED] = {"restore_pooled_us", "restore, pooled VM"},
        [FB_COLD] = {"first_byte_cold_us", "first byte, cold boot"},
        [FB_FRESH] = {"first_byte_fresh_us", "first byte, fresh"},
        [FB_POOLED] = {"first_byte_pooled_us", "first byte, pooled"},
    };
    for (int i = 0; i < NSER; i++)
        s[i].v = calloc(i == COLD || i == FB_COLD ? cold_runs : runs, sizeof(double));
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int status = 0;
    /* A backend that owns guest memory (Xen): no dirty log, so no pooled
     * mode; its floor is an empty domain (there is no vCPU state to set
     * before memory exists). */
    int paravirt = hv->mem_alloc != NULL;
    if (paravirt) {
        s[FLOOR].key = "xen_floor_us";
        s[FLOOR].name = "Xen floor (empty domain)";
    }
    struct zg_inst_config cfg = zg_inst_config_default();
    cfg.hv = hv;
    cfg.out_fd = devnull;
    cfg.console_fd = -1;
    int tty = isatty(2) && !json;
    uint64_t copied_total = 0;
    long kib_total = 0, kib_n = 0;

    /* Interleave the modes, one run of each per round, so that a noisy
     * neighbour hits them all alike. */
    for (uint64_t r = 0; r < runs; r++) {
        if (tty && r % 10 == 0)
            fprintf(stderr, "\rzerg: bench round %llu/%llu", (unsigned long long)r,
                    (unsigned long long)runs);
        /* The floor. */
        uint64_t t0 = zg_now_ns();
        struct zg_hv_vm *vm;
        if (hv->vm_create(&vm) < 0 ||
            (!paravirt && hv->vcpu_set_state(vm, &t->state, ZG_VCPU_REGS | ZG_VCPU_SREGS) < 0)) {
            zg_err("bench: cannot create an empty VM");
            status = ZG_EXIT_HOST;
            goto out;
        }
        s[FLOOR].v[s[FLOOR].n++] = us(t0, zg_now_ns());
        hv->vm_destroy(vm);

        /* Fresh: a new VM over a private mapping of the image. */
        struct zg_instance *in;
        struct zg_run_result res;
        cfg.in_fd = request_fd();
        cfg.flags = 0;
        t0 = zg_now_ns();
        if (zg_restore(img, &cfg, &in, err, sizeof(err)) < 0) {
            zg_err("bench: %s", err);
            status = ZG_EXIT_HOST;
            goto out;
        }
        zg_inst_run(in, &res);
        const struct zg_inst_times *tm = zg_inst_times(in);
        if (res.end != ZG_END_EXIT || !tm->first_send) {
            zg_err("bench: a fresh instance did not answer: %s", res.why);
            status = ZG_EXIT_FAULT;
            goto out;
        }
        s[FRESH].v[s[FRESH].n++] = us(t0, tm->first_run);
        s[FB_FRESH].v[s[FB_FRESH].n++] = us(t0, tm->first_send);
        if (r < 50 && !paravirt) {
            long k = anon_kib(zg_inst_mem(in, NULL));
            if (k >= 0)
                kib_total += k, kib_n++;
        }
        zg_inst_destroy(in);
        close(cfg.in_fd);
    }
    /* Pooled: one VM, reset in place between requests. */
    if (!paravirt) {
        struct zg_instance *in;
        struct zg_run_result res;
        cfg.in_fd = request_fd();
        cfg.flags = ZG_INST_TRACK_DIRTY;
        if (zg_restore(img, &cfg, &in, err, sizeof(err)) < 0) {
            zg_err("bench: %s", err);
            status = ZG_EXIT_HOST;
            goto out;
        }
        zg_inst_run(in, &res); /* the first request: the pool's shell warms up */
        close(cfg.in_fd);
        for (uint64_t r = 0; r < runs; r++) {
            int fd = request_fd();
            uint64_t copied = 0;
            uint64_t t0 = zg_now_ns();
            if (zg_restore_reset(img, in, &copied, err, sizeof(err)) < 0) {
                zg_err("bench: %s", err);
                status = ZG_EXIT_HOST;
                zg_inst_destroy(in);
                goto out;
            }
            zg_inst_set_io(in, fd, devnull);
            zg_inst_run(in, &res);
            const struct zg_inst_times *tm = zg_inst_times(in);
            if (res.end != ZG_END_EXIT || !tm->first_send) {
                zg_err("bench: a pooled instance did not answer: %s", res.why);
                status = ZG_EXIT_FAULT;
                zg_inst_destroy(in);
                goto out;
            }
            s[POOLED].v[s[POOLED].n++] = us(t0, tm->first_run);
            s[FB_POOLED].v[s[FB_POOLED].n++] = us(t0, tm->first_send);
            copied_total += copied;
            close(fd);
        }
        zg_inst_destroy(in);
    }
    /* Cold boots: VM creation, ELF load, the guest's init until READY, then the request. */
    for (uint64_t r = 0; r < cold_runs; r++) {
        if (tty)
            fprintf(stderr, "\rzerg: bench cold boot %llu/%llu   ", (unsigned long long)r + 1,
                    (unsigned long long)cold_runs);
        struct zg_inst_config cc = cfg;
        cc.flags = ZG_INST_STOP_AT_READY;
        cc.mem_size = t->info.mem_size;
        cc.cmdline = t->info.cmdline;
        cc.deadline_ms = 60000;
        cc.in_fd = request_fd();
        struct zg_instance *in = NULL;
        struct zg_run_result res;
        uint64_t t0 = zg_now_ns();
        int rc = zg_inst_create(&cc, &in);
        if (rc == 0)
            rc = zg_inst_boot_elf(in, elf, elf_len);
        if (rc == 0)
            rc = zg_inst_run(in, &res);
        if (rc < 0 || res.end != ZG_END_READY) {
            zg_err("bench: cold boot failed: %s", in ? zg_inst_error(in) : strerror(-rc));
            zg_inst_destroy(in);
            status = ZG_EXIT_FAULT;
            goto out;
        }
        s[COLD].v[s[COLD].n++] = us(t0, zg_now_ns());
        zg_inst_complete_ready(in, 0);
        zg_inst_run(in, &res);
        s[FB_COLD].v[s[FB_COLD].n++] = us(t0, zg_inst_times(in)->first_send);
        zg_inst_destroy(in);
        close(cc.in_fd);
    }
    if (tty)
        fprintf(stderr, "\r%60s\r", "");

    for (int i = 0; i < NSER; i++)
        summarize(&s[i]);
    double private_kib = kib_n ? (double)kib_total / (double)kib_n : -1;
    double pages_per_reset = runs ? (double)copied_total / (double)runs : 0;
    if (json) {
        printf("{\"template\":\"%s\",\"runs\":%llu,\"cold_runs\":%llu", name,
               (unsigned long long)runs, (unsigned long long)cold_runs);
        printf(",\"backend\":\"%s\"", hv->name);
        for (int i = 0; i < NSER; i++)
            if (s[i].n)
                printf(",\"%s\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f}", s[i].key, s[i].p50,
                       s[i].p90, s[i].p99);
        if (!paravirt)
            printf(",\"private_kib_per_instance\":%.1f,\"pages_copied_per_reset\":%.1f,"
                   "\"ratio_cold_to_first_byte_pooled\":%.1f",
                   private_kib, pages_per_reset, s[COLD].p50 / s[FB_POOLED].p50);
        printf(",\"ratio_cold_to_restore_fresh\":%.1f,\"ratio_restore_fresh_to_floor\":%.2f}\n",
               s[COLD].p50 / s[FRESH].p50, s[FRESH].p50 / s[FLOOR].p50);
    } else {
        printf("zerg bench %s (%s): %llu runs per restore mode and floor, %llu cold boots; "
               "microseconds\n\n",
               name, hv->name, (unsigned long long)runs, (unsigned long long)cold_runs);
        printf("%-26s %12s %12s %12s\n", "", "p50", "p90", "p99");
        for (int i = 0; i < NSER; i++)
            if (s[i].n)
                printf("%-26s %12.1f %12.1f %12.1f\n", s[i].name, s[i].p50, s[i].p90, s[i].p99);
        printf("\ncold boot / restore fresh (p50):        %8.1fx\n", s[COLD].p50 / s[FRESH].p50);
        printf("restore fresh / %s floor (p50):        %8.2fx\n", paravirt ? "Xen" : "KVM",
               s[FRESH].p50 / s[FLOOR].p50);
        if (!paravirt) {
            printf("cold boot / first byte pooled (p50):    %8.1fx\n",
                   s[COLD].p50 / s[FB_POOLED].p50);
            printf("private memory per live instance:       %8.1f KiB (copy-on-write pages)\n",
                   private_kib);
            printf("pages copied back per pooled reset:     %8.1f\n", pages_per_reset);
        }
    }
    if (plot_file) {
        struct series ps[] = {s[FLOOR], s[FRESH], s[POOLED], s[FB_POOLED], s[COLD]};
        if (paravirt) /* no pooled series */
            ps[2] = s[FB_FRESH], ps[3] = s[FB_COLD];
        if (plot(plot_file, ps, sizeof(ps) / sizeof(ps[0])) < 0) {
            zg_err("bench: could not draw %s (is gnuplot installed?)", plot_file);
            status = ZG_EXIT_HOST;
        }
    }
out:
    for (int i = 0; i < NSER; i++)
        free(s[i].v);
    if (devnull >= 0)
        close(devnull);
    free(elf);
    zg_image_close(img);
    return status;
}
