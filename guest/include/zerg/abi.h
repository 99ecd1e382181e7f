/* zerg guest ABI: the one contract between a guest and the zerg monitor.
 *
 * This header is shared, unchanged, by the guest runtime (guest/rt) and the
 * monitor (monitor/). It depends on <stdint.h> only, so a guest built with
 * any freestanding C99 compiler can use it. docs/abi.md is the prose version.
 *
 * What it defines
 *   - the ABI version and the ELF note that carries it,
 *   - the state a guest is entered in (boot info),
 *   - the hypercalls: port numbers and one struct per call.
 *
 * What it does not define
 *   - how the monitor implements anything (page-table placement, pools,
 *     templates): a guest must not depend on that.
 *
 * Entry state (set by the monitor; no boot code runs in the guest)
 *   - 64-bit long mode, CPL3 (CS/SS selectors with RPL 3), RFLAGS.IOPL = 3,
 *     interrupts off, SSE enabled (CR0.MP, CR4.OSFXSR, CR4.OSXMMEXCPT).
 *   - All guest memory, [0, mem_size), identity mapped (virtual == physical),
 *     user-accessible, writable and executable; page 0 is not mapped, so a
 *     NULL dereference faults. Pages below ZG_GUEST_LOAD_MIN other than the
 *     boot info page are the monitor's and are not accessible at CPL3.
 *   - RIP = the ELF entry point; RSP = boot_info.stack_top (16-byte aligned);
 *     RDI = guest-physical address of struct zg_boot_info; other GPRs zero.
 *   - There is no IDT: any exception ends the guest (the monitor reports it
 *     as a fault with RIP and registers).
 *
 * Hypercalls
 *   A guest calls the monitor with `outl %eax, %dx`:
 *     DX  = ZG_HC_PORT_BASE + ZG_HC_<call>
 *     EAX = guest-physical address of the call's argument struct.
 *   The struct must be 8-byte aligned and lie wholly inside the guest's own
 *   memory, [ZG_GUEST_LOAD_MIN, mem_size), below 4 GiB; so must every buffer
 *   a struct points to (the boot info page and the monitor's pages below
 *   1 MiB are refused). Fields are marked IN (the guest fills them) or OUT (the
 *   monitor fills them before the `out` instruction completes). Pointers
 *   inside a struct are guest-physical addresses; the monitor checks every
 *   one against guest memory and answers a bad one with ret = -ZG_EFAULT.
 *   A struct address that is itself out of bounds, misaligned, or an unknown
 *   port ends the instance: there is nowhere to write an error.
 *
 * Versioning
 *   ZG_ABI_VERSION is bumped whenever a struct or a call's meaning changes;
 *   calls are added with new numbers. The monitor runs guests whose note
 *   names a version from ZG_ABI_VERSION_MIN to ZG_ABI_VERSION (a version-2
 *   guest simply never makes version 3's calls) and refuses any other
 *   before running a single instruction.
 */
#ifndef ZERG_ABI_H
#define ZERG_ABI_H

#include <stdint.h>

#define ZG_ABI_VERSION     3 /* 3: READY_RECV and SEND_EXIT; 2: the Xen PV transport */
#define ZG_ABI_VERSION_MIN 2 /* the oldest version this monitor still runs */

/* ---- The ABI note ------------------------------------------------------
 * Every guest ELF carries one PT_NOTE entry with
 *   name  "ZERG\0" (namesz 5), type ZG_NOTE_ABI, desc a uint32_t version.
 */
#define ZG_NOTE_NAME "ZERG"
#define ZG_NOTE_ABI  0x5a470001u

/* ---- Memory layout the guest may rely on ------------------------------ */
#define ZG_PAGE_SIZE      4096u
#define ZG_BOOT_INFO_GPA  0x9000u   /* the boot info page (read-only to the guest) */
#define ZG_CMDLINE_MAX    2048u     /* command line bytes including the NUL */
#define ZG_GUEST_LOAD_MIN 0x100000u /* lowest address a PT_LOAD segment may use */

/* boot_info.flags */
#define ZG_BOOT_XEN_PV 0x1u /* a Xen PV domain: call the monitor through the mailbox */

