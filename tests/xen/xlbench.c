/* xlbench: Xen's own toolstack on zerg's reference guest, for the XENBENCH
 * comparison. Runs inside the rig's dom0 with xenstored, xenconsoled and xl
 * up; each run, on a fresh domain name:
 *
 *   xl create CONFIG     timed to the guest's "ZERG-READY" on its console
 *                        (the cold boot: domain build plus the app's init),
 *                        and the command alone;
 *   xl save NAME FILE    the guest acknowledges xenstore's suspend request
 *                        and suspends (guest/rt/xen.c); timed command;
 *   xl restore FILE      timed command (the domain is running when it
 *                        returns), and to "ZERG-RESUMED" on the console;
 *
 * after which the restored guest finds no request, exits 0 and powers off.
 * Prints PASS:/FAIL: lines, one line per run, and a last line
 * "XLBENCH {json}" of medians. Usage:
 *
 *   xlbench --config FILE [--runs N] [--save FILE] [--log-dir DIR]
 *           [--timeout-ms MS]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 64

static const char *config, *save_file = "/tmp/xlbench.save", *log_dir = "/var/log/xen/console";
static long timeout_ms = 60000;
static const char *xl_out = "/tmp/xlbench.out";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs xl with argv (NULL-terminated after "xl"), output to xl_out.
 * Returns its exit status, or -1 if it could not run or was killed. */
static int xl(const char *const *args)
{
    const char *argv[16] = {"xl"};
    int n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(xl_out, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp("xl", (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Waits until the console log of domain `name` contains `marker`.
 * Returns the time it was seen, or -1 at the deadline. */
static double wait_console(const char *name, const char *marker, double deadline)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/guest-%s.log", log_dir, name);
    static char buf[1 << 16];
    for (;;) {
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            ssize_t got = read(fd, buf, sizeof(buf) - 1);
            close(fd);
            if (got > 0) {
                buf[got] = '\0';
                if (strstr(buf, marker))
                    return now_ms();
            }
        }
        if (now_ms() > deadline)
            return -1;
        usleep(500);
    }
}

static void show_tail(const char *path, const char *title)
{
    char cmd[512];
    printf("  --- %s ---\n", title);
    fflush(stdout);
    snprintf(cmd, sizeof(cmd), "tail -n 25 %s 2>&1 | sed 's/^/  /'", path);
    if (system(cmd) != 0)
        printf("  (cannot show %s)\n", path);
}

static void diagnose(const char *name)
{
    char path[256];
    show_tail(xl_out, "xl output");
    snprintf(path, sizeof(path), "%s/guest-%s.log", log_dir, name);
    show_tail(path, "guest console");
    fflush(stdout);
    if (system("xl dmesg 2>&1 | tail -n 25 | sed 's/^/  /'") != 0)
        printf("  (xl dmesg failed)\n");
    fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Waits for domain `name` to be gone (it powers itself off); destroys it at
 * the deadline. Returns 0 if it went by itself. */
static int wait_gone(const char *name, double deadline)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "xl domid %s >/dev/null 2>&1", name);
    while (now_ms() < deadline) {
        if (system(cmd) != 0)
            return 0;
        usleep(20000);
    }
    const char *args[] = {"destroy", name, NULL};
    xl(args);
    return -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: xlbench --config FILE [--runs N] [--save FILE] [--log-dir DIR] "
                    "[--timeout-ms MS]\n");
    return 2;
}

