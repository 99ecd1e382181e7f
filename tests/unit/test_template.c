/* Unit tests: the template manifest round-trips, and damage of any kind is refused. */
#include <errno.h>
#include <stdlib.h>
#include <xxhash.h>

#include "template/zg_template.h"
#include "tests/zt.h"

static struct zg_tmpl *sample(void)
{
    struct zg_tmpl *t = calloc(1, sizeof(*t));
    snprintf(t->info.name, sizeof(t->info.name), "web-1.2");
    snprintf(t->info.backend, sizeof(t->info.backend), "kvm");
    snprintf(t->info.guest, sizeof(t->info.guest), "app.elf");
    snprintf(t->info.cmdline, sizeof(t->info.cmdline), "--dataset-mib 4");
    t->info.cmdline_len = 15;
    t->info.mem_size = 4u << 20;
    t->info.ready_gpa = 0x200000;
    t->info.abi_version = ZG_ABI_VERSION;
    t->npages = 1024;
    t->keys = calloc(1024, sizeof(struct zg_pc_key));
    for (int i = 0; i < 1024; i++)
        t->keys[i].b[i % 16] = (uint8_t)i;
    t->state.regs.rip = 0x100a43;
    t->state.sregs.cr3 = 0x1000;
    t->state.fpu.xsave[24] = 0x80;
    return t;
}

ZT_TEST(round_trip)
{
    struct zg_tmpl *t = sample(), *u = NULL;
    void *buf;
    size_t len;
    char err[256];
    ZT_EQ(zg_tmpl_serialize(t, &buf, &len), 0);
    ZT_EQ(zg_tmpl_parse(buf, len, &u, err, sizeof(err)), 0);
    ZT_MEMEQ(&u->info, &t->info, sizeof(t->info));
    ZT_MEMEQ(&u->state, &t->state, sizeof(t->state));
    ZT_EQ(u->npages, 1024);
    ZT_MEMEQ(u->keys, t->keys, 1024 * sizeof(struct zg_pc_key));
    zg_tmpl_free(u);
    zg_tmpl_free(t);
    free(buf);
}

ZT_TEST(every_flipped_byte_and_truncation_is_refused)
{
    struct zg_tmpl *t = sample(), *u;
    uint8_t *buf;
    size_t len;
    char err[256];
    ZT_EQ(zg_tmpl_serialize(t, (void **)&buf, &len), 0);
    for (size_t i = 0; i < len; i += 7) {
        buf[i] ^= 0x40;
        if (zg_tmpl_parse(buf, len, &u, err, sizeof(err)) == 0)
            ZT_FAILF("byte %zu flipped, still accepted", i);
        buf[i] ^= 0x40;
    }
    for (size_t n = 0; n < len; n += 13)
        if (zg_tmpl_parse(buf, n, &u, err, sizeof(err)) == 0)
            ZT_FAILF("truncated to %zu bytes, still accepted", n);
    zg_tmpl_free(t);
    free(buf);
}

/* A Linux program's template: the PERSONA record round-trips; a minor-0
 * reader's view of it (the record type unknown) is a refusal, as is a
 * damaged length; a zerg guest's template has no such record. */
ZT_TEST(persona_record)
{
    struct zg_tmpl *t = sample(), *u = NULL;
    uint8_t state[300];
    for (size_t i = 0; i < sizeof(state); i++)
        state[i] = (uint8_t)(i * 13 + 1);
    snprintf(t->persona.name, sizeof(t->persona.name), "linux");
    t->persona.version = 1;
    t->persona.state_len = sizeof(state);
    t->pstate = malloc(sizeof(state));
    memcpy(t->pstate, state, sizeof(state));
    uint8_t *buf;
    size_t len;
    char err[256];
    ZT_EQ(zg_tmpl_serialize(t, (void **)&buf, &len), 0);
    ZT_EQ(zg_tmpl_parse(buf, len, &u, err, sizeof(err)), 0);
    ZT_STREQ(u->persona.name, "linux");
    ZT_EQ(u->persona.version, 1);
    ZT_EQ(u->persona.state_len, sizeof(state));
    ZT_MEMEQ(u->pstate, state, sizeof(state));
    zg_tmpl_free(u);
    /* The record is the last one: its header starts len - 8 - pad8(32 + 300) - 16. */
    size_t rec = len - 8 - ((32 + sizeof(state) + 7) & ~(size_t)7) - 16;
    uint32_t type;
    memcpy(&type, buf + rec, 4);
    ZT_EQ(type, ZG_TMPL_REC_PERSONA);
    /* Its state length one off: refused (the checksum is fixed up, so the
     * parser itself must notice). */
    uint64_t bad = sizeof(state) + 1;
    memcpy(buf + rec + 16 + 24, &bad, 8);
    uint64_t sum = XXH3_64bits(buf, len - 8);
    memcpy(buf + len - 8, &sum, 8);
    ZT_EQ(zg_tmpl_parse(buf, len, &u, err, sizeof(err)), -EBADMSG);
    ZT_TRUE(strstr(err, "PERSONA") != NULL);
    free(buf);
    /* Without a personality: no record (minor-0 readers read it). */
    free(t->pstate);
    t->pstate = NULL;
    memset(&t->persona, 0, sizeof(t->persona));
    ZT_EQ(zg_tmpl_serialize(t, (void **)&buf, &len), 0);
    ZT_EQ(((struct zg_tmpl_header *)buf)->record_count, 3);
    free(buf);
    zg_tmpl_free(t);
}

ZT_TEST(versions_and_names)
{
    struct zg_tmpl *t = sample(), *u;
    uint8_t *buf;
    size_t len;
    char err[256], path[256];
    ZT_EQ(zg_tmpl_serialize(t, (void **)&buf, &len), 0);
    /* A newer major version is refused as unsupported, not as damage. */
    struct zg_tmpl_header *h = (struct zg_tmpl_header *)buf;
    h->version_major = 2;
    h->version_minor = 0;
    ZT_EQ(zg_tmpl_parse(buf, len, &u, err, sizeof(err)), -ENOTSUP);
    ZT_TRUE(strstr(err, "version 2.0") != NULL);
    ZT_EQ(zg_tmpl_path("/h", "web-1.2", path, sizeof(path)), 0);
    ZT_STREQ(path, "/h/templates/web-1.2.zgt");
    ZT_EQ(zg_tmpl_path("/h", "../etc", path, sizeof(path)), -EINVAL);
    ZT_EQ(zg_tmpl_path("/h", ".hidden", path, sizeof(path)), -EINVAL);
    ZT_EQ(zg_tmpl_path("/h", "", path, sizeof(path)), -EINVAL);
    ZT_EQ(zg_tmpl_path("/h", "a/b", path, sizeof(path)), -EINVAL);
    zg_tmpl_free(t);
    free(buf);
}

int main(void)
{
    ZT_RUN(round_trip);
    ZT_RUN(every_flipped_byte_and_truncation_is_refused);
    ZT_RUN(persona_record);
    ZT_RUN(versions_and_names);
    ZT_MAIN_END;
}
