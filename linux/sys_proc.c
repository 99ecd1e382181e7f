/* Linux personality: process, identity, limits and signals. One process
 * per instance (its threads: lx_thread.c); signals are recorded, never
 * delivered. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "linux/lx_int.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004

int64_t lx_sys_exit(struct lx_call *c)
{
    c->res->end = ZG_END_EXIT;
    c->res->status = (int)(c->a[0] & 0xff);
    c->stop = 1;
    return 0;
}

int64_t lx_sys_arch_prctl(struct lx_call *c)
{
    struct zg_instance *in = c->in;
    uint64_t code = c->a[0], addr = c->a[1];
    if (code == ARCH_GET_FS || code == ARCH_GET_GS) {
        uint64_t *p = lx_uwptr(in, addr, 8);
        if (!p)
            return -EFAULT;
        uint64_t v = code == ARCH_GET_FS ? c->lx->thread[c->lx->cur].fs_base
                                         : c->lx->thread[c->lx->cur].gs_base;
        memcpy(p, &v, 8);
        return 0;
    }
    if (code != ARCH_SET_FS && code != ARCH_SET_GS)
        return -EINVAL; /* the CET probes (0x3001...) among them: no shadow stack */
    if (addr >= ZG_LINUX_STACK_VA_END)
        return -EPERM; /* not a canonical user address */
    struct zg_vcpu_state st;
    int rc = in->hv->vcpu_get_state(in->vm, &st, ZG_VCPU_SREGS);
    if (rc < 0)
        return -EIO;
    if (code == ARCH_SET_FS)
        st.sregs.fs.base = c->lx->thread[c->lx->cur].fs_base = addr;
    else
        st.sregs.gs.base = c->lx->thread[c->lx->cur].gs_base = addr;
    return in->hv->vcpu_set_state(in->vm, &st, ZG_VCPU_SREGS) < 0 ? -EIO : 0;
}

int64_t lx_sys_set_tid_address(struct lx_call *c)
{
    lx_self(c->lx)->clear_tid = c->a[0];
    return lx_self(c->lx)->tid;
}

int64_t lx_sys_set_robust_list(struct lx_call *c)
{
    if (c->a[1] != 24) /* sizeof(struct robust_list_head) */
        return -EINVAL;
    lx_self(c->lx)->robust = c->a[0];
    return 0;
}

/* The limits an instance has: its memory, its descriptors, its stack. */
static void limit_of(struct lx_call *c, unsigned res, uint64_t lim[2])
{
    lim[0] = lim[1] = RLIM_INFINITY;
    switch (res) {
    case RLIMIT_STACK:
        lim[0] = ZG_LINUX_STACK_SIZE;
        break;
    case RLIMIT_NOFILE:
        lim[0] = lim[1] = LX_NFD;
        break;
    case RLIMIT_AS:
    case RLIMIT_DATA:
        lim[0] = lim[1] = c->in->mem_size;
        break;
    case RLIMIT_CORE:
        lim[0] = lim[1] = 0;
        break;
    default:
        break;
    }
}

int64_t lx_sys_prlimit64(struct lx_call *c)
{
    if (c->a[0] != 0 && c->a[0] != 1)
        return -ESRCH;
    if (c->a[1] >= RLIM_NLIMITS)
        return -EINVAL;
    if (c->a[2] && !lx_uptr(c->in, c->a[2], 16))
        return -EFAULT;
    if (c->a[3]) {
        uint64_t lim[2], *p = lx_uwptr(c->in, c->a[3], 16);
        if (!p)
            return -EFAULT;
        limit_of(c, (unsigned)c->a[1], lim);
        memcpy(p, lim, 16);
    }
    return 0; /* a new limit is accepted and has no effect */
}

int64_t lx_sys_getrlimit(struct lx_call *c)
{
    if (c->a[0] >= RLIM_NLIMITS)
        return -EINVAL;
    uint64_t lim[2], *p = lx_uwptr(c->in, c->a[1], 16);
    if (!p)
        return -EFAULT;
    limit_of(c, (unsigned)c->a[0], lim);
    memcpy(p, lim, 16);
    return 0;
}

int64_t lx_sys_uname(struct lx_call *c)
{
    struct utsname u;
    char *p = lx_uwptr(c->in, c->a[0], sizeof(u));
    if (!p)
        return -EFAULT;
    if (uname(&u) < 0)
        memset(&u, 0, sizeof(u));
    snprintf(u.nodename, sizeof(u.nodename), "zerg");
    memcpy(p, &u, sizeof(u));
    return 0;
}

