/* Unit tests of the Linux personality: the CPU feature check a template's
 * restore makes, and rewritten call sites on a real KVM guest across pooled
 * resets. (The system calls themselves are tested against the host kernel by
 * tests/sys/linux.sh.) */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux/lx_int.h"
#include "monitor/zg_elf.h"
#include "restorer/zg_restore.h"
#include "snapshotter/zg_snapshot.h"
#include "tests/zt.h"

ZT_TEST(cpu_features_read)
{
    uint32_t cpu[LX_NCPU];
    lx_cpu_read(cpu);
    ZT_TRUE(cpu[1] & (1u << 26)); /* SSE2: every x86-64 CPU */
    ZT_TRUE(cpu[6] & (1u << 29)); /* long mode */
}

ZT_TEST(cpu_features_missing_named)
{
    uint32_t have[LX_NCPU], need[LX_NCPU];
    char why[200] = "";
    lx_cpu_read(have);
    memcpy(need, have, sizeof(need));
    ZT_EQ(lx_cpu_missing(need, have, why, sizeof(why)), 0);
    need[0] = 0; /* fewer features than the host: fine */
    ZT_EQ(lx_cpu_missing(need, have, why, sizeof(why)), 0);
    memcpy(need, have, sizeof(need));
    have[2] &= ~(1u << 5); /* this host without AVX2 */
    need[2] |= 1u << 5;    /* a program that saw it */
    ZT_EQ(lx_cpu_missing(need, have, why, sizeof(why)), 1);
    ZT_TRUE(strstr(why, "CPUID.7:EBX bits 0x00000020") != NULL);
}

/* ---- The open-file table (lx_file.c) -------------------------------------- */
ZT_TEST(open_files_shared_and_released)
{
    static struct lx_state lx;
    memset(&lx, 0, sizeof(lx));
    struct lxv none = {0, 0};
    const char *why = "";
    const struct zg_linux_file in = {.kind = ZG_LINUX_FD_STDIN};
    const struct zg_linux_file zero = {.kind = ZG_LINUX_FD_ZERO, .ent = 5};
    ZT_EQ(lx_fd_install(&lx, &in, 0), 0);
    ZT_EQ(lx_fd_install(&lx, &zero, 1), 1);
    ZT_EQ(lx_fd_dup(&lx, 1, 7, 0), 7); /* one open file, two descriptors */
    ZT_EQ(lx.fd[7].file, lx.fd[1].file);
    ZT_EQ(lx.fd[1].cloexec, 1);
    ZT_EQ(lx.fd[7].cloexec, 0);
    ZT_EQ(lx_file_refs(&lx, lx.fd[1].file - 1u), 2u);
    ZT_TRUE(lx_files_ok(&lx, &none, &why));
    unsigned f = lx.fd[1].file - 1u;
    ZT_EQ(lx_fd_close(&lx, 1), 0);
    ZT_EQ(lx.file[f].kind, ZG_LINUX_FD_ZERO); /* still named by 7 */
    ZT_EQ(lx_fd_close(&lx, 7), 0);
    ZT_EQ(lx.file[f].kind, ZG_LINUX_FD_FREE); /* the last one: freed */
    ZT_EQ(lx_fd_close(&lx, 7), -EBADF);
    /* dup2 over an epoll descriptor releases the instance */
    const struct zg_linux_file ep = {.kind = ZG_LINUX_FD_EPOLL, .flags = O_RDWR, .ent = 2};
    lx.epoll[2].used = 1;
    ZT_EQ(lx_fd_install(&lx, &ep, 0), 1);
    ZT_EQ(lx_fd_dup(&lx, 0, 1, 0), 1);
    ZT_EQ(lx.epoll[2].used, 0u);
    ZT_TRUE(lx_files_ok(&lx, &none, &why));
}

