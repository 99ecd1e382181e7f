/* Tests on real KVM: a pooled instance reset in place is indistinguishable
 * from the template (every page, all vCPU state), and 1,000 restored
 * instances alive at once share the template's memory. Skipped without KVM
 * or without the built guests. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restorer/zg_restore.h"
#include "snapshotter/zg_snapshot.h"
#include "tests/zt.h"

static char home[256];
static struct zg_image *img;
static int devnull;

static int request_fd(const char *req)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    if (write(p[1], req, strlen(req)) != (ssize_t)strlen(req))
        return -1;
    close(p[1]);
    return p[0];
}

static int same_segment(const struct zg_segment *a, const struct zg_segment *b)
{
    return a->base == b->base && a->limit == b->limit && a->selector == b->selector &&
           a->type == b->type && a->present == b->present && a->dpl == b->dpl && a->l == b->l;
}

/* Whether the template's guest puts its own FPU state back when READY
 * returns (ZG_READY_SELF_FPU in its READY struct): then a pooled reset
 * leaves the vCPU's FPU as the request left it, and what the guest will see
 * is its saved image, in the pages compared with the template. */
static int fpu_by_guest(const struct zg_image *im)
{
    /* A Linux program: the runtime's entry FXRSTORs after every exit, the
     * template point's included (linux/rt/entry.S). */
    if (strcmp(im->tmpl->persona.name, "linux") == 0)
        return 1;
    const struct zg_hc_ready *r = (const void *)(im->map + im->tmpl->info.ready_gpa);
    return (r->flags & ZG_READY_SELF_FPU) != 0;
}

/* Compares what a guest can observe of two vCPU states (the FPU unless
 * skip_fpu: the guest puts it back itself). */
static const char *state_diff(const struct zg_vcpu_state *a, const struct zg_vcpu_state *b,
                              int skip_fpu)
{
    if (memcmp(&a->regs, &b->regs, sizeof(a->regs)) != 0)
        return "general registers";
    if (!same_segment(&a->sregs.cs, &b->sregs.cs) || !same_segment(&a->sregs.ss, &b->sregs.ss) ||
        !same_segment(&a->sregs.fs, &b->sregs.fs) || !same_segment(&a->sregs.gs, &b->sregs.gs))
        return "segments";
    if (a->sregs.cr0 != b->sregs.cr0 || a->sregs.cr3 != b->sregs.cr3 ||
        a->sregs.cr4 != b->sregs.cr4 || a->sregs.efer != b->sregs.efer)
        return "control registers";
    if (memcmp(a->msrs, b->msrs, sizeof(a->msrs)) != 0)
        return "MSRs";
    if (a->fpu.xcr0 != b->fpu.xcr0)
        return "XCR0";
    if (!skip_fpu && memcmp(a->fpu.xsave, b->fpu.xsave, 512) != 0)
        return "FPU/SSE state";
    return NULL;
}

/* A request head of exactly `len` bytes (len >= 64): a short request line,
 * then one header whose value repeats `marker`, then the blank line. */
static char *padded_request(size_t len, const char *marker)
{
    char *r = malloc(len + 1);
    if (!r)
        return NULL;
    int n = snprintf(r, len + 1, "GET /big HTTP/1.0\r\nX-Pad: ");
    size_t m = strlen(marker);
    for (size_t i = (size_t)n; i < len - 4; i++)
        r[i] = marker[(i - (size_t)n) % m];
    memcpy(r + len - 4, "\r\n\r\n", 5);
    return r;
}

/* How many guest pages hold `marker` (each page on its own: a page the
 * reset forgot holds it whole, since the marker repeats). */
static uint64_t pages_holding(const uint8_t *mem, uint64_t size, const char *marker)
{
    uint64_t n = 0;
    size_t m = strlen(marker);
    for (uint64_t p = 0; p < size / 4096; p++)
        n += memmem(mem + p * 4096, 4096, marker, m) != NULL;
    return n;
}

