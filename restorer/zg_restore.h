/* zg_restore: template -> running instance.
 *
 * What it does
 *   Materializes a template's pages once per host into a decompressed,
 *   read-only memory image (a file in /dev/shm, shared by every process of
 *   the same user), and restores instances from it: each instance's guest
 *   memory is a private copy-on-write mapping of the image, so all instances
 *   share one physical copy of every page they do not write. The vCPU state
 *   is the captured one; the READY call the guest is stopped in is answered
 *   with restored = 1 and this instance's own id, entropy and time.
 *
 * What it does not do
 *   Capture templates (snapshotter/), serving connections (serve/).
 *
 * Usage
 *     struct zg_image *img;
 *     if (zg_image_open(home, "web", 0, &img, err, sizeof(err)) < 0) ...
 *     struct zg_inst_config cfg = zg_inst_config_default();
 *     cfg.in_fd = conn; cfg.out_fd = conn;
 *     struct zg_instance *in;
 *     if (zg_restore(img, &cfg, &in, err, sizeof(err)) == 0) { zg_inst_run(in, &res); }
 *     zg_inst_destroy(in);
 *     zg_image_close(img);
 *
 * Errors: 0 or a negative errno with a one-line message in err naming the
 * template. A template whose pages are missing or damaged in the cache is
 * refused (-EIO / -ENOENT) before any instance runs.
 *
 * Threads: an image may be shared by threads that restore from it at once.
 */
#ifndef ZG_RESTORE_H
#define ZG_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "monitor/zg_monitor.h"
#include "template/zg_template.h"

struct zg_image {
    struct zg_tmpl *tmpl; /* the manifest */
    int fd;               /* the materialized memory image, read-only */
    const uint8_t *map;   /* the image mapped shared and read-only (resets copy from it) */
    char path[512];       /* where it lives */
    int created;          /* this call materialized it (vs. found it) */
    uint64_t open_ns;     /* time zg_image_open took */
    uint64_t verify_ns;   /* of which checking a found image against the template */
    char note[640];       /* "" or what the caller should warn about: a found image
                             that did not match the template, rebuilt */
};

#define ZG_IMAGE_FRESH 0x1u /* ignore an existing image file and materialize again */

/* Loads template `name` and opens (or builds and publishes) its image.
 * 0; -ENOENT no such template; -EBADMSG a damaged manifest; -ENOTSUP a
 * manifest this zerg cannot read; -EIO pages missing or damaged in the cache
 * (or the cache unusable); other negative errnos from the host.
 * $ZERG_IMAGE_DIR overrides /dev/shm. An image file found there (another
 * process made it) is used only after every page of it has been checked
 * against the template's keys (~8 ms for 64 MiB here; once per open, never
 * per instance); one that does not match is rebuilt from the page cache and
 * img->note says so. Images are published read-only (0400). */
int zg_image_open(const char *home, const char *name, unsigned flags, struct zg_image **out,
                  char *err, size_t errlen);
void zg_image_close(struct zg_image *img);

/* Removes every image file of template `name` (all versions) of this user. */
void zg_image_unlink_all(const char *name);

/* 0 if img was captured on backend hv (NULL: kvm); else -ENOTSUP and why
 * ("template 'T' was captured on xen, not kvm (use --backend xen)"). */
int zg_image_check_backend(const struct zg_image *img, const struct zg_hv_ops *hv, char *err,
                           size_t errlen);

/* Creates an instance resuming inside READY from img, using cfg for the
 * memory-independent settings (fds, deadline, backend); cfg->mem_size and
 * cfg->image_fd are taken from the image. The template must have been
 * captured on cfg->hv's backend. With a backend that owns guest memory (Xen)
 * the image's non-zero pages are copied into the new domain instead of
 * mapped. READY is answered (restored = 1),
 * so the next zg_inst_run() runs the guest's request handling -- unless
 * cfg->flags has ZG_INST_ANSWER_LATER: then the caller answers it with
 * zg_inst_complete_ready(in, 1) when the request arrives (so the guest's
 * clock and id are those of the request, not of the preparation). */
int zg_restore(const struct zg_image *img, const struct zg_inst_config *cfg,
               struct zg_instance **out, char *err, size_t errlen);

/* Pooling: an instance restored with cfg->flags & ZG_INST_TRACK_DIRTY can,
 * after its run ended (however it ended), be put back in place to a state
 * indistinguishable from a fresh zg_restore(): written pages copied back
 * from the image, the vCPU state reloaded, READY answered again with a new
 * id, fresh entropy and time (or, with ZG_INST_ANSWER_LATER, left for the
 * caller). *copied gets the pages copied (may be NULL). */
int zg_restore_reset(const struct zg_image *img, struct zg_instance *in, uint64_t *copied,
                     char *err, size_t errlen);

#endif /* ZG_RESTORE_H */
