/* Unit tests on real KVM: the zg_hv ops (state save/restore, run, kick,
 * dirty log). Skipped where /dev/kvm cannot be used. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "monitor/zg_monitor_int.h"
#include "tests/zt.h"

#define MEM (8ull << 20)

static const struct zg_hv_ops *hv;
static char why[128];

/* mov $0x1111,%rax; mov $0x2222,%rbx; movq %rax,%xmm3; mov $0x500,%dx; out %eax,(%dx);
 * add %rbx,%rax; movq %xmm3,%rcx; add %rcx,%rax; out %eax,(%dx); jmp . */
static const uint8_t code_state[] = {0x48, 0xc7, 0xc0, 0x11, 0x11, 0x00, 0x00, 0x48, 0xc7, 0xc3,
                                     0x22, 0x22, 0x00, 0x00, 0x66, 0x48, 0x0f, 0x6e, 0xd8, 0x66,
                                     0xba, 0x00, 0x05, 0xef, 0x48, 0x01, 0xd8, 0x66, 0x48, 0x0f,
                                     0x7e, 0xd9, 0x48, 0x01, 0xc8, 0xef, 0xeb, 0xfe};
/* jmp . */
static const uint8_t code_spin[] = {0xeb, 0xfe};
/* movb $1,0x300000; movb $1,0x305000; movb $1,0x7ff000; mov $0x500,%dx; out %eax,(%dx); jmp . */
static const uint8_t code_dirty[] = {
    0xc6, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, 0x01, 0xc6, 0x04, 0x25, 0x00, 0x50, 0x30, 0x00, 0x01,
    0xc6, 0x04, 0x25, 0x00, 0xf0, 0x7f, 0x00, 0x01, 0x66, 0xba, 0x00, 0x05, 0xef, 0xeb, 0xfe};

struct vm {
    struct zg_hv_vm *vm;
    uint8_t *mem;
};

static int vm_new(struct vm *v, const uint8_t *code, size_t len, unsigned flags)
{
    v->mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v->mem == MAP_FAILED || hv->vm_create(&v->vm) < 0)
        return -1;
    if (hv->mem_map(v->vm, v->mem, MEM, flags) < 0)
        return -1;
    if (!code)
        return 0;
    struct zg_vcpu_state st;
    memset(&st, 0, sizeof(st));
    if (hv->vcpu_get_state(v->vm, &st, ZG_VCPU_SREGS) < 0)
        return -1;
    uint64_t apic = st.sregs.apic_base;
    if (zg_layout_build(v->mem, MEM, 0x200000, 0x100000, "", &st) < 0)
        return -1;
    st.sregs.apic_base = apic;
    memcpy(v->mem + 0x100000, code, len);
    return hv->vcpu_set_state(v->vm, &st, ZG_VCPU_REGS | ZG_VCPU_SREGS);
}

static void vm_free(struct vm *v)
{
    hv->vm_destroy(v->vm);
    munmap(v->mem, MEM);
}

static int segs_equal(const struct zg_segment *a, const struct zg_segment *b)
{
    return a->base == b->base && a->limit == b->limit && a->selector == b->selector &&
           a->type == b->type && a->present == b->present && a->dpl == b->dpl && a->db == b->db &&
           a->s == b->s && a->l == b->l && a->g == b->g;
}

ZT_TEST(state_save_restore_compare)
{
    struct vm a, b;
    struct zg_hv_exit ex;
    ZT_EQ(vm_new(&a, code_state, sizeof(code_state), 0), 0);
    ZT_EQ(hv->run(a.vm, &ex), 0);
    ZT_EQ(ex.reason, ZG_EXIT_IO);
    ZT_EQ(ex.port, 0x500);
    ZT_EQ(ex.value, 0x1111);

    /* Save A mid-program, restore into a brand-new VM B over a copy of A's memory. */
    struct zg_vcpu_state s1, s2;
    memset(&s1, 0, sizeof(s1));
    memset(&s2, 0, sizeof(s2));
    ZT_EQ(hv->vcpu_get_state(a.vm, &s1, ZG_VCPU_ALL), 0);
    ZT_EQ(vm_new(&b, NULL, 0, 0), 0);
    memcpy(b.mem, a.mem, MEM);
    ZT_EQ(hv->vcpu_set_state(b.vm, &s1, ZG_VCPU_ALL), 0);
    ZT_EQ(hv->vcpu_get_state(b.vm, &s2, ZG_VCPU_ALL), 0);

    ZT_MEMEQ(&s1.regs, &s2.regs, sizeof(s1.regs));
    ZT_EQ(s1.regs.rbx, 0x2222);
    ZT_TRUE(segs_equal(&s1.sregs.cs, &s2.sregs.cs));
    ZT_TRUE(segs_equal(&s1.sregs.ss, &s2.sregs.ss));
    ZT_TRUE(segs_equal(&s1.sregs.tr, &s2.sregs.tr));
    ZT_EQ(s1.sregs.cr0, s2.sregs.cr0);
    ZT_EQ(s1.sregs.cr3, s2.sregs.cr3);
    ZT_EQ(s1.sregs.cr4, s2.sregs.cr4);
    ZT_EQ(s1.sregs.efer, s2.sregs.efer);
    ZT_EQ(s1.sregs.gdt.base, s2.sregs.gdt.base);
    ZT_MEMEQ(s1.msrs, s2.msrs, sizeof(s1.msrs));
    ZT_MEMEQ(s1.fpu.xsave, s2.fpu.xsave, 512); /* x87 + SSE state, xmm3 included */
    ZT_EQ(s1.fpu.xcr0, s2.fpu.xcr0);
    uint64_t xmm3;
    memcpy(&xmm3, s1.fpu.xsave + 160 + 3 * 16, 8);
    ZT_EQ(xmm3, 0x1111);

    /* Both continue to the same result: rax + rbx + xmm3 = 0x4444. */
    ZT_EQ(hv->run(b.vm, &ex), 0);
    ZT_EQ(ex.reason, ZG_EXIT_IO);
    ZT_EQ(ex.value, 0x4444);
    ZT_EQ(hv->run(a.vm, &ex), 0);
    ZT_EQ(ex.value, 0x4444);
    vm_free(&a);
    vm_free(&b);
}