/* Reset in place, before READY is answered: memory and state must be the
 * template's, and no page may still hold the request's bytes. */
static const char *reset_and_compare_to(const struct zg_image *im, struct zg_instance *in,
                                        const char *marker, char *msg, size_t len)
{
    const struct zg_tmpl *t = im->tmpl;
    uint64_t copied = 0;
    if (zg_inst_reset(in, im->map, &t->state, t->info.ready_gpa, &copied) != 0)
        return "zg_inst_reset failed";
    if (copied == 0)
        return "the reset copied no page back";
    uint64_t size;
    const uint8_t *mem = zg_inst_mem(in, &size);
    if (size != t->info.mem_size)
        return "memory size changed";
    uint64_t bad = 0, first = 0;
    for (uint64_t p = 0; p < size / 4096; p++) {
        struct zg_pc_key k;
        zg_pc_page_key(mem + p * 4096, &k);
        if (memcmp(&k, &t->keys[p], sizeof(k)) != 0 && bad++ == 0)
            first = p;
    }
    uint64_t kept = marker ? pages_holding(mem, size, marker) : 0;
    if (bad || kept) {
        snprintf(msg, len,
                 "after a reset (%llu pages copied back) %llu page(s) differ from the template "
                 "(first: page %llu), %llu still hold the last request's bytes",
                 (unsigned long long)copied, (unsigned long long)bad, (unsigned long long)first,
                 (unsigned long long)kept);
        return msg;
    }
    struct zg_vcpu_state st;
    if (zg_inst_get_state(in, &st) != 0)
        return "zg_inst_get_state failed";
    const char *d = state_diff(&st, &t->state, fpu_by_guest(im));
    if (d) {
        snprintf(msg, len, "after reset the %s differ from the template", d);
        return msg;
    }
    return NULL;
}

static const char *reset_and_compare(struct zg_instance *in, const char *marker, char *msg,
                                     size_t len)
{
    return reset_and_compare_to(img, in, marker, msg, len);
}

/* Requests of several sizes, each followed by a reset compared page by page
 * with the template. The request's first 8 KiB arrive with READY
 * (READY_RECV) in the guest runtime's buffer, which only the monitor
 * writes (zergling copies out of it), so in a request of 6-12 KiB whole
 * pages are written by the monitor alone, never by the guest: KVM's dirty
 * log does not see them, only the monitor's own record of the pages it
 * wrote does (the host's page table sees both). */