/* Boot info: at ZG_BOOT_INFO_GPA, its address also passed in RDI. */
struct zg_boot_info {
    uint32_t abi_version;     /* ZG_ABI_VERSION of the monitor */
    uint32_t flags;           /* ZG_BOOT_* */
    uint64_t mem_size;        /* bytes of guest memory, identity mapped from 0 */
    uint64_t heap_start;      /* first free byte after the loaded image, page aligned */
    uint64_t heap_end;        /* end of the heap (at or below the stack region) */
    uint64_t stack_top;       /* initial RSP */
    uint64_t cmdline;         /* GPA of the NUL-terminated command line */
    uint32_t cmdline_len;     /* its length, without the NUL */
    uint32_t xen_port;        /* ZG_BOOT_XEN_PV: the event channel to the monitor; else 0 */
    uint64_t xen_mailbox;     /* ZG_BOOT_XEN_PV: address of struct zg_xen_mailbox; else 0 */
    uint64_t xen_shared_info; /* ZG_BOOT_XEN_PV: where Xen's shared_info page is mapped */
    uint64_t reserved[2];     /* zero */
};
_Static_assert(sizeof(struct zg_boot_info) == 88, "zg_boot_info layout");

/* ---- Hypercalls -------------------------------------------------------- */
#define ZG_HC_PORT_BASE 0x500u
#define ZG_HC_PORT_MAX  0x50fu /* ports the monitor claims: BASE .. MAX */

#define ZG_HC_CONSOLE    0 /* struct zg_hc_console: write to the monitor's log */
#define ZG_HC_TIME       1 /* struct zg_hc_time: monotonic and wall-clock time */
#define ZG_HC_RANDOM     2 /* struct zg_hc_random: random bytes from the host */
#define ZG_HC_READY      3 /* struct zg_hc_ready: the template point */
#define ZG_HC_RECV       4 /* struct zg_hc_recv: bytes of the request stream */
#define ZG_HC_SEND       5 /* struct zg_hc_send: bytes of the response */
#define ZG_HC_EXIT       6 /* struct zg_hc_exit: end the instance */
/* Version 3: a request answered with two entries into the guest in all. */
#define ZG_HC_READY_RECV 7 /* struct zg_hc_ready_recv: READY, and the request's first bytes */
#define ZG_HC_SEND_EXIT  8 /* struct zg_hc_send_exit: the response's last bytes, then EXIT */
#define ZG_HC_COUNT      9

/* Error values returned in `ret` fields, negated (Linux errno numbers). */
#define ZG_EIO    5  /* the host side failed */
#define ZG_EFAULT 14 /* a buffer lies outside guest memory */
#define ZG_EINVAL 22 /* a length or flag is out of range */
#define ZG_EPIPE  32 /* the peer closed the stream */

#define ZG_CONSOLE_MAX 4096u      /* bytes per console call */
#define ZG_RANDOM_MAX  65536u     /* bytes per random call */
#define ZG_IO_MAX      (1u << 20) /* bytes per recv or send call */
#define ZG_ENTROPY_LEN 32u

struct zg_hc_console {
    uint64_t buf; /* IN: GPA of the bytes */
    uint64_t len; /* IN: at most ZG_CONSOLE_MAX */
    int64_t ret;  /* OUT: bytes written or -ZG_E* */
};
_Static_assert(sizeof(struct zg_hc_console) == 24, "zg_hc_console layout");

struct zg_hc_time {
    uint64_t monotonic_ns; /* OUT: host CLOCK_MONOTONIC */
    uint64_t wall_ns;      /* OUT: host CLOCK_REALTIME, ns since the Unix epoch */
};
_Static_assert(sizeof(struct zg_hc_time) == 16, "zg_hc_time layout");

struct zg_hc_random {
    uint64_t buf; /* IN: GPA to fill */
    uint64_t len; /* IN: at most ZG_RANDOM_MAX */
    int64_t ret;  /* OUT: bytes written or -ZG_E* */
};
_Static_assert(sizeof(struct zg_hc_random) == 24, "zg_hc_random layout");

/* READY: the guest's initialisation is done. In a cold boot it returns at
 * once (restored = 0). When a template is captured, the monitor stops the
 * guest inside this call; every instance restored from the template resumes
 * here with restored = 1. Either way the OUT fields are fresh for this
 * instance: a guest must re-seed its randomness from `entropy` and read the
 * time from here, never keep what it had before the call. */
struct zg_hc_ready {
    uint32_t restored;               /* OUT: 0 cold boot, 1 restored instance */
    uint32_t flags;                  /* IN: ZG_READY_*; OUT: zero */
    uint64_t instance_id;            /* OUT: unique among this host's live instances */
    uint64_t monotonic_ns;           /* OUT: as ZG_HC_TIME */
    uint64_t wall_ns;                /* OUT: as ZG_HC_TIME */
    uint8_t entropy[ZG_ENTROPY_LEN]; /* OUT: fresh random bytes */
};
_Static_assert(sizeof(struct zg_hc_ready) == 64, "zg_hc_ready layout");

