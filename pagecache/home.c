/* zerg's home directory: $ZERG_HOME or the per-user / system default. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagecache/zg_pagecache.h"

static int put(char *buf, size_t len, const char *a, const char *b)
{
    int n = snprintf(buf, len, "%s%s", a, b);
    if (n < 0 || (size_t)n >= len)
        return -ENAMETOOLONG;
    return 0;
}

int zg_home_dir(char *buf, size_t len)
{
    const char *e = getenv("ZERG_HOME");
    if (e && *e)
        return put(buf, len, e, "");
    if (geteuid() == 0)
        return put(buf, len, "/var/lib/zerg", "");
    e = getenv("XDG_DATA_HOME");
    if (e && e[0] == '/')
        return put(buf, len, e, "/zerg");
    e = getenv("HOME");
    if (!e || !*e) {
        struct passwd *pw = getpwuid(geteuid());
        e = pw ? pw->pw_dir : NULL;
    }
    if (!e || !*e)
        return -ENOENT;
    return put(buf, len, e, "/.local/share/zerg");
}

int zg_pc_default_dir(char *buf, size_t len)
{
    char home[4096];
    int rc = zg_home_dir(home, sizeof(home));
    if (rc < 0)
        return rc;
    return put(buf, len, home, "/cache");
}