static void reset_equals_template_by(const char *method)
{
    static const struct {
        size_t len;    /* 0: the short request below */
        int min_pages; /* pages the request's marker must be seen in before the reset */
    } reqs[] = {
        {8192, 2},  /* exactly REQ_MAX, a whole head: answered 200 */
        {6000, 1},  /* under REQ_MAX */
        {12000, 2}, /* over REQ_MAX: 8192 bytes read, answered 431 */
        {0, 0},     /* a short one */
        {8192, 2},  /* the same size again, other bytes */
    };
    struct zg_inst_config cfg = zg_inst_config_default();
    cfg.flags = ZG_INST_TRACK_DIRTY;
    cfg.console_fd = -1;
    cfg.out_fd = devnull;
    cfg.in_fd = -1;
    struct zg_instance *in = NULL, *fresh;
    char err[256], msg[300];
    ZT_EQ(zg_restore(img, &cfg, &in, err, sizeof(err)), 0);
    if (!in)
        return;
    if (strcmp(zg_inst_written_method(in), method) != 0) {
        ZT_FAILF("pages written are tracked by %s, expected %s", zg_inst_written_method(in),
                 method);
        zg_inst_destroy(in);
        return;
    }
    const struct zg_tmpl *t = img->tmpl;
    uint64_t size;
    const uint8_t *mem = zg_inst_mem(in, &size);
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        char marker[32];
        snprintf(marker, sizeof(marker), "<ZGREQ%zu-%d>", i, (int)getpid());
        char *req = reqs[i].len ? padded_request(reqs[i].len, marker)
                                : strdup("GET /scribble HTTP/1.0\r\n\r\n");
        ZT_TRUE(req != NULL);
        int fd = request_fd(req);
        free(req);
        ZT_TRUE(fd >= 0);
        if (i > 0)
            ZT_EQ(zg_inst_complete_ready(in, 1), 0);
        zg_inst_set_io(in, fd, devnull);
        struct zg_run_result res;
        ZT_EQ(zg_inst_run(in, &res), 0);
        close(fd);
        ZT_EQ(res.end, ZG_END_EXIT);
        ZT_TRUE(zg_inst_bytes_out(in) > 100); /* it answered, so it wrote memory */
        if (reqs[i].len) {
            /* The request's bytes are in guest memory, as the guest read them. */
            uint64_t held = pages_holding(mem, size, marker);
            if (held < (uint64_t)reqs[i].min_pages)
                ZT_FAILF("request %zu (%zu bytes): its bytes are in %llu page(s), expected %d", i,
                         reqs[i].len, (unsigned long long)held, reqs[i].min_pages);
        }
        const char *why = reset_and_compare(in, reqs[i].len ? marker : NULL, msg, sizeof(msg));
        if (why)
            ZT_FAILF("request %zu (%zu bytes): %s", i, reqs[i].len, why);
    }

    /* And it equals a fresh restore, READY answered in both. */
    ZT_EQ(zg_inst_complete_ready(in, 1), 0);
    cfg.flags = 0;
    cfg.in_fd = -1;
    ZT_EQ(zg_restore(img, &cfg, &fresh, err, sizeof(err)), 0);
    struct zg_vcpu_state st, st2;
    ZT_EQ(zg_inst_get_state(in, &st), 0);
    ZT_EQ(zg_inst_get_state(fresh, &st2), 0);
    const char *d = state_diff(&st, &st2, fpu_by_guest(img));
    if (d)
        ZT_FAILF("reset and fresh instances differ in %s", d);
    /* zergling puts its FPU back itself (the runtime's zg_ready), so the
     * resets above left it to the guest; a fresh restore sets it all. */
    ZT_TRUE(fpu_by_guest(img));
    d = state_diff(&st2, &t->state, 0);
    if (d)
        ZT_FAILF("a fresh restore's %s differ from the template", d);
    const uint8_t *fmem = zg_inst_mem(fresh, NULL);
    uint64_t ready_page = t->info.ready_gpa / 4096;
    for (uint64_t p = 0; p < size / 4096; p++)
        if (p != ready_page && memcmp(mem + p * 4096, fmem + p * 4096, 4096) != 0)
            ZT_FAILF("page %llu differs between reset and fresh", (unsigned long long)p);
    /* The READY answers differ only in identity, entropy and time. */
    const struct zg_hc_ready *r1 = (const void *)(mem + t->info.ready_gpa);
    const struct zg_hc_ready *r2 = (const void *)(fmem + t->info.ready_gpa);
    ZT_EQ(r1->restored, 1);
    ZT_EQ(r2->restored, 1);
    ZT_TRUE(r1->instance_id != r2->instance_id);
    ZT_TRUE(memcmp(r1->entropy, r2->entropy, sizeof(r1->entropy)) != 0);

    /* The reset instance serves again. */
    int fd = request_fd("GET /again HTTP/1.0\r\n\r\n");
    zg_inst_set_io(in, fd, devnull);
    struct zg_run_result res;
    ZT_EQ(zg_inst_run(in, &res), 0);
    ZT_EQ(res.end, ZG_END_EXIT);
    ZT_TRUE(zg_inst_bytes_out(in) > 100);
    close(fd);
    zg_inst_destroy(fresh);
    zg_inst_destroy(in);
}

/* Linux 6.7 or later has PAGEMAP_SCAN, so written pages are tracked by the
 * host's page table; before, by KVM's dirty log. */
static int kernel_has_pagemap_scan(void)
{
    struct utsname u;
    int major = 0, minor = 0;
    if (uname(&u) != 0 || sscanf(u.release, "%d.%d", &major, &minor) != 2)
        return 0;
    return major > 6 || (major == 6 && minor >= 7);
}

