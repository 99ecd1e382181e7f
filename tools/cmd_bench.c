/* zerg bench: cold boot against restore (fresh and pooled), with this host's KVM floor. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "monitor/zg_elf.h"
#include "restorer/zg_restore.h"
#include "tools/zg_tool.h"

static const char request[] = "GET /bench HTTP/1.0\r\n\r\n";

static void bench_usage(FILE *f)
{
    fprintf(f,
            "usage: zerg bench NAME [options]\n\n"
            "Measures, in one run: cold boot of the template's guest (VM creation, load,\n"
            "init until READY), restore from template NAME into a new VM (fresh), restore\n"
            "into a pooled VM reset in place (pooled), and this host's floor (KVM_CREATE_VM +\n"
            "KVM_CREATE_VCPU + state for an empty VM). Each instance answers one request.\n"
            "The modes are interleaved: each round runs the floor, a fresh restore and a\n"
            "reset of the one pooled VM, in an order shuffled each round, and the cold\n"
            "boots are spread evenly over the rounds, so that a noisy neighbour hits every\n"
            "mode alike. The pooled VM lives through all rounds, so every VM is created\n"
            "while another exists (as under zerg serve). Then memory: --live instances held\n"
            "at once, fresh and (separately) pooled ones that served a request and were\n"
            "reset.\n\n"
            "options:\n"
            "  --runs N        rounds: runs of each restore mode and of the floor (default 300)\n"
            "  --cold-runs N   cold boots (default 40; each takes the guest's whole init)\n"
            "  --live N        instances held at once for the memory figures (default 32)\n"
            "  --guest PATH    the guest ELF for the cold boots (default: the template's\n"
            "                  guest file name in the zerg binary's guests/ directory)\n"
            "  --ro HOST[=GUEST]  a Linux program's read-only trees for the cold boots,\n"
            "                  as given to template create (repeatable)\n"
            "  --env K=V       the same for its --env (repeatable)\n"
            "  --backend NAME  the backend to measure (default: the template's own; on\n"
            "                  Xen there is no pooled mode, no memory figures, and the\n"
            "                  floor is an empty domain)\n"
            "  --json          one JSON object instead of the table\n"
            "  --plot FILE     draw the latency distributions (SVG, with gnuplot)\n"
            "  -h, --help      this text\n\n"
            "Times in microseconds from the start of the restore (or of the cold boot):\n"
            "median (p50), p90, p99. 'restore' ends at the guest's first exit after it is\n"
            "entered (its first hypercall: the first guest instruction ran before it, so\n"
            "this includes entering the VM); 'first byte' at the guest's first response\n"
            "byte. Pooled includes putting the used VM back to the template (copy written\n"
            "pages, reload state). Fresh, as under zerg serve --fresh, takes a VM created\n"
            "ahead (memory mapped, vCPU state loaded, never run): its times start when it\n"
            "is taken; the creation ahead (vm_create_us) and the teardown after\n"
            "(vm_destroy_us) are timed apart, and 'fresh, with its creation' adds the\n"
            "first to the restore. 'the pooled reset alone' ends before the guest is\n"
            "entered (pages put back, registers set, READY answered): the rest of a\n"
            "pooled restore is the entry into the guest and its run to its first exit.\n"
            "The headline ratios are taken on first byte.\n\n"
            "Memory per live instance, KiB (medians of 5 repetitions):\n"
            "  private   copy-on-write guest pages of the instance's mapping (smaps)\n"
            "  host      fall of /proc/meminfo MemAvailable per instance: adds page tables,\n"
            "            KVM's own memory (VM and vCPU structures, shadow pages) and the\n"
            "            monitor's allocations; other processes on the host add noise\n"
            "  process   rise of this process's RssAnon + VmPTE per instance\n");
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

/* One field of a "Key:   123 kB" file (/proc/meminfo, /proc/self/status), in KiB; -1 if absent. */
static long proc_kib(const char *file, const char *key)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[256];
    size_t kl = strlen(key);
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            kib = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

enum {
    FLOOR,
    COLD,
    VM_CREATE,
    FRESH,
    FRESH_ALL,
    POOLED,
    RESET,
    FB_COLD,
    FB_FRESH,
    FB_POOLED,
    FB_FRESH_ALL,
    VM_DESTROY,
    NSER
};