ZT_TEST(open_files_unsound_refused)
{
    static struct lx_state lx, bad;
    memset(&lx, 0, sizeof(lx));
    struct lxv none = {0, 0};
    const char *why = "";
    const struct zg_linux_file in = {.kind = ZG_LINUX_FD_STDIN};
    ZT_EQ(lx_fd_install(&lx, &in, 0), 0);
    ZT_TRUE(lx_files_ok(&lx, &none, &why));
    bad = lx; /* a descriptor naming a free open file */
    bad.fd[3].file = 9;
    ZT_TRUE(!lx_files_ok(&bad, &none, &why));
    bad = lx; /* a descriptor naming past the table */
    bad.fd[3].file = LX_NFILE + 1;
    ZT_TRUE(!lx_files_ok(&bad, &none, &why));
    bad = lx; /* an open file nobody names */
    bad.file[5] = (struct zg_linux_file){.kind = ZG_LINUX_FD_NULL, .ent = 3};
    ZT_TRUE(!lx_files_ok(&bad, &none, &why));
    bad = lx; /* two open files of one epoll instance */
    bad.epoll[0].used = 1;
    bad.file[5] = bad.file[6] = (struct zg_linux_file){.kind = ZG_LINUX_FD_EPOLL, .flags = 2};
    bad.fd[5].file = 6, bad.fd[6].file = 7;
    ZT_TRUE(!lx_files_ok(&bad, &none, &why));
    bad = lx; /* the connection before any was accepted */
    bad.file[5] = (struct zg_linux_file){.kind = ZG_LINUX_FD_CONN, .flags = 2};
    bad.fd[5].file = 6;
    ZT_TRUE(!lx_files_ok(&bad, &none, &why));
    bad.accepted = 1;
    ZT_TRUE(lx_files_ok(&bad, &none, &why));
    bad = lx; /* a view file with no view; a kind that does not exist */
    bad.file[5] = (struct zg_linux_file){.kind = ZG_LINUX_FD_FILE};
    bad.fd[5].file = 6;
    ZT_TRUE(!lx_files_ok(&bad, &none, &why));
    bad.file[5].kind = ZG_LINUX_FD_KIND_MAX + 1;
    ZT_TRUE(!lx_files_ok(&bad, &none, &why));
    bad = lx; /* a stream with a position */
    bad.file[0].pos = 1;
    ZT_TRUE(!lx_files_ok(&bad, &none, &why));
}

/* ---- Rewritten call sites, on a real KVM guest ---------------------------- */
static char home[256];

/* How a run's system calls were served (zg_inst_summary). */
struct counts {
    long guest;     /* in the guest, no exit */
    long monitor;   /* by the monitor */
    long trapped;   /* exits after a `syscall` trap */
    long rewritten; /* call sites rewritten in the run */
    char out[256];  /* what the program wrote */
};

/* Runs instance `in` (restored or reset, stopped at its template point) on
 * the request `req` and counts its calls; 0, or -1 if the run failed. */
static int run_counting(struct zg_instance *in, const char *req, struct counts *n)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    ssize_t w = write(p[1], req, strlen(req));
    close(p[1]);
    char path[300];
    snprintf(path, sizeof(path), "%s/sites.out", home);
    int outfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    zg_inst_set_io(in, p[0], outfd);
    struct zg_run_result res;
    memset(&res, 0, sizeof(res));
    int rc = zg_inst_complete_ready(in, 1) == 0 ? zg_inst_run(in, &res) : -1;
    zg_inst_set_io(in, -1, -1);
    close(p[0]);
    ssize_t got = pread(outfd, n->out, sizeof(n->out) - 1, 0);
    n->out[got > 0 ? got : 0] = '\0';
    close(outfd);
    char sum[300];
    unsigned long long g = 0, m = 0, t = 0, f = 0;
    unsigned r = 0;
    if (w < 0 || rc < 0 || res.end != ZG_END_EXIT || res.status != 0 ||
        !zg_inst_summary(in, sum, sizeof(sum)) ||
        sscanf(sum,
               "linux: %llu system calls served in the guest, %llu by the monitor; exits: %llu "
               "after a `syscall` trap, %llu from rewritten call sites; %u",
               &g, &m, &t, &f, &r) != 5)
        return -1;
    n->guest = (long)g, n->monitor = (long)m, n->trapped = (long)t, n->rewritten = (long)r;
    return 0;
}

/* A site first run after the template point traps once, is rewritten, and
 * stays rewritten in a pooled VM across its resets (the monitor rewrites the
 * sites it learned again after each reset); a fresh restore starts from the
 * template and learns it again. The calls themselves (getppid, getuid) are
 * served in the guest once their sites no longer trap. */
