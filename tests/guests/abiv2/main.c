/* Test guest: a guest of ABI version 2, the version before READY_RECV and
 * SEND_EXIT, which the monitor must still run (ZG_ABI_VERSION_MIN). It makes
 * only version 2's calls, by hand: READY, RECV until the end of the stream,
 * SEND of what it read, EXIT. Prints "v2 restored=R bytes=N" first, so a
 * test sees whether it was restored from a template. (Linked without the
 * runtime's note; see GUESTS_OWN_NOTE in the Makefile.) */
#include <zerg/zerg.h>

struct note {
    uint32_t namesz, descsz, type;
    char name[8];
    uint32_t version;
};

__attribute__((section(".note.zerg"), used, aligned(4))) static const struct note v2_note = {
    5, 4, ZG_NOTE_ABI, ZG_NOTE_NAME, 2};

static char buf[65536];

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    static struct zg_hc_ready r;
    zg_hypercall(ZG_HC_READY, &r);
    uint64_t got = 0;
    for (;;) {
        struct zg_hc_recv a = {.buf = (uintptr_t)(buf + got), .len = sizeof(buf) - got};
        zg_hypercall(ZG_HC_RECV, &a);
        if (a.ret <= 0 || got + (uint64_t)a.ret >= sizeof(buf)) {
            if (a.ret > 0)
                got += (uint64_t)a.ret;
            break;
        }
        got += (uint64_t)a.ret;
    }
    char head[64];
    int n = snprintf(head, sizeof(head), "v2 restored=%u bytes=%llu\n", r.restored,
                     (unsigned long long)got);
    struct zg_hc_send s = {.buf = (uintptr_t)head, .len = (uint64_t)n};
    zg_hypercall(ZG_HC_SEND, &s);
    struct zg_hc_send s2 = {.buf = (uintptr_t)buf, .len = got};
    zg_hypercall(ZG_HC_SEND, &s2);
    struct zg_hc_exit e = {.status = 0};
    for (;;)
        zg_hypercall(ZG_HC_EXIT, &e);
}
