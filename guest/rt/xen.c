/* zerg guest runtime: the standalone Xen PV platform.
 *
 * Every guest ELF carries Xen's ELF notes (start.S), so Xen's standard PV
 * builder (`xl create`) boots it too, entering at _start_xen with no zerg
 * monitor behind it. This file makes that domain look, to the rest of the
 * runtime, like one zerg's monitor built:
 *
 *   - all memory identity mapped (virtual == pseudo-physical) and a boot
 *     info built from start_info (command line from `extra=`);
 *   - the calls of abi.h answered here instead of by a monitor: CONSOLE and
 *     SEND go to the Xen console ring (xenconsoled logs them), TIME reads
 *     Xen's clock, RANDOM reads RDRAND, RECV sees an empty request stream,
 *     EXIT powers the domain off;
 *   - READY is the template point, as on zerg: the guest prints
 *     "ZERG-READY", then serves xenstore's control/shutdown node. On
 *     "suspend" it suspends (xl save); the domain `xl restore` builds from
 *     the image resumes inside READY with restored = 1, prints
 *     "ZERG-RESUMED" and goes on. "poweroff" and "halt" power it off.
 *
 * It exists so `xl create`, `xl save` and `xl restore` can be measured on
 * the same app zerg templates (tests/xen/xlbench.c); zerg's own Xen path
 * never enters here.
 *
 * What the toolstack needs from a PV guest, and where it is done:
 *   - its P2M found through shared_info's frame-list-list (p2m_publish);
 *   - no mapping of a frame outside its P2M when it suspends: the shared
 *     info page is unmapped first, and start_info's store and console
 *     frames are handed over as pseudo-physical numbers (xen_suspend);
 *   - on resume: the new shared info mapped, the frame lists rebuilt with
 *     the new machine frames, the rings' new event channels taken. */
#include <zerg/zerg.h>

#include "xen_pv.h"

#define PAGE      4096ull
#define PT_FLAGS  (XEN_PTE_P | XEN_PTE_RW | XEN_PTE_US | XEN_PTE_A | XEN_PTE_D)
#define PT_RDONLY (XEN_PTE_P | XEN_PTE_US | XEN_PTE_A)
#define STACK_SZ  (1ull << 20) /* as the monitor: the top MiB is the stack */

int zg_xen_standalone; /* set once _start_xen ran; read by zg_hypercall */

static struct xen_start_info *si;
static volatile struct xen_shared_info *shinfo; /* NULL while unmapped */
static uint8_t shinfo_va[PAGE] __attribute__((aligned(PAGE)));
static const volatile uint64_t *const m2p = (const volatile uint64_t *)XEN_M2P_VIRT_START;
static uint64_t *p2m; /* start_info.mfn_list, nr_pages entries */
static uint64_t nr_pages;
static uint64_t next_free;    /* next unused page frame */
static uint64_t mapped_end;   /* frames below this are known to be mapped */
static uint64_t *frame_lists; /* [0] the list of lists, then the frame lists */
static uint64_t n_frame_lists;

static volatile struct xen_console_ring *cons;
static uint32_t cons_port;
static volatile struct xen_store_ring *store;
static uint32_t store_port;
static uint32_t store_req_id;
static int watch_fired;

static struct zg_boot_info boot;
_Static_assert(__builtin_offsetof(struct zg_hc_send, len) ==
                       __builtin_offsetof(struct zg_hc_console, len) &&
                   __builtin_offsetof(struct zg_hc_send, ret) ==
                       __builtin_offsetof(struct zg_hc_console, ret),
               "SEND is served as CONSOLE");
_Static_assert(__builtin_offsetof(struct zg_boot_info, stack_top) == 32,
               "start.S loads boot_info.stack_top at offset 32");

/* ---- hypercalls and events ----------------------------------------------- */

static uint64_t mfn_of(const void *va)
{
    return p2m[(uintptr_t)va / PAGE];
}

static void notify(uint32_t port)
{
    uint32_t p = port;
    zg_xen_hypercall(XEN_HC_EVTCHN_OP, XEN_EVTCHNOP_SEND, (uintptr_t)&p, 0, 0);
}

/* Clears the port's pending bit: a notification after this is seen by
 * zg_xen_poll, never lost. Callers clear, look at their condition, then poll. */
static void port_clear(uint32_t port)
{
    __atomic_fetch_and(&shinfo->evtchn_pending[port / 64], ~(1ull << (port % 64)),
                       __ATOMIC_SEQ_CST);
}