ZT_TEST(sites_learned_survive_reset)
{
    if (access("bin/linux-tests/sites.glibc", R_OK) != 0 || access("/dev/kvm", R_OK | W_OK) != 0) {
        ZT_SKIP("needs make's bin/linux-tests/sites.glibc and /dev/kvm");
        return;
    }
    struct zg_tmpl_create_opts o = {.home = home,
                                    .name = "sites",
                                    .guest_path = "bin/linux-tests/sites.glibc",
                                    .mem_size = 64ull << 20,
                                    .deadline_ms = 60000,
                                    .console_fd = -1};
    struct zg_tmpl_create_stats st;
    char err[256];
    struct zg_image *img = NULL;
    if (zg_tmpl_create(&o, &st, err, sizeof(err)) < 0 ||
        zg_image_open(home, "sites", 0, &img, err, sizeof(err)) < 0) {
        ZT_FAILF("template: %s", err);
        return;
    }
    struct zg_inst_config cfg = zg_inst_config_default();
    cfg.flags = ZG_INST_TRACK_DIRTY | ZG_INST_ANSWER_LATER;
    cfg.console_fd = -1;
    cfg.in_fd = cfg.out_fd = -1;
    struct zg_instance *in = NULL;
    struct counts n[3];
    int rc[3] = {-1, -1, -1};
    ZT_EQ(zg_restore(img, &cfg, &in, err, sizeof(err)), 0);
    if (!in) {
        zg_image_close(img);
        return;
    }
    rc[0] = run_counting(in, "50", &n[0]);
    uint64_t copied = 0;
    ZT_EQ(zg_restore_reset(img, in, &copied, err, sizeof(err)), 0);
    rc[1] = run_counting(in, "50", &n[1]);
    zg_inst_destroy(in);
    in = NULL;
    ZT_EQ(zg_restore(img, &cfg, &in, err, sizeof(err)), 0);
    if (in)
        rc[2] = run_counting(in, "50", &n[2]);
    zg_inst_destroy(in);
    zg_image_close(img);
    if (rc[0] || rc[1] || rc[2]) {
        ZT_FAILF("a run failed: %d %d %d", rc[0], rc[1], rc[2]);
        return;
    }
    /* the loop's 150 calls, served in the guest once their sites are rewritten */
    ZT_TRUE(n[0].guest + n[0].monitor >= 150 && n[0].guest >= 140);
    /* the first run: the loop's two sites trap once each and are rewritten */
    ZT_TRUE(n[0].rewritten >= 2 && n[0].trapped >= n[0].rewritten && n[0].trapped < 20);
    /* after a reset: the learned sites no longer trap */
    if (n[1].trapped != n[0].trapped - n[0].rewritten || n[1].rewritten != 0)
        ZT_FAILF("after a reset %ld calls trapped (%ld rewritten); the first run: %ld trapped, "
                 "%ld rewritten",
                 n[1].trapped, n[1].rewritten, n[0].trapped, n[0].rewritten);
    ZT_TRUE(n[1].guest + n[1].monitor == n[0].guest + n[0].monitor);
    /* a fresh restore learns them again */
    ZT_TRUE(n[2].trapped == n[0].trapped && n[2].rewritten == n[0].rewritten);
    /* and no two runs drew the same random bytes (restored, reset, restored) */
    const char *r[3];
    for (int i = 0; i < 3; i++)
        r[i] = strstr(n[i].out, " rnd ");
    if (!r[0] || !r[1] || !r[2] || !strcmp(r[0], r[1]) || !strcmp(r[1], r[2]) ||
        !strcmp(r[0], r[2]))
        ZT_FAILF("random bytes after the template point: '%.60s' '%.60s' '%.60s'", n[0].out,
                 n[1].out, n[2].out);
}

/* ---- A pooled VM after its reset is its template ---------------------------
 * The executable segments of a static program's ELF file, where it is
 * loaded (a static PIE at ZG_LINUX_PIE_BASE): the test's own idea of what
 * is code, read from the file, not from the monitor. */
struct code {
    uint64_t lo[8], hi[8];
    unsigned n;
};

static int code_of(const char *prog, struct code *c)
{
    void *img = NULL;
    size_t len = 0;
    memset(c, 0, sizeof(*c));
    if (zg_file_read(prog, 64u << 20, &img, &len) < 0 || len < sizeof(Elf64_Ehdr))
        return -1;
    Elf64_Ehdr eh;
    memcpy(&eh, img, sizeof(eh));
    uint64_t bias = eh.e_type == ET_DYN ? ZG_LINUX_PIE_BASE : 0;
    int phnum = zg_elf_phnum(img, len);
    for (int i = 0; i < phnum && c->n < 8; i++) {
        Elf64_Phdr ph;
        zg_elf_phdr(img, (unsigned)i, &ph);
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
            c->lo[c->n] = ph.p_vaddr + bias, c->hi[c->n++] = ph.p_vaddr + bias + ph.p_memsz;
    }
    free(img);
    return c->n ? 0 : -1;
}

/* Compares instance `in`, just reset, with a fresh restore of img byte for
 * byte. A difference is allowed only where the reset rewrote again a site
 * the VM learned (lx_patch_again): the seven bytes of a site inside the
 * program's executable segments (code, from its ELF file), which read `mov
 * $nr,%eax; syscall` in the template and `mov $stub,%ecx; jmp *%rcx` now,
 * and the stub table. NULL if equal so; else what differs, in msg. */
