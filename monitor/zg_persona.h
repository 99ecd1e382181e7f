/* zg_persona: what a guest speaks, as the monitor sees it.
 *
 * What it does
 *   A personality is to the monitor what a backend is to the hypervisor
 *   layer: an ops table. The monitor runs every instance through the same
 *   run loop; what the guest's calls mean, how its image is loaded and what
 *   happens at the template point belong to its personality. Two exist:
 *     "zerg"   guests written against zerg's own ABI (guest/include/zerg/abi.h),
 *              the monitor's built-in hypercalls (monitor/hypercall.c);
 *     "linux"  unmodified x86-64 Linux programs (linux/, docs/abi.md
 *              "Linux programs"): a system-call layer behind the guest-side
 *              entry at MSR_LSTAR.
 *   Personalities are found by name (zg_persona_lookup) or by the image
 *   (zg_persona_for_image: an ELF with the ZERG ABI note is a zerg guest,
 *   any other x86-64 ELF a Linux program), through weak symbols, so the
 *   monitor links without the Linux code (the fuzzers do).
 *
 * What it does not do
 *   Capture or restore templates (snapshotter/, restorer/): those see a
 *   personality only through these hooks.
 *
 * Threads: an ops table is immutable; its hooks run on the thread that runs
 * the instance.
 */
#ifndef ZG_PERSONA_H
#define ZG_PERSONA_H

#include <stddef.h>
#include <stdint.h>

struct zg_instance;
struct zg_run_result;
enum zg_hc_action;

struct zg_persona_ops {
    const char *name; /* "zerg", "linux" */

    /* Loads image[0..size) (untrusted) into the instance's memory and sets
     * the vCPU's entry state; the command line is the instance's cfg.cmdline.
     * 0, or -ENOEXEC for an image it refuses, -EPROTO for another version of
     * its ABI, or another negative errno; the reason is left with
     * zg_inst_fail(). */
    int (*boot)(struct zg_instance *in, const void *image, size_t size);

    /* An `out` of `value` to `port` (inside the ports the ABI claims) from a
     * guest of this personality. Fills res and returns ZG_HC_STOP to end the
     * run (or stop it at the template point), ZG_HC_CONTINUE to resume. */
    enum zg_hc_action (*io)(struct zg_instance *in, unsigned port, uint64_t value,
                            struct zg_run_result *res);

    /* The instance was stopped at its template point and is now to go on
     * (a cold boot that goes on, or a restored instance: restored = 1).
     * 0 or a negative errno. */
    int (*complete_ready)(struct zg_instance *in, int restored);

    /* What the guest last asked of the monitor, for a fault's report ("its
     * last call was SEND"); "" if nothing yet. NULL: nothing to say. */
    void (*last_call)(const struct zg_instance *in, char *buf, size_t len);

    /* Whether the guest, resumed at its template point, puts its x87/SSE
     * state back itself before anything reads it, so that a reset in place
     * need not set the FPU (read from memory the reset has put back). NULL:
     * never. */
    int (*guest_restores_fpu)(const struct zg_instance *in);

    /* Work left from the template point to do before the guest runs again
     * (the Linux call the program was stopped in). NULL or ZG_HC_CONTINUE:
     * nothing left; ZG_HC_STOP: the run is over, res filled. */
    enum zg_hc_action (*before_run)(struct zg_instance *in, struct zg_run_result *res);

    /* The run ended (not at the template point): last work, such as sending
     * output the guest buffered. NULL: none. */
    void (*end)(struct zg_instance *in);

    /* The guest stopped on an exception it could not take (the backend's
     * ZG_EXIT_SHUTDOWN): vector (-1: unknown) and, for a #PF, the address.
     * 1: the personality dealt with it (a page backed), the guest resumes
     * where it stopped; 0: not the personality's, reported as a fault; -1:
     * the run is over, res->end and res->why filled. NULL: always 0. */
    int (*fault)(struct zg_instance *in, int vector, uint64_t addr, struct zg_run_result *res);

    /* Frees the personality's state of the instance (zg_inst_destroy). */
    void (*detach)(struct zg_instance *in);

    /* The personality's state of an instance stopped at its template point,
     * as plain bytes a template can carry (*buf: malloc'ed). NULL: it keeps
     * none (zerg). Its version is state_version. 0 or a negative errno. */
    int (*save)(struct zg_instance *in, void **buf, size_t *len);
    uint32_t state_version;

    /* Installs saved state (untrusted: from a template file) into an
     * instance about to resume at the template point; checks every field
     * against the instance's memory. 0, or -EBADMSG with zg_inst_fail(). */
    int (*load)(struct zg_instance *in, const void *buf, size_t len);

    /* zg_inst_summary: one line on what the instance did. NULL: nothing. */
    int (*summary)(const struct zg_instance *in, char *buf, size_t len);

    /* Writes, as Markdown, the reference of what the personality serves (the
     * Linux system-call table: docs/linux-calls.md is its output). NULL:
     * nothing to describe. */
    void (*describe)(int fd);
};

/* The personality named `name`, or NULL if it is not built in. */
const struct zg_persona_ops *zg_persona_lookup(const char *name);

/* The personality of an ELF image: "zerg" if it carries the ZERG ABI note,
 * else "linux" if built in. NULL: not an x86-64 ELF of either kind. */
const struct zg_persona_ops *zg_persona_for_image(const void *image, size_t size);

/* The personality of an instance. */
const struct zg_persona_ops *zg_inst_persona(const struct zg_instance *in);

/* Makes the instance (created, not yet run) one of personality `name`
 * resuming with saved `state` of `version` (a template's PERSONA record).
 * 0; -ENOTSUP (personality not built in, or another state version) or the
 * load hook's error, with the reason in zg_inst_error(). */
int zg_inst_persona_load(struct zg_instance *in, const char *name, uint32_t version,
                         const void *state, size_t len);

#endif /* ZG_PERSONA_H */