/* READY's IN flags (version 3; a guest of version 2 passes 0).
 * ZG_READY_SELF_FPU: the guest puts its x87/SSE state back itself when READY
 * returns (FXRSTOR of an image it saved with FXSAVE just before the call,
 * before any other instruction that could read it), so a pooled reset need
 * not: the monitor then leaves the FPU as the last request left it, and the
 * guest's own FXRSTOR overwrites all of it. The flag is read from the
 * template's copy of the struct, never from what a request left behind. */
#define ZG_READY_SELF_FPU 0x1u

/* RECV: blocks until at least one byte of the request stream is available,
 * or the stream has ended (ret = 0), or the instance's deadline passes.
 * A call with len = 0 returns 0 at once. */
struct zg_hc_recv {
    uint64_t buf; /* IN: GPA to fill */
    uint64_t len; /* IN: at most ZG_IO_MAX */
    int64_t ret;  /* OUT: bytes read, 0 at the end of the stream, or -ZG_E* */
};
_Static_assert(sizeof(struct zg_hc_recv) == 24, "zg_hc_recv layout");

/* SEND: writes all `len` bytes to the response stream or fails. */
struct zg_hc_send {
    uint64_t buf; /* IN: GPA of the bytes */
    uint64_t len; /* IN: at most ZG_IO_MAX */
    int64_t ret;  /* OUT: len, or -ZG_EPIPE if the peer went away, or -ZG_E* */
};
_Static_assert(sizeof(struct zg_hc_send) == 24, "zg_hc_send layout");

/* EXIT: ends the instance; never returns. */
struct zg_hc_exit {
    int64_t status; /* IN: 0..255, the instance's exit status */
};
_Static_assert(sizeof(struct zg_hc_exit) == 8, "zg_hc_exit layout");

/* READY_RECV (version 3): READY, and in the same call the request's bytes
 * that have already arrived -- so a request that arrives whole costs no
 * RECV. The template point is inside this call as inside READY; `ready` is
 * filled as READY fills its struct. Then up to `len` bytes of the request
 * stream that are there at that moment (never waiting) go to `buf`: ret is
 * their number, possibly 0 (nothing yet, or the stream has ended: RECV tells
 * which), or -ZG_E* (and the request stream is untouched). */
struct zg_hc_ready_recv {
    struct zg_hc_ready ready; /* OUT: as READY */
    uint64_t buf;             /* IN: GPA to fill */
    uint64_t len;             /* IN: at most ZG_IO_MAX */
    int64_t ret;              /* OUT: bytes read (0: none there), or -ZG_E* */
};
_Static_assert(sizeof(struct zg_hc_ready_recv) == 88, "zg_hc_ready_recv layout");

/* SEND_EXIT (version 3): SEND of `len` bytes, then EXIT with `status`: the
 * last of a response and the end of the instance in one call. Never
 * returns; if the bytes cannot be sent (the peer went away), the instance
 * still ends with `status` and the monitor logs why. */
struct zg_hc_send_exit {
    uint64_t buf;   /* IN: GPA of the bytes */
    uint64_t len;   /* IN: at most ZG_IO_MAX */
    int64_t status; /* IN: 0..255, the instance's exit status */
};
_Static_assert(sizeof(struct zg_hc_send_exit) == 24, "zg_hc_send_exit layout");

/* ---- The Xen PV transport ----------------------------------------------
 * A Xen PV guest cannot reach the monitor (a process in dom0) with `out`.
 * When boot_info.flags has ZG_BOOT_XEN_PV, a hypercall is instead:
 *   1. write nr and arg (the same struct addresses as above) into the
 *      mailbox, then req_seq = previous req_seq + 1 (a release store);
 *   2. EVTCHNOP_send on boot_info.xen_port;
 *   3. until done_seq == req_seq: clear the port's pending bit in shared
 *      info, re-check done_seq, SCHEDOP_poll on the port.
 * The monitor answers by filling the OUT fields, then done_seq = req_seq,
 * then a notification on the port. The wait loop may be stopped and resumed
 * at any instruction (that is how a template captured inside READY resumes
 * in another domain), so it keeps no state outside memory. Everything else
 * (structs, checks, errors, EXIT) is as for `out`. Only the mailbox page,
 * the boot info page and shared info are mapped below ZG_GUEST_LOAD_MIN. */
struct zg_xen_mailbox {
    uint32_t req_seq;  /* IN: bumped by the guest for each call */
    uint32_t done_seq; /* OUT: equals req_seq once the call is answered */
    uint32_t nr;       /* IN: ZG_HC_* */
    uint32_t pad;
    uint64_t arg; /* IN: address of the call's argument struct */
};
_Static_assert(sizeof(struct zg_xen_mailbox) == 24, "zg_xen_mailbox layout");

#endif /* ZERG_ABI_H */