/* Everything one zerg bench run shares between its steps. */
struct bench {
    const struct zg_hv_ops *hv;
    struct zg_image *img;
    const struct zg_tmpl *t;
    const void *elf;
    size_t elf_len;
    int paravirt;
    int devnull;
    struct zg_inst_config cfg;
    struct series s[NSER];
    struct zg_instance *pool; /* the pooled VM, kept across rounds */
    struct zg_instance *next; /* the fresh VM created ahead for the next fresh step */
    double next_create_us;    /* what creating it took */
    uint64_t copied_total;
    uint64_t exits_fresh, exits_pooled; /* round trips into the guest, summed */
    uint64_t kvm_runs_pooled;           /* KVM_RUN calls of pooled requests, resets included */
    long kib_total, kib_n;              /* private KiB of the first fresh instances */
    char err[512];
};

/* The floor: an empty VM (or domain) with the template's vCPU state. */
static int step_floor(struct bench *b)
{
    uint64_t t0 = zg_now_ns();
    struct zg_hv_vm *vm;
    if (b->hv->vm_create(&vm) < 0 ||
        (!b->paravirt &&
         b->hv->vcpu_set_state(vm, &b->t->state, ZG_VCPU_REGS | ZG_VCPU_SREGS) < 0)) {
        zg_err("bench: cannot create an empty VM");
        return ZG_EXIT_HOST;
    }
    b->s[FLOOR].v[b->s[FLOOR].n++] = us(t0, zg_now_ns()); /* before the destroy */
    b->hv->vm_destroy(vm);
    return 0;
}

/* Creates the VM the next fresh step takes, as zerg serve's fresh slots do
 * after each request: a new VM over a private mapping of the image, its
 * vCPU state loaded, stopped in READY (never run). */
static int create_next_fresh(struct bench *b)
{
    struct zg_inst_config cfg = b->cfg;
    cfg.in_fd = -1;
    cfg.flags = ZG_INST_ANSWER_LATER;
    uint64_t t0 = zg_now_ns();
    if (zg_restore(b->img, &cfg, &b->next, b->err, sizeof(b->err)) < 0) {
        b->next = NULL;
        zg_err("bench: %s", b->err);
        return ZG_EXIT_HOST;
    }
    b->next_create_us = us(t0, zg_now_ns());
    return 0;
}

/* Fresh: the VM created ahead takes one request (timed from taking it, as
 * its creation is timed apart), is destroyed, and the next one is created. */
static int step_fresh(struct bench *b)
{
    if (!b->next && create_next_fresh(b) != 0)
        return ZG_EXIT_HOST;
    int fd = request_fd();
    if (fd < 0) {
        zg_err("bench: cannot make a request pipe: %s", strerror(errno));
        return ZG_EXIT_HOST;
    }
    struct zg_instance *in = b->next;
    double create_us = b->next_create_us;
    b->next = NULL;
    struct zg_run_result res;
    memset(&res, 0, sizeof(res));
    uint64_t t0 = zg_now_ns();
    zg_inst_set_io(in, fd, b->devnull);
    int rc = zg_inst_complete_ready(in, 1);
    if (rc == 0)
        zg_inst_run(in, &res);
    const struct zg_inst_times *tm = zg_inst_times(in);
    int status = 0;
    if (rc < 0 || res.end != ZG_END_EXIT || !tm->first_send || !tm->first_exit) {
        zg_err("bench: a fresh instance did not answer: %s", rc < 0 ? zg_inst_error(in) : res.why);
        status = ZG_EXIT_FAULT;
    } else {
        b->s[VM_CREATE].v[b->s[VM_CREATE].n++] = create_us;
        b->s[FRESH].v[b->s[FRESH].n++] = us(t0, tm->first_exit);
        b->s[FRESH_ALL].v[b->s[FRESH_ALL].n++] = create_us + us(t0, tm->first_exit);
        b->exits_fresh += zg_inst_runs(in);
        b->s[FB_FRESH].v[b->s[FB_FRESH].n++] = us(t0, tm->first_send);
        b->s[FB_FRESH_ALL].v[b->s[FB_FRESH_ALL].n++] = create_us + us(t0, tm->first_send);
        if (b->kib_n < 50 && !b->paravirt) {
            long k = anon_kib(zg_inst_mem(in, NULL));
            if (k >= 0)
                b->kib_total += k, b->kib_n++;
        }
    }
    uint64_t t1 = zg_now_ns();
    zg_inst_destroy(in);
    if (status == 0)
        b->s[VM_DESTROY].v[b->s[VM_DESTROY].n++] = us(t1, zg_now_ns());
    close(fd);
    return status ? status : create_next_fresh(b);
}