static pthread_t runner;
static void on_signal(int sig)
{
    (void)sig;
}

static void *kicker(void *arg)
{
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
    /* What the monitor's deadline does: kick() from a signal handler's
     * point of view is "make the next entry fail"; the signal interrupts the
     * KVM_RUN in progress. */
    hv->kick(arg);
    pthread_kill(runner, SIGUSR1);
    return NULL;
}

ZT_TEST(kick_stops_a_spinning_guest)
{
    struct vm a;
    ZT_EQ(vm_new(&a, code_spin, sizeof(code_spin), 0), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART */
    sigaction(SIGUSR1, &sa, NULL);
    runner = pthread_self();
    pthread_t t;
    ZT_EQ(pthread_create(&t, NULL, kicker, a.vm), 0);
    struct zg_hv_exit ex;
    uint64_t t0 = zg_now_ns();
    int rc = hv->run(a.vm, &ex); /* spins until the kick */
    uint64_t waited = zg_now_ns() - t0;
    pthread_join(t, NULL);
    ZT_EQ(rc, 0);
    ZT_EQ(ex.reason, ZG_EXIT_KICKED);
    ZT_TRUE(waited >= 40 * 1000000ull); /* it really was running until then */
    /* The kick is consumed: the guest runs again (and is kicked again). */
    ZT_EQ(pthread_create(&t, NULL, kicker, a.vm), 0);
    ZT_EQ(hv->run(a.vm, &ex), 0);
    pthread_join(t, NULL);
    ZT_EQ(ex.reason, ZG_EXIT_KICKED);
    vm_free(&a);
}

ZT_TEST(dirty_log_names_written_pages)
{
    struct vm a;
    ZT_EQ(vm_new(&a, code_dirty, sizeof(code_dirty), ZG_MEM_DIRTY_LOG), 0);
    uint64_t bitmap[MEM / 4096 / 64];
    memset(bitmap, 0, sizeof(bitmap));
    ZT_EQ(hv->dirty_log(a.vm, bitmap), 0); /* clear what setup wrote */
    struct zg_hv_exit ex;
    ZT_EQ(hv->run(a.vm, &ex), 0);
    ZT_EQ(ex.reason, ZG_EXIT_IO);
    memset(bitmap, 0, sizeof(bitmap));
    ZT_EQ(hv->dirty_log(a.vm, bitmap), 0);
    uint64_t pages[] = {0x300, 0x305, 0x7ff};
    for (int i = 0; i < 3; i++)
        if (!((bitmap[pages[i] / 64] >> (pages[i] % 64)) & 1))
            ZT_FAILF("page 0x%llx written but not in the dirty log", (unsigned long long)pages[i]);
    if ((bitmap[0x301 / 64] >> (0x301 % 64)) & 1)
        ZT_FAILF("page 0x301 was not written but is in the dirty log");
    vm_free(&a);
}

int main(void)
{
    hv = zg_hv_lookup("kvm");
    if (!hv || hv->probe(why, sizeof(why)) < 0) {
        printf("SKIP: test_kvm: KVM unavailable: %s\n", hv ? why : "not built in");
        return 0;
    }
    ZT_RUN(state_save_restore_compare);
    ZT_RUN(kick_stops_a_spinning_guest);
    ZT_RUN(dirty_log_names_written_pages);
    ZT_MAIN_END;
}