ZT_TEST(reset_equals_template)
{
    reset_equals_template_by(kernel_has_pagemap_scan() ? "pagemap" : "kvm-dirty-log");
}

/* The same through KVM's dirty log, the way kernels before 6.7 track. */
ZT_TEST(reset_equals_template_kvm_log)
{
    setenv("ZERG_DIRTY_LOG", "kvm", 1);
    reset_equals_template_by("kvm-dirty-log");
    unsetenv("ZERG_DIRTY_LOG");
}

/* Pages of the instance's memory that are its own copies, read from
 * /proc/self/pagemap (present, not the file's: bit 63 set, bit 61 clear). */
static long own_copies(const uint8_t *mem, uint64_t size)
{
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0)
        return -1;
    long n = 0;
    uint64_t e[512];
    for (uint64_t p = 0; p < size / 4096; p += 512) {
        off_t at = (off_t)(((uintptr_t)mem / 4096 + p) * sizeof(uint64_t));
        if (pread(fd, e, sizeof(e), at) != (ssize_t)sizeof(e)) {
            n = -1;
            break;
        }
        for (int i = 0; i < 512; i++)
            n += (e[i] >> 63 & 1) && !(e[i] >> 61 & 1);
    }
    close(fd);
    return n;
}

/* One request to the pooled `pages` instance, then its reset compared with
 * the template page by page; *copied gets the pages the reset put back.
 * NULL, or why not. */
static const char *pages_request(const struct zg_image *pim, struct zg_instance *in, int first,
                                 int count, int fill, int answer, uint64_t *copied, char *msg,
                                 size_t len)
{
    char req[64];
    snprintf(req, sizeof(req), "%d %d %d", first, count, fill);
    int fd = request_fd(req);
    if (answer && zg_inst_complete_ready(in, 1) != 0)
        return "zg_inst_complete_ready failed";
    zg_inst_set_io(in, fd, devnull);
    struct zg_run_result res;
    int rc = zg_inst_run(in, &res);
    close(fd);
    if (rc != 0 || res.end != ZG_END_EXIT || res.status != 0) {
        snprintf(msg, len, "the request '%s' did not end well: %.150s (status %d)", req, res.why,
                 res.status);
        return msg;
    }
    const char *why = reset_and_compare_to(pim, in, NULL, msg, len);
    if (!why && copied) {
        const struct zg_tmpl *t = pim->tmpl;
        /* a second reset, nothing run: it puts back nothing */
        if (zg_inst_reset(in, pim->map, &t->state, t->info.ready_gpa, copied) != 0)
            return "zg_inst_reset failed";
    }
    return why;
}

/* A pooled VM whose requests write windows of a buffer: after every reset
 * memory is the template's page for page (copies kept from an earlier
 * request and written again with other bytes included). A window written
 * with its own bytes again, request after request, keeps its copies (they
 * equal the image at every reset, yet every request writes them: dropping
 * them would cost a fault each time). Past 2,048 copies the longest-equal
 * are given back (monitor/written.c), so what a reset compares stays
 * bounded. */