/* Pooled: the one pooled VM put back to the template in place, one request. */
static int step_pooled(struct bench *b)
{
    int fd = request_fd();
    if (fd < 0) {
        zg_err("bench: cannot make a request pipe: %s", strerror(errno));
        return ZG_EXIT_HOST;
    }
    struct zg_run_result res;
    uint64_t copied = 0;
    uint64_t runs0 = zg_inst_kvm_runs(b->pool);
    /* The request first: the reset answers READY, which hands the guest
     * the request's first bytes (READY_RECV). */
    zg_inst_set_io(b->pool, fd, b->devnull);
    uint64_t t0 = zg_now_ns();
    if (zg_restore_reset(b->img, b->pool, &copied, b->err, sizeof(b->err)) < 0) {
        zg_err("bench: %s", b->err);
        close(fd);
        return ZG_EXIT_HOST;
    }
    double reset_us = us(t0, zg_now_ns());
    zg_inst_run(b->pool, &res);
    close(fd);
    const struct zg_inst_times *tm = zg_inst_times(b->pool);
    if (res.end != ZG_END_EXIT || !tm->first_send || !tm->first_exit) {
        zg_err("bench: a pooled instance did not answer: %s", res.why);
        return ZG_EXIT_FAULT;
    }
    b->s[POOLED].v[b->s[POOLED].n++] = us(t0, tm->first_exit);
    b->s[RESET].v[b->s[RESET].n++] = reset_us;
    b->s[FB_POOLED].v[b->s[FB_POOLED].n++] = us(t0, tm->first_send);
    b->copied_total += copied;
    b->exits_pooled += zg_inst_runs(b->pool);
    b->kvm_runs_pooled += zg_inst_kvm_runs(b->pool) - runs0;
    return 0;
}

/* Cold boot: VM creation, ELF load, the guest's init until READY, then the request. */
static int step_cold(struct bench *b)
{
    struct zg_inst_config cc = b->cfg;
    cc.flags = ZG_INST_STOP_AT_READY;
    cc.mem_size = b->t->info.mem_size;
    cc.cmdline = b->t->info.cmdline;
    cc.deadline_ms = 60000;
    cc.in_fd = request_fd();
    if (cc.in_fd < 0) {
        zg_err("bench: cannot make a request pipe: %s", strerror(errno));
        return ZG_EXIT_HOST;
    }
    struct zg_instance *in = NULL;
    struct zg_run_result res;
    uint64_t t0 = zg_now_ns();
    int rc = zg_inst_create(&cc, &in);
    if (rc == 0)
        rc = zg_inst_boot_elf(in, b->elf, b->elf_len);
    if (rc == 0)
        rc = zg_inst_run(in, &res);
    if (rc < 0 || res.end != ZG_END_READY) {
        if (rc < 0)
            zg_err("bench: cold boot failed: %s", in ? zg_inst_error(in) : strerror(-rc));
        else if (res.end == ZG_END_EXIT)
            zg_err("bench: cold boot failed: the guest exited with status %d before its "
                   "template point (a Linux program's --ro trees not given again?)",
                   res.status);
        else
            zg_err("bench: cold boot failed: %s", res.why);
        zg_inst_destroy(in);
        close(cc.in_fd);
        return ZG_EXIT_FAULT;
    }
    b->s[COLD].v[b->s[COLD].n++] = us(t0, zg_now_ns());
    zg_inst_complete_ready(in, 0);
    zg_inst_run(in, &res);
    int status = 0;
    if (res.end != ZG_END_EXIT || !zg_inst_times(in)->first_send) {
        zg_err("bench: a cold-booted instance did not answer: %s", res.why);
        status = ZG_EXIT_FAULT;
    } else {
        b->s[FB_COLD].v[b->s[FB_COLD].n++] = us(t0, zg_inst_times(in)->first_send);
    }
    zg_inst_destroy(in);
    close(cc.in_fd);
    return status;
}

