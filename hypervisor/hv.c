/* zg_hv: the table of backends built into this binary. */
#include <string.h>

#include "hypervisor/zg_hv.h"

/* A backend the Makefile did not build is simply absent: its ops symbol is
 * weak here and resolves to NULL. No #ifdef picks backends. */
extern const struct zg_hv_ops zg_hv_kvm_ops __attribute__((weak));
extern const struct zg_hv_ops zg_hv_xen_ops __attribute__((weak));

static const struct zg_hv_ops *backend(size_t i)
{
    switch (i) {
    case 0:
        return &zg_hv_kvm_ops;
    case 1:
        return &zg_hv_xen_ops;
    default:
        return NULL;
    }
}

#define NBACKENDS 2

const struct zg_hv_ops *zg_hv_lookup(const char *name)
{
    for (size_t i = 0; i < NBACKENDS; i++) {
        const struct zg_hv_ops *b = backend(i);
        if (b && strcmp(b->name, name) == 0)
            return b;
    }
    return NULL;
}

const char *const *zg_hv_names(void)
{
    static const char *names[NBACKENDS + 1];
    size_t n = 0;
    for (size_t i = 0; i < NBACKENDS; i++)
        if (backend(i))
            names[n++] = backend(i)->name;
    names[n] = NULL;
    return names;
}