static const char *differs_from_template(const struct zg_image *img, struct zg_instance *in,
                                         const struct code *code, char *msg, size_t len)
{
    struct zg_inst_config cfg = zg_inst_config_default();
    cfg.console_fd = -1;
    cfg.in_fd = cfg.out_fd = -1;
    struct zg_instance *fresh = NULL;
    char err[256];
    if (zg_restore(img, &cfg, &fresh, err, sizeof(err)) < 0) {
        snprintf(msg, len, "fresh restore: %s", err);
        return msg;
    }
    const struct lx_state *lx = lx_of(in);
    uint64_t size, fsize;
    const uint8_t *m = zg_inst_mem(in, &size), *t = zg_inst_mem(fresh, &fsize);
    const char *why = NULL;
    if (size != fsize) {
        snprintf(msg, len, "sizes %llu and %llu", (unsigned long long)size,
                 (unsigned long long)fsize);
        why = msg;
    }
    for (uint64_t pg = 0; !why && pg < size / 4096; pg++) {
        if (!memcmp(m + pg * 4096, t + pg * 4096, 4096))
            continue;
        for (uint64_t a = pg * 4096; !why && a < (pg + 1) * 4096; a++) {
            if (m[a] == t[a])
                continue;
            int ok = a >= ZG_LINUX_STUB_GPA && a < ZG_LINUX_STUB_GPA + ZG_LINUX_STUB_SIZE &&
                     lx->nlearned > 0;
            for (uint32_t i = 0; !ok && i < lx->nlearned; i++) {
                uint64_t site = lx->learned[i].rip - 7; /* static programs: va == gpa */
                int in_code = 0;
                for (unsigned k = 0; k < code->n; k++)
                    in_code |= site >= code->lo[k] && site + 7 <= code->hi[k];
                ok = a >= site && a < site + 7 && in_code && site + 7 <= size &&
                     zg_linux_site_rewritable(t + site, lx->learned[i].nr) && m[site] == 0xb9 &&
                     m[site + 5] == 0xff && m[site + 6] == 0xe1;
            }
            if (!ok) {
                snprintf(msg, len,
                         "byte 0x%llx is 0x%02x after the reset, 0x%02x in the template (%u "
                         "sites rewritten again)",
                         (unsigned long long)a, m[a], t[a], lx->nlearned);
                why = msg;
            }
        }
    }
    zg_inst_destroy(fresh);
    return why;
}

/* Makes template `name` of program prog (NULL: failed, why in err). */
static struct zg_image *make_template(const char *name, const char *prog, char *err, size_t len)
{
    struct zg_tmpl_create_opts o = {.home = home,
                                    .name = name,
                                    .guest_path = prog,
                                    .mem_size = 64ull << 20,
                                    .deadline_ms = 60000,
                                    .console_fd = -1};
    struct zg_tmpl_create_stats st;
    struct zg_image *img = NULL;
    if (zg_tmpl_create(&o, &st, err, len) < 0 || zg_image_open(home, name, 0, &img, err, len) < 0)
        return NULL;
    return img;
}

/* One pooled VM, request after request, reset after each, compared with its
 * template after every reset: a program that executes a .data table shaped
 * like a call site, one that names site-shaped data in a frame it made
 * itself (datasite.c), and one whose real call sites are rewritten after
 * the template point and again after each reset (sites.c). */
