/* The local side of the remote tier: a template's manifest and the cache. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/zg_monitor.h"
#include "remote/rm_int.h"
#include "template/zg_template.h"

int rm_manifest_read(const char *home, const char *name, uint8_t **buf, size_t *len,
                     struct zg_tmpl **t, char *err, size_t errlen)
{
    char path[4096];
    void *b = NULL;
    int rc = zg_tmpl_path(home, name, path, sizeof(path));
    if (rc < 0)
        return zg_errf(err, errlen, -EINVAL,
                       "'%s' is not a valid template name (1-63 of A-Z a-z 0-9 . _ -, not "
                       "starting with '.')",
                       name);
    if ((rc = zg_file_read(path, RM_MANIFEST_MAX, &b, len)) < 0)
        return zg_errf(err, errlen, rc, rc == -ENOENT ? "no template '%s' (%s)" : "%s: %s", name,
                       rc == -ENOENT ? path : strerror(-rc));
    if ((rc = zg_tmpl_parse(b, *len, t, err, errlen)) < 0) {
        free(b);
        return rc;
    }
    *buf = b;
    return 0;
}

int rm_cache_open(const char *home, unsigned flags, struct zg_pc **pc, char *err, size_t errlen)
{
    char dir[4096];
    int n = snprintf(dir, sizeof(dir), "%s/cache", home);
    if (n < 0 || (size_t)n >= sizeof(dir))
        return zg_errf(err, errlen, -ENAMETOOLONG, "home directory path too long");
    int rc = zg_pc_open(dir, flags, pc);
    if (rc < 0)
        return zg_errf(err, errlen, rc, "page cache %s: %s", dir, zg_pc_last_error());
    return 0;
}