/* Memory per live instance: n instances held at once, each having answered a
 * request (pooled ones then reset, as a pool keeps them), against the host's
 * MemAvailable and this process's RssAnon + VmPTE before they were made. */
struct live_mem {
    double private_kib, host_kib, own_kib;
};

/* MemAvailable once the kernel has caught up: RCU-deferred frees of the VMs
 * destroyed just before have had time to run, and the per-CPU counter
 * deltas are folded into the global ones (vm.stat_refresh, if this process
 * may write it; otherwise each CPU may hold back up to its stat threshold,
 * of the order of a MiB on this host). */
static long settled_mem_available(void)
{
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t w = write(fd, "1\n", 2);
        (void)w; /* EINVAL when a counter went negative meanwhile: folded anyway */
        close(fd);
    }
    return proc_kib("/proc/meminfo", "MemAvailable");
}

static int measure_live(struct bench *b, int pooled, uint64_t n, struct live_mem *m)
{
    struct zg_instance **in = calloc(n, sizeof(*in));
    if (!in)
        return ZG_EXIT_HOST;
    long avail0 = settled_mem_available();
    long own0 = proc_kib("/proc/self/status", "RssAnon") + proc_kib("/proc/self/status", "VmPTE");
    int status = 0;
    uint64_t made = 0;
    for (; made < n; made++) {
        struct zg_inst_config cfg = b->cfg;
        cfg.in_fd = request_fd();
        cfg.flags = pooled ? ZG_INST_TRACK_DIRTY : 0;
        if (cfg.in_fd < 0 || zg_restore(b->img, &cfg, &in[made], b->err, sizeof(b->err)) < 0) {
            zg_err("bench: %s", cfg.in_fd < 0 ? strerror(errno) : b->err);
            if (cfg.in_fd >= 0)
                close(cfg.in_fd);
            status = ZG_EXIT_HOST;
            break;
        }
        struct zg_run_result res;
        zg_inst_run(in[made], &res);
        close(cfg.in_fd);
        if (res.end != ZG_END_EXIT) {
            zg_err("bench: a live instance did not answer: %s", res.why);
            status = ZG_EXIT_FAULT;
            made++;
            break;
        }
        if (pooled && zg_restore_reset(b->img, in[made], NULL, b->err, sizeof(b->err)) < 0) {
            zg_err("bench: %s", b->err);
            status = ZG_EXIT_HOST;
            made++;
            break;
        }
    }
    if (status == 0) {
        long avail1 = settled_mem_available();
        long own1 =
            proc_kib("/proc/self/status", "RssAnon") + proc_kib("/proc/self/status", "VmPTE");
        long kib = 0;
        for (uint64_t i = 0; i < n; i++) {
            long k = anon_kib(zg_inst_mem(in[i], NULL));
            kib += k > 0 ? k : 0;
        }
        m->private_kib = (double)kib / (double)n;
        m->host_kib = (double)(avail0 - avail1) / (double)n;
        m->own_kib = (double)(own1 - own0) / (double)n;
    }
    for (uint64_t i = 0; i < made; i++)
        zg_inst_destroy(in[i]);
    free(in);
    return status;
}

#define LIVE_REPS 5

static double median_of(const double *v, size_t n)
{
    double c[LIVE_REPS];
    memcpy(c, v, n * sizeof(double));
    qsort(c, n, sizeof(double), cmp_double);
    return c[(n - 1) / 2];
}

