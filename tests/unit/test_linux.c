/* Unit tests of the Linux personality: the CPU feature check a template's
 * restore makes, and rewritten call sites on a real KVM guest across pooled
 * resets. (The system calls themselves are tested against the host kernel by
 * tests/sys/linux.sh.) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux/lx_int.h"
#include "restorer/zg_restore.h"
#include "snapshotter/zg_template.h"
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

/* ---- Rewritten call sites, on a real KVM guest ---------------------------- */
static char home[256];

/* Runs instance `in` (restored or reset, stopped at its template point) on
 * the request `req`; returns the calls that trapped, or -1. */
static long run_counting(struct zg_instance *in, const char *req, long *calls, long *rewritten)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    ssize_t w = write(p[1], req, strlen(req));
    close(p[1]);
    int devnull = open("/dev/null", O_WRONLY);
    zg_inst_set_io(in, p[0], devnull);
    struct zg_run_result res;
    memset(&res, 0, sizeof(res));
    int rc = zg_inst_complete_ready(in, 1) == 0 ? zg_inst_run(in, &res) : -1;
    zg_inst_set_io(in, -1, -1);
    close(p[0]);
    close(devnull);
    char sum[300];
    unsigned long long c = 0, t = 0, f = 0;
    unsigned r = 0;
    if (w < 0 || rc < 0 || res.end != ZG_END_EXIT || res.status != 0 ||
        !zg_inst_summary(in, sum, sizeof(sum)) ||
        sscanf(sum,
               "linux: %llu system calls, %llu by `syscall` (a trap each), %llu through "
               "rewritten call sites; %u",
               &c, &t, &f, &r) != 4)
        return -1;
    *calls = (long)c;
    *rewritten = (long)r;
    return (long)t;
}

/* A site first run after the template point traps once, is rewritten, and
 * stays rewritten in a pooled VM across its resets (the pages are not
 * recorded as written by the host, so the reset leaves them); a fresh restore
 * starts from the template and learns it again. */
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
    long calls[3], traps[3], rew[3];
    ZT_EQ(zg_restore(img, &cfg, &in, err, sizeof(err)), 0);
    if (!in) {
        zg_image_close(img);
        return;
    }
    traps[0] = run_counting(in, "50", &calls[0], &rew[0]);
    uint64_t copied = 0;
    ZT_EQ(zg_restore_reset(img, in, &copied, err, sizeof(err)), 0);
    traps[1] = run_counting(in, "50", &calls[1], &rew[1]);
    zg_inst_destroy(in);
    in = NULL;
    ZT_EQ(zg_restore(img, &cfg, &in, err, sizeof(err)), 0);
    traps[2] = in ? run_counting(in, "50", &calls[2], &rew[2]) : -1;
    zg_inst_destroy(in);
    zg_image_close(img);
    ZT_TRUE(traps[0] >= 0 && traps[1] >= 0 && traps[2] >= 0);
    /* 150 calls of the loop at least, in every run */
    ZT_TRUE(calls[0] >= 150 && calls[1] == calls[0] && calls[2] == calls[0]);
    /* the first run: the loop's two sites trap once each and are rewritten */
    ZT_TRUE(rew[0] >= 2 && traps[0] >= rew[0] && traps[0] < 20);
    /* after a reset: the learned sites no longer trap */
    if (traps[1] != traps[0] - rew[0] || rew[1] != 0)
        ZT_FAILF("after a reset %ld calls trapped (%ld rewritten); the first run: %ld trapped, "
                 "%ld rewritten",
                 traps[1], rew[1], traps[0], rew[0]);
    /* a fresh restore learns them again */
    ZT_TRUE(traps[2] == traps[0] && rew[2] == rew[0]);
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
    ZT_RUN(sites_learned_survive_reset);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", home);
    ZT_MAIN_END;
}
