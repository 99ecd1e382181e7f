/* zergling: the reference app. Warms up a dataset and index, calls READY,
 * then answers one HTTP/1.1 request per instance and exits.
 *
 * Command line: [--dataset-mib N] (default 32; 0 skips the warm-up).
 * The warm-up stands in for a language runtime initialising: it builds N MiB
 * of records from a fixed seed, a hash index over them and a sorted key
 * array, and computes a digest. All of it is identical in every instance, so
 * a template captures it once; per-request state comes after READY. */
#include <zerg/zerg.h>

#define NAME_LEN 48
#define REQ_MAX  8192

struct record {
    uint64_t key;
    uint64_t value;
    char name[NAME_LEN];
};
_Static_assert(sizeof(struct record) == 64, "record size");

static struct record *records;
static uint32_t nrecords;
static uint32_t *index_slots; /* open addressing: record number + 1, 0 = empty */
static uint32_t index_mask;
static uint64_t *sorted_keys;
static uint64_t digest;
static uint64_t init_ns;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static const char *const syllables[] = {"zer", "gl", "ing", "hy", "dra",  "lisk", "over", "mind",
                                        "bro", "od", "spa", "wn", "muta", "lisk", "ult",  "ra"};

/* Radix sort of 64-bit keys, 16 bits per pass, using tmp as scratch. */
static void radix_sort(uint64_t *a, uint64_t *tmp, uint32_t n)
{
    static uint32_t count[65536];
    for (int shift = 0; shift < 64; shift += 16) {
        memset(count, 0, sizeof(count));
        for (uint32_t i = 0; i < n; i++)
            count[(a[i] >> shift) & 0xffff]++;
        uint32_t sum = 0;
        for (uint32_t b = 0; b < 65536; b++) {
            uint32_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++)
            tmp[count[(a[i] >> shift) & 0xffff]++] = a[i];
        uint64_t *t = a;
        a = tmp;
        tmp = t;
    }
    /* Four passes: the result is back in the original array. */
}

static int warm_up(uint32_t mib)
{
    uint64_t t0 = zg_time_monotonic();
    nrecords = (uint32_t)(((uint64_t)mib << 20) / sizeof(struct record));
    if (nrecords == 0)
        return 0;
    records = malloc((size_t)nrecords * sizeof(struct record));
    uint32_t slots = 1;
    while (slots < nrecords * 2u)
        slots <<= 1;
    index_mask = slots - 1;
    index_slots = calloc(slots, sizeof(uint32_t));
    sorted_keys = malloc((size_t)nrecords * sizeof(uint64_t));
    uint64_t *scratch = malloc((size_t)nrecords * sizeof(uint64_t));
    if (!records || !index_slots || !sorted_keys || !scratch) {
        zg_printf("zergling: out of memory for a %u MiB dataset\n", mib);
        return -1;
    }
    for (uint32_t i = 0; i < nrecords; i++) {
        struct record *r = &records[i];
        r->key = mix64(i + 1);
        r->value = mix64(r->key ^ 0x5eed);
        size_t len = 0;
        uint64_t s = r->value;
        while (len + 5 < NAME_LEN - 1 && s) {
            const char *syl = syllables[s & 15];
            size_t sl = strlen(syl);
            memcpy(r->name + len, syl, sl);
            len += sl;
            s >>= 4;
            if ((s & 3) == 0)
                break;
        }
        memset(r->name + len, 0, NAME_LEN - len);
        uint32_t h = (uint32_t)r->key & index_mask;
        while (index_slots[h])
            h = (h + 1) & index_mask;
        index_slots[h] = i + 1;
        sorted_keys[i] = r->key;
    }
    radix_sort(sorted_keys, scratch, nrecords);
    free(scratch);
    for (uint32_t i = 0; i < nrecords; i++)
        digest = mix64(digest ^ sorted_keys[i] ^ records[i].value);
    init_ns = zg_time_monotonic() - t0;
    return 0;
}

