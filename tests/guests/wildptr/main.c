/* Test guest: wild pointers in hypercalls get -ZG_EFAULT; a wild argument
 * struct ends the instance, and so does SEND_EXIT of a wild buffer (argument
 * "send-exit"). Never a host crash. */
#include <zerg/zerg.h>

static int failures;

static void expect(const char *what, int64_t got, int64_t want)
{
    if (got != want) {
        zg_printf("CHECK FAILED: %s: ret %lld, want %lld\n", what, (long long)got, (long long)want);
        failures++;
    }
}

int main(int argc, char **argv)
{
    uint64_t mem = zg_boot_info()->mem_size;
    static char buf[64];
    if (argc > 0 && !strcmp(argv[0], "send-exit")) {
        /* SEND_EXIT cannot return an error: a wild buffer ends the instance */
        struct zg_hc_send_exit se = {.buf = 0, .len = 4, .status = 0};
        zg_hypercall(ZG_HC_SEND_EXIT, &se);
        zg_printf("STILL RUNNING\n");
        return 0;
    }

    struct zg_hc_console c = {.buf = 0xdeadbeef000ull, .len = 8};
    zg_hypercall(ZG_HC_CONSOLE, &c);
    expect("console far away", c.ret, -ZG_EFAULT);

    c = (struct zg_hc_console){.buf = mem - 4, .len = 8};
    zg_hypercall(ZG_HC_CONSOLE, &c);
    expect("console across the end", c.ret, -ZG_EFAULT);

    c = (struct zg_hc_console){.buf = (uint64_t)(uintptr_t)buf, .len = UINT64_MAX - 8};
    zg_hypercall(ZG_HC_CONSOLE, &c);
    expect("console length overflow", c.ret, -ZG_EINVAL);

    c = (struct zg_hc_console){.buf = 0x1000, .len = 8}; /* the page tables */
    zg_hypercall(ZG_HC_CONSOLE, &c);
    expect("console from monitor pages", c.ret, -ZG_EFAULT);

    struct zg_hc_random rnd = {.buf = ZG_BOOT_INFO_GPA, .len = 16}; /* read-only page */
    zg_hypercall(ZG_HC_RANDOM, &rnd);
    expect("random into the boot info page", rnd.ret, -ZG_EFAULT);

    rnd = (struct zg_hc_random){.buf = UINT64_MAX - 3, .len = 16};
    zg_hypercall(ZG_HC_RANDOM, &rnd);
    expect("random address wraps", rnd.ret, -ZG_EFAULT);

    struct zg_hc_recv rv = {.buf = mem, .len = 1};
    zg_hypercall(ZG_HC_RECV, &rv);
    expect("recv just past the end", rv.ret, -ZG_EFAULT);

    struct zg_hc_send sd = {.buf = 0, .len = 4};
    zg_hypercall(ZG_HC_SEND, &sd);
    expect("send from NULL", sd.ret, -ZG_EFAULT);

    struct zg_hc_ready_recv rr = {.buf = 0xdeadbeef000ull, .len = 8};
    zg_hypercall(ZG_HC_READY_RECV, &rr);
    expect("ready_recv into far away", rr.ret, -ZG_EFAULT);
    expect("ready_recv still answers READY", rr.ready.instance_id != 0, 1);
    rr = (struct zg_hc_ready_recv){.buf = (uint64_t)(uintptr_t)buf, .len = ZG_IO_MAX + 1};
    zg_hypercall(ZG_HC_READY_RECV, &rr);
    expect("ready_recv too long", rr.ret, -ZG_EINVAL);

    if (failures) {
        zg_printf("FAILED: %d checks\n", failures);
        return 1;
    }
    zg_printf("EFAULT checks passed\n");

    /* Now the argument struct itself lies outside guest memory: the monitor
     * has nowhere to answer, so it must end this instance. */
    zg_hypercall(ZG_HC_TIME, (void *)(uintptr_t)(mem - 8));
    zg_printf("STILL RUNNING\n");
    return 0;
}