static _Noreturn void shutdown(unsigned reason)
{
    for (;;) {
        uint32_t r = reason;
        zg_xen_hypercall(XEN_HC_SCHED_OP, XEN_SCHEDOP_SHUTDOWN, (uintptr_t)&r, 0, 0);
    }
}

/* ---- the console ring ----------------------------------------------------- */

static void cons_write(const char *p, size_t n)
{
    if (!cons)
        return;
    while (n > 0) {
        uint32_t prod = cons->out_prod;
        uint32_t used = prod - __atomic_load_n(&cons->out_cons, __ATOMIC_ACQUIRE);
        if (used >= sizeof(cons->out)) {
            notify(cons_port);
            port_clear(cons_port);
            if (prod - __atomic_load_n(&cons->out_cons, __ATOMIC_ACQUIRE) >= sizeof(cons->out))
                zg_xen_poll(cons_port);
            continue;
        }
        while (n > 0 && used < sizeof(cons->out)) {
            cons->out[prod++ % sizeof(cons->out)] = *p++;
            n--;
            used++;
        }
        __atomic_store_n(&cons->out_prod, prod, __ATOMIC_RELEASE);
    }
    notify(cons_port);
}

static void cons_puts(const char *s)
{
    cons_write(s, strlen(s));
}

static _Noreturn void panic(const char *what, long rc)
{
    char buf[160];
    snprintf(buf, sizeof(buf), "zerg: xen: %s failed (%ld)\n", what, rc);
    cons_puts(buf);
    shutdown(XEN_SHUTDOWN_CRASH);
}

/* ---- memory: the identity map of every page frame ------------------------- */

static void set_va(uintptr_t va, uint64_t pte)
{
    long rc = zg_xen_hypercall(XEN_HC_UPDATE_VA_MAPPING, va, pte, XEN_UVMF_INVLPG, 0);
    if (rc)
        panic("update_va_mapping", rc);
}

static void mmu_update(struct xen_mmu_update *req, unsigned n)
{
    unsigned done = 0;
    long rc =
        zg_xen_hypercall(XEN_HC_MMU_UPDATE, (uintptr_t)req, n, (uintptr_t)&done, XEN_DOMID_SELF);
    if (rc || done != n)
        panic("mmu_update", rc);
}

/* A zeroed page frame for a page table, mapped read-only (Xen refuses a
 * table that is writable anywhere). */
static uint64_t table_alloc(void)
{
    uint64_t pfn = next_free++;
    if (pfn >= mapped_end || pfn >= nr_pages)
        panic("page table allocation (memory too small)", (long)pfn);
    memset((void *)(uintptr_t)(pfn * PAGE), 0, PAGE);
    set_va(pfn * PAGE, p2m[pfn] * PAGE | PT_RDONLY);
    return pfn;
}

static uint64_t *table_of(uint64_t pte)
{
    return (uint64_t *)(uintptr_t)(m2p[(pte & XEN_PTE_ADDR) / PAGE] * PAGE);
}

/* The table entry t[idx] points at, made first if absent. */
static uint64_t *table_child(uint64_t *t, unsigned idx)
{
    if (!(t[idx] & XEN_PTE_P)) {
        struct xen_mmu_update u = {(mfn_of(t) * PAGE + idx * 8u) | XEN_MMU_NORMAL_PT_UPDATE,
                                   p2m[table_alloc()] * PAGE | PT_FLAGS};
        mmu_update(&u, 1);
    } else if (t[idx] & XEN_PTE_PSE) {
        panic("identity map (superpage in the bootstrap tables)", 0);
    }
    return table_of(t[idx]);
}

/* The builder mapped [0, 4 MiB-aligned end of its bootstrap region); map the
 * rest, 2 MiB (one L1 table) at a time. New tables come from the free frames
 * just above the bootstrap region, which is always mapped far enough ahead
 * (at least 512 KiB of padding, and each 2 MiB mapped needs one frame). */