ZT_TEST(written_pages_put_back_and_given_back)
{
    if (access("bin/linux-tests/pages.glibc", R_OK) != 0) {
        ZT_SKIP("needs make's bin/linux-tests/pages.glibc");
        return;
    }
    struct zg_tmpl_create_opts o = {.home = home,
                                    .name = "pages",
                                    .guest_path = "bin/linux-tests/pages.glibc",
                                    .mem_size = 64ull << 20,
                                    .deadline_ms = 60000,
                                    .console_fd = -1};
    struct zg_tmpl_create_stats st;
    char err[256], msg[300];
    struct zg_image *pim = NULL;
    if (zg_tmpl_create(&o, &st, err, sizeof(err)) < 0 ||
        zg_image_open(home, "pages", 0, &pim, err, sizeof(err)) < 0) {
        ZT_FAILF("template: %s", err);
        return;
    }
    struct zg_inst_config cfg = zg_inst_config_default();
    cfg.flags = ZG_INST_TRACK_DIRTY;
    cfg.console_fd = -1;
    cfg.out_fd = devnull;
    cfg.in_fd = -1;
    struct zg_instance *in = NULL;
    ZT_EQ(zg_restore(pim, &cfg, &in, err, sizeof(err)), 0);
    if (!in) {
        zg_image_close(pim);
        return;
    }
    int pagemap = strcmp(zg_inst_written_method(in), "pagemap") == 0;
    uint64_t size;
    const uint8_t *mem = zg_inst_mem(in, &size);
    const char *why = NULL;
    /* 512 pages written with other bytes three times, then with their own
     * bytes ten times */
    uint64_t again = 0;
    long same = 0;
    for (int i = 0; i < 13 && !why; i++)
        why = pages_request(pim, in, 0, 512, i < 3 ? 11 + i : -1, i > 0, &again, msg, sizeof(msg));
    same = own_copies(mem, size);
    /* then 512-page windows further on, each once, with other bytes */
    long peak = 0;
    for (int w = 1; w < 8 && !why; w++) {
        why = pages_request(pim, in, w * 512, 512, 20 + w, 1, NULL, msg, sizeof(msg));
        long c = own_copies(mem, size);
        peak = c > peak ? c : peak;
    }
    long end = own_copies(mem, size);
    printf("# copies the instance holds: %ld after a window written with its own bytes 10 times, "
           "%ld at most, %ld at the end of 7 other windows\n",
           same, peak, end);
    if (why)
        ZT_FAILF("%s", why);
    ZT_EQ(again, 0);
    if (pagemap && (same < 512 || same > 512 + 64))
        ZT_FAILF("%ld copies kept after a window of 512 pages was written with its own bytes "
                 "10 times: expected them all kept",
                 same);
    if (pagemap && (peak > 2048 + 512 + 64 || end > 2048 + 64))
        ZT_FAILF("copies kept: %ld at most, %ld at the end (7 windows of 512 pages): not bounded",
                 peak, end);
    zg_inst_destroy(in);
    zg_image_close(pim);
}

/* KiB of `field` ("Name:   123 kB") in a /proc file, or -1. */
static long proc_kib(const char *path, const char *field)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            v = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* This process's own memory: anonymous pages plus page tables. */
static long own_kib(void)
{
    return proc_kib("/proc/self/smaps_rollup", "Anonymous") +
           proc_kib("/proc/self/status", "VmPTE");
}

/* Child: restores `n` instances, answers one request with each, keeps them
 * alive, reports how many and the memory they added on `out`, and waits for
 * `in` to close. */
static void hold_instances(int n, int out, int in)
{
    long before = own_kib();
    struct zg_instance **ins = calloc((size_t)n, sizeof(*ins));
    struct zg_inst_config cfg = zg_inst_config_default();
    cfg.console_fd = -1;
    cfg.out_fd = devnull;
    cfg.deadline_ms = 60000;
    char err[256];
    int made = 0;
    for (; made < n; made++) {
        cfg.in_fd = request_fd("GET /many HTTP/1.0\r\n\r\n");
        struct zg_run_result res;
        if (zg_restore(img, &cfg, &ins[made], err, sizeof(err)) < 0 ||
            zg_inst_run(ins[made], &res) < 0 || res.end != ZG_END_EXIT) {
            close(cfg.in_fd);
            break;
        }
        close(cfg.in_fd);
    }
    long report[2] = {made, own_kib() - before};
    if (write(out, report, sizeof(report)) != sizeof(report))
        _exit(1);
    char c;
    while (read(in, &c, 1) > 0)
        ;
    _exit(0);
}