int zg_cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"runs", required_argument, NULL, 'r'},
        {"cold-runs", required_argument, NULL, 'c'},
        {"live", required_argument, NULL, 'l'},
        {"guest", required_argument, NULL, 'g'},
        {"ro", required_argument, NULL, 'o'},
        {"env", required_argument, NULL, 'e'},
        {"backend", required_argument, NULL, 'b'},
        {"json", no_argument, NULL, 'j'},
        {"plot", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t runs = 300, cold_runs = 40, live = 32;
    static struct zg_tool_linux_opts lo;
    memset(&lo, 0, sizeof(lo));
    const char *guest = NULL, *plot_file = NULL, *backend = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:c:l:g:b:jp:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            backend = optarg;
            break;
        case 'r':
        case 'c':
        case 'l': {
            uint64_t *v = c == 'r' ? &runs : c == 'c' ? &cold_runs : &live;
            if (zg_parse_u64(optarg, c == 'l' ? 1000 : 1000000, v) < 0 || *v == 0) {
                zg_err("bench: '%s' is not a positive number%s", optarg,
                       c == 'l' ? " of instances (at most 1000)" : " of runs");
                return ZG_EXIT_USAGE;
            }
            break;
        }
        case 'g':
            guest = optarg;
            break;
        case 'e':
        case 'o':
            if (zg_tool_linux_opt("bench", &lo, c == 'e', optarg))
                return ZG_EXIT_USAGE;
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
    char home[4096], gpath[4096];
    static struct bench bb; /* large (err buffer, series); one per process */
    struct bench *b = &bb;
    memset(b, 0, sizeof(*b));
    b->devnull = -1;
    if (zg_home_dir(home, sizeof(home)) < 0) {
        zg_err("cannot determine the zerg home directory (set ZERG_HOME)");
        return ZG_EXIT_HOST;
    }
    int orc = zg_image_open(home, name, 0, &b->img, b->err, sizeof(b->err));
    if (orc < 0) {
        zg_err("bench: %s", b->err);
        return zg_tool_exit_for(orc);
    }
    if (b->img->note[0])
        fprintf(stderr, "zerg: warning: %s\n", b->img->note);
    const struct zg_tmpl *t = b->t = b->img->tmpl;
    void *elf = NULL;
    size_t elf_len = 0;
    if (zg_tool_find_guest(t, guest, gpath, sizeof(gpath)) < 0 ||
        zg_file_read(gpath, ZG_ELF_MAX_SIZE, &elf, &elf_len) < 0) {
        zg_err("bench: cannot read the guest for cold boots (%s); give --guest PATH", gpath);
        zg_image_close(b->img);
        return ZG_EXIT_USAGE;
    }
    b->elf = elf;
    b->elf_len = elf_len;
    const struct zg_hv_ops *hv = b->hv =
        zg_tool_backend("bench", backend ? backend : t->info.backend);
    if (!hv) {
        free(elf);
        zg_image_close(b->img);
        return ZG_EXIT_USAGE;
    }
    XXH128_canonical_t h;
    XXH128_canonicalFromHash(&h, XXH3_128bits(elf, elf_len));
    if (memcmp(h.digest, t->info.guest_hash, 16) != 0)
        fprintf(stderr, "zerg: warning: %s is not the guest template %s was made from\n", gpath,
                name);

    struct series *s = b->s;
    s[FLOOR] = (struct series){.key = "kvm_floor_us", .name = "KVM floor (empty VM)"};
    s[COLD] = (struct series){.key = "cold_boot_us", .name = "cold boot to READY"};
    s[VM_CREATE] = (struct series){.key = "vm_create_us", .name = "fresh VM created ahead"};
    s[FRESH] = (struct series){.key = "restore_fresh_us", .name = "restore, fresh VM"};
    s[FRESH_ALL] =
        (struct series){.key = "restore_fresh_with_create_us", .name = "fresh, with its creation"};
    s[POOLED] = (struct series){.key = "restore_pooled_us", .name = "restore, pooled VM"};
    s[RESET] = (struct series){.key = "reset_pooled_us", .name = "the pooled reset alone"};
    s[FB_COLD] = (struct series){.key = "first_byte_cold_us", .name = "first byte, cold boot"};
    s[FB_FRESH] = (struct series){.key = "first_byte_fresh_us", .name = "first byte, fresh"};
    s[FB_POOLED] = (struct series){.key = "first_byte_pooled_us", .name = "first byte, pooled"};
    s[FB_FRESH_ALL] = (struct series){.key = "first_byte_fresh_with_create_us",
                                      .name = "first byte, fresh + creation"};
    s[VM_DESTROY] = (struct series){.key = "vm_destroy_us", .name = "fresh VM torn down after"};
    for (int i = 0; i < NSER; i++)
        s[i].v = calloc(i == COLD || i == FB_COLD ? cold_runs : runs, sizeof(double));
    b->devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int status = 0;
    /* A backend that owns guest memory (Xen): no dirty log, so no pooled
     * mode; its floor is an empty domain (there is no vCPU state to set
     * before memory exists); its guests' memory is Xen's, not this host
     * kernel's, so no memory figures. */
    int paravirt = b->paravirt = (hv->caps & ZG_HV_CAP_PARAVIRT) != 0;
    if (paravirt) {
        s[FLOOR].key = "xen_floor_us";
        s[FLOOR].name = "Xen floor (empty domain)";
    }
    b->cfg = zg_inst_config_default();
    b->cfg.hv = hv;
    b->cfg.out_fd = b->devnull;
    b->cfg.console_fd = -1;
    b->cfg.argv0 = gpath; /* a Linux program's cold boots: as template create gave them */
    b->cfg.linux_ro = zg_tool_linux_ro(&lo);
    b->cfg.linux_env = zg_tool_linux_env(&lo);
    int tty = isatty(2) && !json;
    struct live_mem mem_fresh = {-1, -1, -1}, mem_pooled = {-1, -1, -1};

    /* The pooled VM, kept across the rounds; its first request warms it up.
     * It also means every VM the rounds create is created while another
     * exists, as under zerg serve: on this project's PVM hosts, creating a VM
     * when no other VM exists on the host costs ~0.3 ms more
     * (docs/benchmarks.md). */
    if (!paravirt) {
        struct zg_inst_config cfg = b->cfg;
        cfg.in_fd = request_fd();
        cfg.flags = ZG_INST_TRACK_DIRTY;
        if (cfg.in_fd < 0 || zg_restore(b->img, &cfg, &b->pool, b->err, sizeof(b->err)) < 0) {
            zg_err("bench: %s", cfg.in_fd < 0 ? strerror(errno) : b->err);
            if (cfg.in_fd >= 0)
                close(cfg.in_fd);
            status = ZG_EXIT_HOST;
            goto out;
        }
        struct zg_run_result res;
        zg_inst_run(b->pool, &res);
        close(cfg.in_fd);
    }

    /* Interleave the modes so that a noisy neighbour hits them all alike:
     * every round runs the floor, a fresh restore and a pooled reset, and
     * the cold boots are spread evenly over the rounds (round r brings their
     * count to floor((r+1) * cold_runs / runs)). The order within a round is
     * shuffled (a fixed seed, so runs are comparable), so that no mode
     * always follows the same one (e.g. always runs right after a VM was
     * destroyed); with a fixed or rotating order each mode would have a
     * fixed neighbour. */
    enum { M_FLOOR, M_FRESH, M_POOLED, M_COLD };
    uint64_t cold_done = 0, rng = 0x9e3779b97f4a7c15ull;
    for (uint64_t r = 0; r < runs; r++) {
        if (tty && (r % 10 == 0 || r == runs - 1))
            fprintf(stderr, "\rzerg: bench round %llu/%llu, cold boots %llu/%llu   ",
                    (unsigned long long)r + 1, (unsigned long long)runs,
                    (unsigned long long)cold_done, (unsigned long long)cold_runs);
        uint64_t cold_due = (r + 1) * cold_runs / runs - cold_done;
        int modes[3 + 1], nm = 0;
        modes[nm++] = M_FLOOR;
        modes[nm++] = M_FRESH;
        if (!paravirt)
            modes[nm++] = M_POOLED;
        if (cold_due)
            modes[nm++] = M_COLD;
        for (int k = nm - 1; k > 0; k--) { /* Fisher-Yates, xorshift64 */
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            int j = (int)(rng % (uint64_t)(k + 1)), m = modes[k];
            modes[k] = modes[j], modes[j] = m;
        }
        for (int k = 0; k < nm && status == 0; k++) {
            switch (modes[k]) {
            case M_FLOOR:
                status = step_floor(b);
                break;
            case M_FRESH:
                status = step_fresh(b);
                break;
            case M_POOLED:
                status = step_pooled(b);
                break;
            case M_COLD:
                for (uint64_t i = 0; i < cold_due && status == 0; i++, cold_done++)
                    status = step_cold(b);
                break;
            }
        }
        if (status)
            goto out;
    }
    const char *written_by = b->pool ? zg_inst_written_method(b->pool) : "none";
    zg_inst_destroy(b->pool);
    b->pool = NULL;
    zg_inst_destroy(b->next);
    b->next = NULL;

    /* Memory: `live` instances at once, LIVE_REPS times for each kind. */
    if (!paravirt) {
        double fv[3][LIVE_REPS], pv[3][LIVE_REPS];
        for (int rep = 0; rep < LIVE_REPS; rep++) {
            if (tty)
                fprintf(stderr, "\rzerg: bench memory, %llu live instances, %d/%d          ",
                        (unsigned long long)live, rep + 1, LIVE_REPS);
            struct live_mem f, p;
            status = measure_live(b, 0, live, &f);
            if (status == 0)
                status = measure_live(b, 1, live, &p);
            if (status)
                goto out;
            fv[0][rep] = f.private_kib, fv[1][rep] = f.host_kib, fv[2][rep] = f.own_kib;
            pv[0][rep] = p.private_kib, pv[1][rep] = p.host_kib, pv[2][rep] = p.own_kib;
        }
        mem_fresh = (struct live_mem){median_of(fv[0], LIVE_REPS), median_of(fv[1], LIVE_REPS),
                                      median_of(fv[2], LIVE_REPS)};
        mem_pooled = (struct live_mem){median_of(pv[0], LIVE_REPS), median_of(pv[1], LIVE_REPS),
                                       median_of(pv[2], LIVE_REPS)};
    }
    if (tty)
        fprintf(stderr, "\r%70s\r", "");

    for (int i = 0; i < NSER; i++)
        summarize(&s[i]);
    double private_kib = b->kib_n ? (double)b->kib_total / (double)b->kib_n : -1;
    double pages_per_reset = runs ? (double)b->copied_total / (double)runs : 0;
    double exits_fresh = s[FRESH].n ? (double)b->exits_fresh / (double)s[FRESH].n : 0;
    double exits_pooled = s[POOLED].n ? (double)b->exits_pooled / (double)s[POOLED].n : 0;
    double kvm_runs_pooled = s[POOLED].n ? (double)b->kvm_runs_pooled / (double)s[POOLED].n : 0;
    const char *floor_name = paravirt ? "Xen" : "KVM";
    if (json) {
        printf("{\"template\":\"%s\",\"runs\":%llu,\"cold_runs\":%llu", name,
               (unsigned long long)runs, (unsigned long long)cold_runs);
        printf(",\"backend\":\"%s\"", hv->name);
        for (int i = 0; i < NSER; i++)
            if (s[i].n)
                printf(",\"%s\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f}", s[i].key, s[i].p50,
                       s[i].p90, s[i].p99);
        if (!paravirt) {
            printf(",\"live_instances\":%llu,\"private_kib_per_instance\":%.1f,"
                   "\"private_kib_per_pooled_instance\":%.1f,"
                   "\"host_kib_per_fresh_instance\":%.1f,\"host_kib_per_pooled_instance\":%.1f,"
                   "\"process_kib_per_fresh_instance\":%.1f,"
                   "\"process_kib_per_pooled_instance\":%.1f,\"pages_copied_per_reset\":%.1f,"
                   "\"written_pages_known_by\":\"%s\"",
                   (unsigned long long)live, private_kib, mem_pooled.private_kib,
                   mem_fresh.host_kib, mem_pooled.host_kib, mem_fresh.own_kib, mem_pooled.own_kib,
                   pages_per_reset, written_by);
            printf(",\"ratio_cold_to_first_byte_pooled\":%.1f"
                   ",\"ratio_first_byte_cold_to_pooled\":%.1f",
                   s[COLD].p50 / s[FB_POOLED].p50, s[FB_COLD].p50 / s[FB_POOLED].p50);
        }
        printf(",\"exits_per_fresh_request\":%.2f", exits_fresh);
        if (!paravirt)
            printf(",\"exits_per_pooled_request\":%.2f,\"kvm_runs_per_pooled_request\":%.2f",
                   exits_pooled, kvm_runs_pooled);
        printf(",\"ratio_first_byte_cold_to_fresh\":%.1f"
               ",\"ratio_first_byte_fresh_to_floor\":%.2f"
               ",\"ratio_cold_to_restore_fresh\":%.1f,\"ratio_restore_fresh_to_floor\":%.2f"
               ",\"ratio_fresh_with_create_to_floor\":%.2f}\n",
               s[FB_COLD].p50 / s[FB_FRESH].p50, s[FB_FRESH].p50 / s[FLOOR].p50,
               s[COLD].p50 / s[FRESH].p50, s[FRESH].p50 / s[FLOOR].p50,
               s[FRESH_ALL].p50 / s[FLOOR].p50);
    } else {
        printf("zerg bench %s (%s): %llu interleaved rounds (floor, fresh%s), %llu cold boots "
               "spread among them; microseconds\n\n",
               name, hv->name, (unsigned long long)runs, paravirt ? "" : ", pooled",
               (unsigned long long)cold_runs);
        printf("%-26s %12s %12s %12s\n", "", "p50", "p90", "p99");
        for (int i = 0; i < NSER; i++)
            if (s[i].n)
                printf("%-26s %12.1f %12.1f %12.1f\n", s[i].name, s[i].p50, s[i].p90, s[i].p99);
        printf("\n('restore' ends at the guest's first exit, 'first byte' at its first response "
               "byte)\n");
        printf("first byte, cold boot / fresh (p50):     %8.1fx\n",
               s[FB_COLD].p50 / s[FB_FRESH].p50);
        if (!paravirt)
            printf("first byte, cold boot / pooled (p50):    %8.1fx\n",
                   s[FB_COLD].p50 / s[FB_POOLED].p50);
        printf("first byte fresh / %s floor (p50):      %8.2fx\n", floor_name,
               s[FB_FRESH].p50 / s[FLOOR].p50);
        printf("cold boot to READY / restore fresh:      %8.1fx\n", s[COLD].p50 / s[FRESH].p50);
        printf("restore fresh / %s floor (p50):         %8.2fx\n", floor_name,
               s[FRESH].p50 / s[FLOOR].p50);
        printf("fresh with its creation / %s floor (p50): %7.2fx\n", floor_name,
               s[FRESH_ALL].p50 / s[FLOOR].p50);
        printf("round trips into the guest per request:  %8.2f fresh", exits_fresh);
        if (!paravirt)
            printf(", %.2f pooled", exits_pooled);
        printf(" (each an exit to the monitor)\n");
        if (!paravirt)
            printf("KVM_RUN calls per pooled request:        %8.2f (the reset's included)\n",
                   kvm_runs_pooled);
        if (!paravirt) {
            printf("pages copied back per pooled reset:      %8.1f (written pages known by %s)\n",
                   pages_per_reset, written_by);
            printf("\nmemory per live instance, KiB (%llu held at once; median of %d):\n",
                   (unsigned long long)live, LIVE_REPS);
            printf("  private, fresh       %8.1f  copy-on-write guest pages after its request\n",
                   private_kib);
            printf("  private, pooled      %8.1f  same, a pooled VM served and reset\n",
                   mem_pooled.private_kib);
            printf("  host, fresh          %8.1f  fall of MemAvailable: + page tables, KVM's own "
                   "memory, the monitor's (noisy)\n",
                   mem_fresh.host_kib);
            printf("  host, pooled         %8.1f  same, pooled VMs served and reset\n",
                   mem_pooled.host_kib);
            printf("  process, fresh       %8.1f  rise of this process's RssAnon + VmPTE\n",
                   mem_fresh.own_kib);
            printf("  process, pooled      %8.1f  same, pooled\n", mem_pooled.own_kib);
        }
    }
    if (plot_file) {
        struct series ps[] = {s[FLOOR], s[FRESH], s[POOLED], s[FB_FRESH], s[FB_POOLED], s[COLD]};
        size_t np = sizeof(ps) / sizeof(ps[0]);
        if (paravirt) /* no pooled series */
            ps[2] = s[FB_COLD], ps[4] = s[COLD], np = 5;
        if (plot(plot_file, ps, np) < 0) {
            zg_err("bench: could not draw %s (is gnuplot installed?)", plot_file);
            status = ZG_EXIT_HOST;
        }
    }
out:
    if (tty && status)
        fprintf(stderr, "\n");
    zg_inst_destroy(b->pool);
    zg_inst_destroy(b->next);
    for (int i = 0; i < NSER; i++)
        free(s[i].v);
    if (b->devnull >= 0)
        close(b->devnull);
    free(elf);
    zg_image_close(b->img);
    return status;
}