static void map_all(void)
{
    static struct xen_mmu_update batch[512];
    uint64_t *l4 = (uint64_t *)(uintptr_t)si->pt_base;
    for (uint64_t pfn = 0; pfn < nr_pages;) {
        uint64_t va = pfn * PAGE;
        uint64_t *l3 = table_child(l4, (unsigned)(va >> 39) & 511);
        uint64_t *l2 = table_child(l3, (unsigned)(va >> 30) & 511);
        uint64_t *l1 = table_child(l2, (unsigned)(va >> 21) & 511);
        unsigned n = 0;
        for (unsigned i = (unsigned)(va >> 12) & 511; i < 512 && pfn < nr_pages; i++, pfn++) {
            if (!(l1[i] & XEN_PTE_P))
                batch[n++] =
                    (struct xen_mmu_update){(mfn_of(l1) * PAGE + i * 8u) | XEN_MMU_NORMAL_PT_UPDATE,
                                            p2m[pfn] * PAGE | PT_FLAGS};
        }
        if (n)
            mmu_update(batch, n);
        if (pfn > mapped_end)
            mapped_end = pfn;
    }
}

/* Publishes the P2M for the toolstack (xl save reads it through this tree):
 * the list of lists holds the frames of the frame lists, which hold the
 * frames of the P2M itself. Machine frames change on restore: redone then. */
static void p2m_publish(void)
{
    uint64_t p2m_frames = (nr_pages + 511) / 512;
    memset(frame_lists, 0, (1 + n_frame_lists) * PAGE);
    for (uint64_t i = 0; i < p2m_frames; i++)
        frame_lists[512 + i] = mfn_of((const char *)p2m + i * PAGE);
    for (uint64_t j = 0; j < n_frame_lists; j++)
        frame_lists[j] = mfn_of(frame_lists + 512 * (1 + j));
    shinfo->max_pfn = nr_pages;
    shinfo->pfn_to_mfn_frame_list_list = mfn_of(frame_lists);
}

/* Maps shared info (new machine frame after a restore), masks event
 * delivery (no callback: the runtime polls), finds the rings. */
static void connect(void)
{
    set_va((uintptr_t)shinfo_va, si->shared_info | PT_FLAGS);
    shinfo = (volatile struct xen_shared_info *)shinfo_va;
    shinfo->vcpu_info[0].evtchn_upcall_mask = 1;
    cons = (volatile struct xen_console_ring *)(uintptr_t)(m2p[si->console_mfn] * PAGE);
    cons_port = si->console_evtchn;
    store = (volatile struct xen_store_ring *)(uintptr_t)(m2p[si->store_mfn] * PAGE);
    store_port = si->store_evtchn;
}

/* Called by _start_xen on the builder's one-page boot stack, with start_info
 * and that stack's top (the end of the bootstrap elements). Returns the boot
 * info zg_rt_start takes; start.S moves to its stack first. */
const struct zg_boot_info *zg_xen_start(struct xen_start_info *start, uint64_t boot_stack_top);

const struct zg_boot_info *zg_xen_start(struct xen_start_info *start, uint64_t boot_stack_top)
{
    si = start;
    p2m = (uint64_t *)(uintptr_t)si->mfn_list;
    nr_pages = si->nr_pages;
    connect();
    next_free = (boot_stack_top + PAGE - 1) / PAGE;
    /* The builder's guarantee: >= 512 KiB of padding, ending on 4 MiB. */
    mapped_end = (next_free + 128 + 1023) / 1024 * 1024;
    map_all();

    uint64_t p2m_frames = (nr_pages + 511) / 512;
    n_frame_lists = (p2m_frames + 511) / 512;
    frame_lists = (uint64_t *)(uintptr_t)(next_free * PAGE);
    next_free += 1 + n_frame_lists;
    p2m_publish();

    uint64_t mem = nr_pages * PAGE;
    if (next_free * PAGE + STACK_SZ + PAGE > mem)
        panic("boot (memory too small for heap and stack)", (long)nr_pages);
    boot.abi_version = ZG_ABI_VERSION;
    boot.mem_size = mem;
    boot.heap_start = next_free * PAGE;
    boot.heap_end = mem - STACK_SZ;
    boot.stack_top = mem;
    boot.cmdline = (uintptr_t)si->cmd_line;
    boot.cmdline_len = (uint32_t)strnlen(si->cmd_line, sizeof(si->cmd_line) - 1);
    zg_xen_standalone = 1;
    return &boot;
}

/* ---- xenstore ------------------------------------------------------------ */

static void store_put(const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        uint32_t prod = store->req_prod;
        if (prod - __atomic_load_n(&store->req_cons, __ATOMIC_ACQUIRE) >= sizeof(store->req)) {
            notify(store_port);
            port_clear(store_port);
            if (prod - __atomic_load_n(&store->req_cons, __ATOMIC_ACQUIRE) >= sizeof(store->req))
                zg_xen_poll(store_port);
            continue;
        }
        store->req[prod % sizeof(store->req)] = *p++;
        __atomic_store_n(&store->req_prod, prod + 1, __ATOMIC_RELEASE);
        n--;
    }
}