static uint64_t rdtsc_now(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static const struct record *lookup(uint64_t key)
{
    if (!nrecords)
        return NULL;
    uint32_t h = (uint32_t)key & index_mask;
    while (index_slots[h]) {
        const struct record *r = &records[index_slots[h] - 1];
        if (r->key == key)
            return r;
        h = (h + 1) & index_mask;
    }
    return NULL;
}

/* Number of sorted keys below `key` (binary search). */
static uint32_t rank_of(uint64_t key)
{
    uint32_t lo = 0, hi = nrecords;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (sorted_keys[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The whole response, head and body, goes out with the end of the instance:
 * one call to the monitor (zg_send_exit). */
_Noreturn static void respond(int code, const char *reason, const char *body, size_t body_len,
                              int head)
{
    static char out[256 + 2048];
    int n = snprintf(out, 256,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\nServer: zergling\r\n\r\n",
                     code, reason, body_len);
    size_t len = n < 0 ? 0 : (size_t)n < 256 ? (size_t)n : 255;
    if (!head && body_len) {
        if (body_len > sizeof(out) - len)
            body_len = sizeof(out) - len;
        memcpy(out + len, body, body_len);
        len += body_len;
    }
    zg_send_exit(out, len, 0);
}

_Noreturn static void error_page(int code, const char *reason)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "%d %s\n", code, reason);
    respond(code, reason, body, (size_t)n, 0);
}

int main(int argc, char **argv)
{
    uint32_t mib = 32;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dataset-mib") && i + 1 < argc)
            mib = (uint32_t)strtoul(argv[++i], NULL, 10);
    }
    if (mib > 2048) {
        zg_printf("zergling: --dataset-mib %u is too large\n", mib);
        return 2;
    }
    if (warm_up(mib) < 0)
        return 3;

    struct zg_hc_ready ready;
    zg_ready(&ready);
    /* The time spent on the request, in TSC ticks: reading the TSC costs no
     * call to the monitor (a TIME call would be an exit of its own). */
    uint64_t t_ready = rdtsc_now();

    /* Read the request head: up to the blank line, the end of the stream, or REQ_MAX. */
    static char req[REQ_MAX + 1];
    size_t got = zg_recv_head(req, REQ_MAX);
    if (got == 0)
        return 0; /* the client went away without a request */
    if (got == REQ_MAX && !strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) {
        error_page(431, "Request Header Fields Too Large");
        return 0;
    }

    /* Request line: METHOD SP PATH SP VERSION */
    char *sp1 = strchr(req, ' ');
    char *eol = strchr(req, '\n');
    if (!sp1 || !eol || sp1 > eol) {
        error_page(400, "Bad Request");
        return 0;
    }
    *sp1 = '\0';
    char *path = sp1 + 1;
    char *sp2 = strchr(path, ' ');
    if (!sp2 || sp2 > eol || path[0] != '/') {
        error_page(400, "Bad Request");
        return 0;
    }
    *sp2 = '\0';
    char *version = sp2 + 1;
    if (strncmp(version, "HTTP/1.", 7) != 0) {
        error_page(400, "Bad Request");
        return 0;
    }
    int head = !strcmp(req, "HEAD");
    if (!head && strcmp(req, "GET") != 0) {
        error_page(405, "Method Not Allowed");
        return 0;
    }

    /* The page: who answered, and a value computed from the warm state. */
    uint64_t ph = 14695981039346656037ull;
    for (const char *p = path; *p; p++)
        ph = (ph ^ (uint8_t)*p) * 1099511628211ull;
    const struct record *rec = nrecords ? lookup(records[ph % nrecords].key) : NULL;
    uint64_t lucky = zg_rand64();
    static char body[2048];
    int n = snprintf(
        body, sizeof(body),
        "Hello from zergling!\n"
        "instance: %016llx\n"
        "restored: %s\n"
        "path: %.512s\n"
        "dataset: %u records (%u MiB), digest %016llx, built in %llu ms\n"
        "lookup: key %016llx -> value %016llx, name %s, rank %u\n"
        "random: %016llx\n"
        "served: %llu TSC ticks after ready\n",
        (unsigned long long)ready.instance_id, ready.restored ? "yes" : "no", path, nrecords, mib,
        (unsigned long long)digest, (unsigned long long)(init_ns / 1000000),
        (unsigned long long)(rec ? rec->key : 0), (unsigned long long)(rec ? rec->value : 0),
        rec ? rec->name : "-", rec ? rank_of(rec->key) : 0, (unsigned long long)lucky,
        (unsigned long long)(rdtsc_now() - t_ready));
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(body))
        n = (int)sizeof(body) - 1;
    respond(200, "OK", body, (size_t)n, head);
    return 0;
}