int main(int argc, char **argv)
{
    int runs = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            return 0;
        }
        if (!v)
            return usage();
        if (!strcmp(a, "--config"))
            config = v;
        else if (!strcmp(a, "--runs"))
            runs = atoi(v);
        else if (!strcmp(a, "--save"))
            save_file = v;
        else if (!strcmp(a, "--log-dir"))
            log_dir = v;
        else if (!strcmp(a, "--timeout-ms"))
            timeout_ms = atol(v);
        else
            return usage();
        i++;
    }
    if (!config || runs < 1 || runs > MAX_RUNS)
        return usage();
    setvbuf(stdout, NULL, _IOLBF, 0);

    double create[MAX_RUNS], create_cmd[MAX_RUNS], save[MAX_RUNS], restore[MAX_RUNS],
        resumed[MAX_RUNS];
    int ok_create = 0, ok_save = 0, ok_restore = 0, ok_exit = 0;
    for (int r = 0; r < runs; r++) {
        char name[32], name_opt[64], path[256];
        snprintf(name, sizeof(name), "zl-%d", r + 1);
        snprintf(name_opt, sizeof(name_opt), "name=\"%s\"", name);
        snprintf(path, sizeof(path), "%s/guest-%s.log", log_dir, name);
        unlink(path);
        unlink(xl_out);

        double t0 = now_ms();
        const char *c_args[] = {"create", config, name_opt, NULL};
        int rc = xl(c_args);
        double t_cmd = now_ms();
        double t_ready = rc == 0 ? wait_console(name, "ZERG-READY", t0 + timeout_ms) : -1;
        if (t_ready < 0) {
            printf("FAIL: xl/create-ready: run %d: xl create exited %d, %s\n", r + 1, rc,
                   rc == 0 ? "no ZERG-READY on the console" : "no domain");
            diagnose(name);
            wait_gone(name, now_ms());
            break;
        }
        create[r] = t_ready - t0;
        create_cmd[r] = t_cmd - t0;
        ok_create++;

        t0 = now_ms();
        const char *s_args[] = {"save", name, save_file, NULL};
        rc = xl(s_args);
        save[r] = now_ms() - t0;
        if (rc != 0) {
            printf("FAIL: xl/save: run %d: xl save exited %d\n", r + 1, rc);
            diagnose(name);
            wait_gone(name, now_ms());
            break;
        }
        ok_save++;

        t0 = now_ms();
        const char *r_args[] = {"restore", save_file, NULL};
        rc = xl(r_args);
        restore[r] = now_ms() - t0;
        double t_res = rc == 0 ? wait_console(name, "ZERG-RESUMED", t0 + timeout_ms) : -1;
        unlink(save_file);
        if (t_res < 0) {
            printf("FAIL: xl/restore-resumes: run %d: xl restore exited %d, %s\n", r + 1, rc,
                   rc == 0 ? "no ZERG-RESUMED on the console" : "no domain");
            diagnose(name);
            wait_gone(name, now_ms());
            break;
        }
        resumed[r] = t_res - t0;
        ok_restore++;
        /* No request reaches it outside zerg: main returns 0, the domain
         * powers off (a crash would end it too, without this line). */
        double t_exit = wait_console(name, "zerg: exit status 0", now_ms() + timeout_ms);
        if (wait_gone(name, now_ms() + timeout_ms) == 0 && t_exit >= 0) {
            ok_exit++;
        } else {
            printf("FAIL: xl/restored-exits: run %d: %s did not exit with status 0\n", r + 1, name);
            diagnose(name);
        }
        printf("run %d: create to ready %.1f ms (xl create %.1f), save %.1f, restore %.1f, "
               "to resumed %.1f\n",
               r + 1, create[r], create_cmd[r], save[r], restore[r], resumed[r]);
    }
    if (ok_create == runs)
        printf("PASS: xl/create-ready\n");
    if (ok_save == runs)
        printf("PASS: xl/save\n");
    if (ok_restore == runs)
        printf("PASS: xl/restore-resumes\n");
    if (ok_exit == runs)
        printf("PASS: xl/restored-exits\n");
    if (ok_restore < runs)
        return 1;
    printf("XLBENCH {\"runs\":%d,\"xl_create_ms\":%.2f,\"xl_create_cmd_ms\":%.2f,"
           "\"xl_save_ms\":%.2f,\"xl_restore_ms\":%.2f,\"xl_restore_resumed_ms\":%.2f}\n",
           runs, median(create, runs), median(create_cmd, runs), median(save, runs),
           median(restore, runs), median(resumed, runs));
    return ok_exit == runs ? 0 : 1;
}