static void store_get(void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        uint32_t cons_idx = store->rsp_cons;
        if (__atomic_load_n(&store->rsp_prod, __ATOMIC_ACQUIRE) == cons_idx) {
            port_clear(store_port);
            if (__atomic_load_n(&store->rsp_prod, __ATOMIC_ACQUIRE) == cons_idx)
                zg_xen_poll(store_port);
            continue;
        }
        *p++ = store->rsp[cons_idx % sizeof(store->rsp)];
        __atomic_store_n(&store->rsp_cons, cons_idx + 1, __ATOMIC_RELEASE);
        n--;
    }
    notify(store_port);
}

/* One message from xenstored into body (XEN_XS_PAYLOAD_MAX + 1 bytes,
 * NUL-terminated); watch events set watch_fired. */
static void store_next(struct xen_store_msg *m, char *body)
{
    store_get(m, sizeof(*m));
    if (m->len > XEN_XS_PAYLOAD_MAX)
        panic("xenstore (oversized message)", (long)m->len);
    store_get(body, m->len);
    body[m->len] = '\0';
    if (m->type == XEN_XS_WATCH_EVENT)
        watch_fired = 1;
}

/* One request; the reply's payload (NUL-terminated) in body. Returns its
 * length, or -1 for an error reply. */
static long store_call(uint32_t type, const char *a, size_t alen, const char *b, size_t blen,
                       char *body)
{
    struct xen_store_msg m = {type, ++store_req_id, 0, (uint32_t)(alen + blen)};
    store_put(&m, sizeof(m));
    store_put(a, alen);
    store_put(b, blen);
    notify(store_port);
    for (;;) {
        struct xen_store_msg r;
        store_next(&r, body);
        if (r.type != XEN_XS_WATCH_EVENT && r.req_id == m.req_id)
            return r.type == XEN_XS_ERROR ? -1 : (long)r.len;
    }
}

static char store_body[XEN_XS_PAYLOAD_MAX + 1];

static long store_read(const char *path)
{
    return store_call(XEN_XS_READ, path, strlen(path) + 1, "", 0, store_body);
}

static long store_write(const char *path, const char *value)
{
    return store_call(XEN_XS_WRITE, path, strlen(path) + 1, value, strlen(value), store_body);
}

static void store_watch(const char *path)
{
    static const char token[] = "zerg";
    if (store_call(XEN_XS_WATCH, path, strlen(path) + 1, token, sizeof(token), store_body) < 0)
        panic("xenstore watch", 0);
}

/* ---- suspend and resume (xl save / xl restore) ----------------------------- */

/* Returns 1 in the domain `xl restore` built, 0 if the suspend was
 * cancelled and this is still the old domain. */
static int xen_suspend(void)
{
    uint64_t store_mfn = si->store_mfn, console_mfn = si->console_mfn;
    si->store_mfn = m2p[store_mfn];
    si->console_mfn = m2p[console_mfn];
    shinfo = NULL;
    set_va((uintptr_t)shinfo_va, 0);
    uint32_t reason = XEN_SHUTDOWN_SUSPEND;
    long rc =
        zg_xen_hypercall(XEN_HC_SCHED_OP, XEN_SCHEDOP_SHUTDOWN, (uintptr_t)&reason, mfn_of(si), 0);
    if (rc) {
        si->store_mfn = store_mfn;
        si->console_mfn = console_mfn;
    }
    connect();
    if (rc)
        return 0;
    p2m_publish();
    /* A new xenstored connection: nothing of the old one is owed to us. */
    store->rsp_cons = store->rsp_prod;
    store_req_id = 0;
    return 1;
}

/* Serves control/shutdown until a suspend resumes in a new domain. */
static void control_loop(void)
{
    store_watch("control/shutdown");
    for (;;) {
        while (!watch_fired) {
            struct xen_store_msg m;
            store_next(&m, store_body);
        }
        watch_fired = 0;
        if (store_read("control/shutdown") <= 0)
            continue;
        char req[16];
        snprintf(req, sizeof(req), "%s", store_body);
        store_write("control/shutdown", ""); /* the acknowledgement xl waits for */
        if (!strcmp(req, "suspend")) {
            if (xen_suspend())
                return;
            store_watch("control/shutdown");
        } else if (!strcmp(req, "poweroff") || !strcmp(req, "halt")) {
            cons_puts("zerg: powered off by the toolstack\n");
            shutdown(XEN_SHUTDOWN_POWEROFF);
        } else if (!strcmp(req, "reboot")) {
            shutdown(XEN_SHUTDOWN_REBOOT);
        }
    }
}