ZT_TEST(thousand_instances_share_memory)
{
    /* Ten processes of 100 VMs each: KVM registers an MMU notifier per VM on
     * its process, so one process holding 1,000 VMs makes every page fault
     * walk 1,000 notifiers (what a server would avoid by the same split). */
    enum { PROCS = 10, PER = 100, N = PROCS * PER };
    uint64_t nonzero = 0;
    for (uint64_t p = 0; p < img->tmpl->npages; p++)
        nonzero += !zg_pc_key_is_zero(&img->tmpl->keys[p]);
    uint64_t copy_kib = nonzero * 4;
    long avail0 = proc_kib("/proc/meminfo", "MemAvailable");
    int up[2], down[2];
    ZT_EQ(pipe(up), 0);
    ZT_EQ(pipe(down), 0);
    pid_t kids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(up[0]);
            close(down[1]);
            hold_instances(PER, up[1], down[0]);
        }
    }
    close(up[1]);
    close(down[0]);
    long alive = 0, own = 0;
    for (int i = 0; i < PROCS; i++) {
        long report[2];
        if (read(up[0], report, sizeof(report)) == sizeof(report))
            alive += report[0], own += report[1];
    }
    long used = avail0 - proc_kib("/proc/meminfo", "MemAvailable");
    close(down[1]); /* let them go */
    for (int i = 0; i < PROCS; i++)
        waitpid(kids[i], NULL, 0);
    close(up[0]);
    printf("# %ld instances alive at once: their processes' own memory (copy-on-write pages and "
           "page tables) grew by %ld KiB (%.1f KiB each); the host's MemAvailable fell by %ld KiB "
           "(%.1f KiB each, kernel KVM memory and anything else running included); one unshared "
           "copy of the template's non-zero pages is %llu KiB, %d copies %llu KiB\n",
           alive, own, alive ? (double)own / (double)alive : 0.0, used,
           alive ? (double)used / (double)alive : 0.0, (unsigned long long)copy_kib, N,
           (unsigned long long)copy_kib * N);
    ZT_EQ(alive, N);
    /* Far below 1,000 copies: under a tenth of them. (MemAvailable is shared
     * with whatever else runs on the machine, so only the processes' own
     * memory is asserted.) */
    if ((uint64_t)own > copy_kib * N / 10)
        ZT_FAILF("%d instances added %ld KiB, more than 10%% of %d copies", N, own, N);
}

int main(void)
{
    const struct zg_hv_ops *hv = zg_hv_lookup("kvm");
    char why[128];
    if (!hv || hv->probe(why, sizeof(why)) < 0) {
        printf("SKIP: test_restore: KVM unavailable\n");
        return 0;
    }
    if (access("bin/guests/zergling.elf", R_OK) != 0) {
        printf(
            "SKIP: test_restore: run from the source tree after make (bin/guests/zergling.elf)\n");
        return 0;
    }
    snprintf(home, sizeof(home), "/tmp/zerg-test-restore.%d", (int)getpid());
    char imgdir[300];
    snprintf(imgdir, sizeof(imgdir), "%s/img", home);
    mkdir(home, 0700);
    mkdir(imgdir, 0700);
    setenv("ZERG_IMAGE_DIR", imgdir, 1);
    devnull = open("/dev/null", O_WRONLY);
    struct zg_tmpl_create_opts o = {.home = home,
                                    .name = "zl",
                                    .guest_path = "bin/guests/zergling.elf",
                                    .mem_size = 64ull << 20,
                                    .cmdline = "--dataset-mib 8",
                                    .deadline_ms = 60000,
                                    .console_fd = -1};
    struct zg_tmpl_create_stats st;
    char err[256];
    if (zg_tmpl_create(&o, &st, err, sizeof(err)) < 0 ||
        zg_image_open(home, "zl", 0, &img, err, sizeof(err)) < 0) {
        printf("FAIL: test_restore/setup: %s\n", err);
        return 1;
    }
    ZT_RUN(reset_equals_template);
    ZT_RUN(reset_equals_template_kvm_log);
    ZT_RUN(written_pages_put_back_and_given_back);
    ZT_RUN(thousand_instances_share_memory);
    zg_image_close(img);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", home);
    ZT_MAIN_END;
}