ZT_TEST(reset_equals_template)
{
    static const struct {
        const char *prog, *reqs[5];
        int learns; /* the VM must have learned sites in the template's code */
    } cases[] = {
        {"bin/linux-tests/datasite.glibc",
         {"hello", "attack", "forge", "attack forge", "hello"},
         0},
        {"bin/linux-tests/datasite.musl", {"attack", "forge", "hello", NULL}, 0},
        {"bin/linux-tests/sites.glibc", {"50", "7", "50", NULL}, 1},
    };
    if (access("/dev/kvm", R_OK | W_OK) != 0) {
        ZT_SKIP("needs /dev/kvm");
        return;
    }
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        if (access(cases[k].prog, R_OK) != 0) {
            ZT_FAILF("%s is not built (make)", cases[k].prog);
            continue;
        }
        char name[32];
        snprintf(name, sizeof(name), "reset%zu", k);
        char err[256], msg[300];
        struct code code;
        if (code_of(cases[k].prog, &code) < 0) {
            ZT_FAILF("%s: no executable segment found in its ELF file", cases[k].prog);
            continue;
        }
        struct zg_image *img = make_template(name, cases[k].prog, err, sizeof(err));
        if (!img) {
            ZT_FAILF("template %s: %s", name, err);
            continue;
        }
        struct zg_inst_config cfg = zg_inst_config_default();
        cfg.flags = ZG_INST_TRACK_DIRTY | ZG_INST_ANSWER_LATER;
        cfg.console_fd = -1;
        cfg.in_fd = cfg.out_fd = -1;
        struct zg_instance *in = NULL;
        ZT_EQ(zg_restore(img, &cfg, &in, err, sizeof(err)), 0);
        for (int r = 0; in && r < 5 && cases[k].reqs[r]; r++) {
            struct counts n;
            if (run_counting(in, cases[k].reqs[r], &n) < 0) {
                ZT_FAILF("%s: request '%s' failed", cases[k].prog, cases[k].reqs[r]);
                break;
            }
            if (strstr(cases[k].prog, "datasite") &&
                (!strstr(n.out, "\ndata b8 27 00 00 00 0f 05 c3 44 41 54 41") ||
                 !strstr(n.out, "\nrodata b8 27 00 00 00 0f 05 c3 44 41 54 41")))
                ZT_FAILF("%s: request '%s' saw rewritten data: %s", cases[k].prog, cases[k].reqs[r],
                         n.out);
            uint64_t copied = 0;
            ZT_EQ(zg_restore_reset(img, in, &copied, err, sizeof(err)), 0);
            const char *why = differs_from_template(img, in, &code, msg, sizeof(msg));
            if (why)
                ZT_FAILF("%s: after request '%s' and a reset: %s", cases[k].prog, cases[k].reqs[r],
                         why);
        }
        if (in && cases[k].learns && lx_of(in)->nlearned < 2)
            ZT_FAILF("%s: %u sites rewritten again after the reset, expected 2 or more",
                     cases[k].prog, lx_of(in)->nlearned);
        zg_inst_destroy(in);
        zg_image_close(img);
    }
}

/* Output the guest-side runtime buffered is sent when the run ends without
 * a call to the monitor: a NULL dereference right after the last line. */
ZT_TEST(output_sent_after_fault)
{
    const char *prog = "bin/linux-tests/outorder.glibc";
    void *image = NULL;
    size_t len = 0;
    if (access(prog, R_OK) != 0 || access("/dev/kvm", R_OK | W_OK) != 0 ||
        zg_file_read(prog, 64u << 20, &image, &len) < 0) {
        ZT_SKIP("needs make's %s and /dev/kvm", prog);
        return;
    }
    char path[300];
    snprintf(path, sizeof(path), "%s/out", home);
    int out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    struct zg_inst_config cfg = zg_inst_config_default();
    cfg.console_fd = -1;
    cfg.in_fd = -1;
    cfg.out_fd = out;
    cfg.argv0 = prog;
    cfg.cmdline = "fault";
    struct zg_instance *in = NULL;
    struct zg_run_result res;
    memset(&res, 0, sizeof(res));
    int rc = zg_inst_create(&cfg, &in);
    if (rc == 0)
        rc = zg_inst_boot_elf(in, image, len);
    if (rc == 0)
        rc = zg_inst_run(in, &res);
    zg_inst_destroy(in);
    free(image);
    char tail[8] = "";
    off_t size = lseek(out, 0, SEEK_END);
    ssize_t got = size >= 7 ? pread(out, tail, 7, size - 7) : -1;
    close(out);
    ZT_EQ(rc, 0);
    ZT_EQ(res.end, ZG_END_FAULT);
    /* 30 "out NN" lines, 5 vectors of 13 bytes, 1,000,000 bytes, "end 00" */
    ZT_EQ((long)size, 30 * 7 + 5 * 13 + 1000000 + 7);
    ZT_TRUE(got == 7 && memcmp(tail, "end 00\n", 7) == 0);
}

int main(void)
{
    snprintf(home, sizeof(home), "/tmp/zerg-test-linux.%d", (int)getpid());
    char imgdir[300];
    snprintf(imgdir, sizeof(imgdir), "%s/img", home);
    mkdir(home, 0700);
    mkdir(imgdir, 0700);
    setenv("ZERG_IMAGE_DIR", imgdir, 1);
    ZT_RUN(cpu_features_read);
    ZT_RUN(cpu_features_missing_named);
    ZT_RUN(open_files_shared_and_released);
    ZT_RUN(open_files_unsound_refused);
    ZT_RUN(sites_learned_survive_reset);
    ZT_RUN(reset_equals_template);
    ZT_RUN(output_sent_after_fault);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", home);
    ZT_MAIN_END;
}
