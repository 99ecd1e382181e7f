/* Seed check mode of the fuzz targets: with ZG_FUZZ_STRICT set in the
 * environment, an input the parser refuses aborts the run with the reason.
 * tests/run.sh runs each target in this mode over the seeds the build made
 * (build/fuzz-seeds/), so a stale seed -- one that stops at a version check
 * and never reaches the parser behind it -- fails the fuzz tier. */
#ifndef ZG_FUZZ_STRICT_H
#define ZG_FUZZ_STRICT_H

#include <stdio.h>
#include <stdlib.h>

static inline void zg_fuzz_refused(const char *target, const char *why)
{
    static int strict = -1;
    if (strict < 0)
        strict = getenv("ZG_FUZZ_STRICT") != NULL;
    if (strict) {
        fprintf(stderr, "%s: seed refused: %s\n", target, why);
        abort();
    }
}

#endif /* ZG_FUZZ_STRICT_H */