int64_t lx_sys_getpid(struct lx_call *c)
{
    (void)c;
    return 1;
}

int64_t lx_sys_getppid(struct lx_call *c)
{
    (void)c;
    return 0;
}

int64_t lx_sys_getuid(struct lx_call *c)
{
    (void)c;
    return (int64_t)getuid();
}

int64_t lx_sys_getgid(struct lx_call *c)
{
    (void)c;
    return (int64_t)getgid();
}

int64_t lx_sys_zero(struct lx_call *c)
{
    (void)c;
    return 0;
}

int64_t lx_sys_sched_getaffinity(struct lx_call *c)
{
    int known = c->a[0] == 0;
    for (unsigned i = 0; i < LX_NTHREAD; i++)
        known |= c->lx->thread[i].state != LX_T_FREE && c->lx->thread[i].tid == c->a[0];
    if (!known)
        return -ESRCH;
    if (c->a[1] < 8 || (c->a[1] & 7))
        return -EINVAL;
    uint8_t *p = lx_uwptr(c->in, c->a[2], 8);
    if (!p)
        return -EFAULT;
    memset(p, 0, 8);
    p[0] = 1; /* CPU 0 */
    return 8;
}

int64_t lx_sys_sysinfo(struct lx_call *c)
{
    uint8_t *p = lx_uwptr(c->in, c->a[0], 112);
    if (!p)
        return -EFAULT;
    uint64_t f[14] = {0};
    f[0] = (zg_now_ns() - c->in->t.created) / 1000000000ull;      /* uptime */
    f[4] = c->in->mem_size;                                       /* totalram */
    f[5] = c->in->mem_size - c->in->private_pages * ZG_PAGE_SIZE; /* freeram, roughly */
    memset(p, 0, 112);
    memcpy(p, f, 8 * 8);
    uint16_t procs = 1;
    memcpy(p + 80, &procs, 2);
    uint32_t unit = 1;
    memcpy(p + 104, &unit, 4);
    return 0;
}

int64_t lx_sys_refused(struct lx_call *c)
{
    unsigned nr = c->nr;
    if (lx_first_time(c->lx, nr))
        lx_log(c->in, "zerg: linux: %s is refused: %s (ENOSYS)", lx_name(nr),
               "an instance is one program (one process, its threads)");
    return -ENOSYS;
}

int64_t lx_sys_nosys(struct lx_call *c)
{
    (void)c;
    return -ENOSYS; /* known, not provided, and nothing to report: the program copes */
}

int64_t lx_sys_kill(struct lx_call *c)
{
    int64_t pid = (int64_t)c->a[0];
    if (c->a[1] > 64)
        return -EINVAL;
    if (pid != 0 && pid != 1 && pid != -1)
        return -ESRCH; /* the instance is the only process */
    if (c->a[1] == 0)
        return 0;             /* "is it there?": it is */
    return lx_sys_refused(c); /* no signal is delivered, not even to itself */
}

/* capget: the program has no capabilities (an unprivileged process). The
 * header's version is checked as Linux does: an unknown one is answered with
 * the version the kernel prefers, and EINVAL. */
int64_t lx_sys_capget(struct lx_call *c)
{
    void *hdr = lx_uwptr(c->in, c->a[0], 8);
    if (!hdr)
        return -EFAULT;
    uint32_t h[2];
    memcpy(h, hdr, 8);
    unsigned words;
    switch (h[0]) {
    case 0x19980330: /* _LINUX_CAPABILITY_VERSION_1 */
        words = 1;
        break;
    case 0x20071026: /* _V2 */
    case 0x20080522: /* _V3 */
        words = 2;
        break;
    default:
        h[0] = 0x20080522;
        memcpy(hdr, h, 4);
        return c->a[1] ? -EINVAL : 0;
    }
    if ((int32_t)h[1] < 0)
        return -EINVAL;
    if (h[1] > 1)
        return -ESRCH; /* not this process */
    if (!c->a[1])
        return 0;
    void *data = lx_uwptr(c->in, c->a[1], words * 12);
    if (!data)
        return -EFAULT;
    memset(data, 0, words * 12); /* effective, permitted, inheritable: none */
    return 0;
}

int64_t lx_sys_refused_perm(struct lx_call *c)
{
    (void)c;
    return -EPERM;
}