/* ---- the calls of abi.h ---------------------------------------------------- */

static uint64_t system_ns(void)
{
    const volatile struct xen_vcpu_time *t = &shinfo->vcpu_info[0].time;
    uint32_t v, mul;
    uint64_t stamp, sys;
    int8_t shift;
    do {
        v = t->version;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        stamp = t->tsc_timestamp;
        sys = t->system_time;
        mul = t->tsc_to_system_mul;
        shift = t->tsc_shift;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((v & 1) || v != t->version);
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t delta = ((uint64_t)hi << 32 | lo) - stamp;
    delta = shift < 0 ? delta >> -shift : delta << shift;
    return sys + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

static uint64_t wall_ns(void)
{
    uint32_t v, sec, nsec, sec_hi;
    do {
        v = shinfo->wc_version;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        sec = shinfo->wc_sec;
        nsec = shinfo->wc_nsec;
        sec_hi = shinfo->wc_sec_hi;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((v & 1) || v != shinfo->wc_version);
    return ((uint64_t)sec_hi << 32 | sec) * 1000000000ull + nsec + system_ns();
}

static void random_fill(uint8_t *p, size_t n)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    int rdrand = (c >> 30) & 1;
    uint64_t x = system_ns() ^ 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0) {
            uint64_t r = 0;
            unsigned char ok = 0;
            if (rdrand)
                for (int tries = 0; tries < 10 && !ok; tries++)
                    __asm__ volatile("rdrand %0; setc %1" : "=r"(r), "=qm"(ok));
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            x ^= r ^ system_ns();
        }
        p[i] = (uint8_t)(x >> (8 * (i % 8)));
    }
}

void zg_xen_call(unsigned nr, void *arg);

void zg_xen_call(unsigned nr, void *arg)
{
    switch (nr) {
    case ZG_HC_CONSOLE:
    case ZG_HC_SEND: { /* the same struct layout; both go to the console */
        struct zg_hc_console *a = arg;
        cons_write((const char *)(uintptr_t)a->buf, a->len);
        a->ret = (int64_t)a->len;
        break;
    }
    case ZG_HC_TIME: {
        struct zg_hc_time *a = arg;
        a->monotonic_ns = system_ns();
        a->wall_ns = wall_ns();
        break;
    }
    case ZG_HC_RANDOM: {
        struct zg_hc_random *a = arg;
        random_fill((uint8_t *)(uintptr_t)a->buf, a->len);
        a->ret = (int64_t)a->len;
        break;
    }
    case ZG_HC_READY:
    case ZG_HC_READY_RECV: { /* READY_RECV's struct begins with READY's */
        struct zg_hc_ready *a = arg;
        if (nr == ZG_HC_READY_RECV)
            ((struct zg_hc_ready_recv *)arg)->ret = 0; /* no request stream outside zerg */
        cons_puts("ZERG-READY\n");
        control_loop();
        cons_puts("ZERG-RESUMED\n");
        memset(a, 0, sizeof(*a));
        a->restored = 1;
        if (store_read("domid") > 0)
            a->instance_id = strtoul(store_body, NULL, 10);
        a->monotonic_ns = system_ns();
        a->wall_ns = wall_ns();
        random_fill(a->entropy, sizeof(a->entropy));
        break;
    }
    case ZG_HC_RECV: {
        struct zg_hc_recv *a = arg;
        a->ret = 0; /* no request stream outside zerg */
        break;
    }
    case ZG_HC_SEND_EXIT:
    case ZG_HC_EXIT: {
        int64_t status;
        if (nr == ZG_HC_SEND_EXIT) { /* the response to the console, then EXIT */
            const struct zg_hc_send_exit *a = arg;
            cons_write((const char *)(uintptr_t)a->buf, a->len);
            status = a->status;
        } else {
            status = ((const struct zg_hc_exit *)arg)->status;
        }
        char buf[64];
        snprintf(buf, sizeof(buf), "zerg: exit status %d\n", (int)status);
        cons_puts(buf);
        shutdown(status == 0 ? XEN_SHUTDOWN_POWEROFF : XEN_SHUTDOWN_CRASH);
    }
    default:
        panic("unknown call", (long)nr);
    }
}
