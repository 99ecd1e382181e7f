/* The remote tier's transport: libcurl, plain HTTP or S3 (AWS SigV4), one path. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remote/rm_int.h"

#define CONNECT_TIMEOUT_S 10 /* or the floor, when shorter */
#define BACKSTOP_S        5  /* libcurl's own timeout: the deadline and this */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_init_once(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

int zg_remote_init(void)
{
    pthread_once(&curl_once, curl_init_once);
    return curl_ok ? 0 : -ENOMEM;
}

double rm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int rm_errf(struct rm *r, int rc, const char *fmt, ...)
{
    if (r->err && r->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

static const char *envs(const char *a, const char *b)
{
    const char *v = getenv(a);
    if ((!v || !*v) && b)
        v = getenv(b);
    return v && *v ? v : NULL;
}

/* ---- SHA-256 (FIPS 180-4), for S3's x-amz-content-sha256 ----------------------- */

#define S3_SHA256_HDR   "x-amz-content-sha256: "
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t st[8], const uint8_t *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++)
        w[i] = w[i - 16] + (ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
               w[i - 7] + (ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10));
    memcpy(v, st, sizeof(v));
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ROR32(v[4], 6) ^ ROR32(v[4], 11) ^ ROR32(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_k[i] + w[i];
        uint32_t t2 = (ROR32(v[0], 2) ^ ROR32(v[0], 13) ^ ROR32(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof(v[0]));
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        st[i] += v[i];
}

/* hex: 64 lowercase hex digits and a NUL. */
static void sha256_hex(const void *data, size_t len, char *hex)
{
    uint32_t st[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const uint8_t *p = data;
    size_t n = len;
    for (; n >= 64; n -= 64, p += 64)
        sha256_block(st, p);
    uint8_t tail[128] = {0};
    if (n)
        memcpy(tail, p, n);
    tail[n] = 0x80;
    size_t tl = n < 56 ? 64 : 128;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (uint8_t)(((uint64_t)len * 8) >> (8 * i));
    for (size_t o = 0; o < tl; o += 64)
        sha256_block(st, tail + o);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 8 * i, 9, "%08x", (unsigned)st[i]);
}

/* ---- deadlines ------------------------------------------------------------------ */

int zg_remote_parse_timeout(const char *s, double *floor_s, double *ceiling_s)
{
    char *e;
    double f, c = 0;
    errno = 0;
    f = strtod(s, &e);
    if (e == s || errno || !isfinite(f) || f <= 0 || f > 1e6)
        return -EINVAL;
    if (*e == ':') {
        const char *cs = e + 1;
        c = strtod(cs, &e);
        if (e == cs || errno || !isfinite(c) || c < f || c > 1e6)
            return -EINVAL;
    }
    if (*e)
        return -EINVAL;
    *floor_s = f;
    *ceiling_s = c;
    return 0;
}

int zg_remote_parse_rate(const char *s, uint64_t *rate)
{
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (e == s || errno || *s == '-')
        return -EINVAL;
    unsigned shift = 0;
    if (*e == 'k' || *e == 'K')
        shift = 10, e++;
    else if (*e == 'm' || *e == 'M')
        shift = 20, e++;
    if (*e || v == 0 || v > (1ull << 40) >> shift)
        return -EINVAL;
    *rate = (uint64_t)v << shift;
    return 0;
}

/* The floor, ceiling and minimum rate: o's, else the environment's, else
 * the defaults (zg_remote.h, "Deadlines"). */
static int limits(struct rm *r, const struct zg_remote_opts *o)
{
    double f = ZG_REMOTE_TIMEOUT_FLOOR, c = 0;
    uint64_t rate = ZG_REMOTE_MIN_RATE;
    const char *v = envs("ZERG_REMOTE_TIMEOUT", NULL);
    if (v && zg_remote_parse_timeout(v, &f, &c) < 0)
        return rm_errf(r, -EINVAL,
                       "$ZERG_REMOTE_TIMEOUT: '%s' is not FLOOR[:CEILING] in seconds "
                       "(0 < FLOOR <= CEILING)",
                       v);
    if ((v = envs("ZERG_REMOTE_MIN_RATE", NULL)) && zg_remote_parse_rate(v, &rate) < 0)
        return rm_errf(r, -EINVAL,
                       "$ZERG_REMOTE_MIN_RATE: '%s' is not a rate of 1 byte/s or more "
                       "(BYTES, BYTESk, BYTESm)",
                       v);
    if (o->timeout_floor > 0) {
        f = o->timeout_floor;
        c = o->timeout_ceiling;
    }
    if (o->min_rate)
        rate = o->min_rate;
    if (c == 0)
        c = f > ZG_REMOTE_TIMEOUT_CEILING ? f : ZG_REMOTE_TIMEOUT_CEILING;
    if (c < f)
        return rm_errf(r, -EINVAL, "the timeout ceiling %.1f s is below its floor %.1f s", c, f);
    r->floor = f;
    r->ceiling = c;
    r->min_rate = rate;
    return 0;
}

int rm_open(struct rm *r, const struct zg_remote_opts *o, char *err, size_t errlen)
{
    const char *url = o->url;
    memset(r, 0, sizeof(*r));
    r->err = err;
    r->errlen = errlen;
    if (limits(r, o) < 0)
        return -EINVAL;
    if (zg_remote_init() < 0)
        return rm_errf(r, -ENOMEM, "cannot initialise libcurl");
    if (!url || !*url)
        return rm_errf(r, -EINVAL, "no remote URL given");
    size_t ul = strlen(url);
    while (ul > 1 && url[ul - 1] == '/')
        ul--;
    int s3 = 0;
    if (!strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) {
        r->base = dupf("%.*s/" RM_PREFIX, (int)ul, url);
    } else if (!strncmp(url, "s3+http://", 10) || !strncmp(url, "s3+https://", 11)) {
        r->base = dupf("%.*s/" RM_PREFIX, (int)(ul - 3), url + 3);
        s3 = 1;
    } else if (!strncmp(url, "s3://", 5) && ul > 5) {
        const char *ep = envs("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
        const char *region = envs("AWS_REGION", "AWS_DEFAULT_REGION");
        size_t el = ep ? strlen(ep) : 0;
        while (el > 1 && ep[el - 1] == '/')
            el--;
        if (ep)
            r->base = dupf("%.*s/%.*s/" RM_PREFIX, (int)el, ep, (int)(ul - 5), url + 5);
        else
            r->base = dupf("https://s3.%s.amazonaws.com/%.*s/" RM_PREFIX,
                           region ? region : "us-east-1", (int)(ul - 5), url + 5);
        s3 = 1;
    } else {
        return rm_errf(r, -EINVAL,
                       "'%s' is not a remote URL (http://, https://, s3://BUCKET/PREFIX, "
                       "s3+http(s)://ENDPOINT/BUCKET/PREFIX)",
                       url);
    }
    if (!r->base)
        return rm_errf(r, -ENOMEM, "out of memory");
    /* No 100-continue round trip: "Expect:" for plain HTTP; for S3 no wait
     * instead (setup()), as libcurl before 8.3 signs that empty header but
     * does not send it, and the store refuses the signature. */
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    if (h && !s3)
        h = curl_slist_append(h, "Expect:");
    if (s3) {
        const char *id = envs("AWS_ACCESS_KEY_ID", NULL);
        const char *secret = envs("AWS_SECRET_ACCESS_KEY", NULL);
        const char *token = envs("AWS_SESSION_TOKEN", NULL);
        const char *region = envs("AWS_REGION", "AWS_DEFAULT_REGION");
        if (!id || !secret) {
            curl_slist_free_all(h);
            rm_close(r);
            return rm_errf(r, -EINVAL,
                           "%s: S3 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                           "environment",
                           url);
        }
        snprintf(r->sigv4, sizeof(r->sigv4), "aws:amz:%s:s3", region ? region : "us-east-1");
        r->userpwd = dupf("%s:%s", id, secret);
        if (token && h) {
            char *t = dupf("x-amz-security-token: %s", token);
            h = t ? curl_slist_append(h, t) : NULL;
            free(t);
        }
        /* S3 wants the payload's hash on every request; libcurl adds it
         * only from 8.0 on. GETs carry none; rm_put sends its body's. */
        if (h)
            h = curl_slist_append(h, S3_SHA256_HDR S3_EMPTY_SHA256);
    }
    r->hdrs = h;
    if (!h || (s3 && !r->userpwd)) {
        rm_close(r);
        return rm_errf(r, -ENOMEM, "out of memory");
    }
    return 0;
}

void rm_close(struct rm *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    free(r->base);
    free(r->userpwd);
    r->easy = NULL;
    r->hdrs = NULL;
    r->base = r->userpwd = NULL;
}

/* ---- one request --------------------------------------------------------------- */

enum { RM_IN_TIME, RM_TOO_SLOW, RM_PAST_DEADLINE };

struct body {
    uint8_t *buf;
    size_t len, cap;
    uint64_t max;  /* whole GETs: refuse more */
    int fixed;     /* ranged GETs: buf holds exactly cap bytes, never grown */
    int too_large; /* the server sent (or announced) more than allowed */
    /* The transfer's deadline (setup()), checked by on_progress. */
    double t0, deadline, floor; /* s */
    uint64_t expect, rate;      /* bytes it may move, bytes/s past the floor */
    uint64_t moved;             /* bytes moved (sent and received) so far */
    double elapsed;
    int late; /* RM_TOO_SLOW or RM_PAST_DEADLINE: stopped */
};

/* About once a second and as data moves: a transfer past its deadline,
 * or past the floor with fewer than (elapsed - floor) * rate bytes moved,
 * stops. A stall and a trickle fail soon after the floor, whatever length
 * the server announced; a transfer at the minimum rate ends in time. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct body *b = arg;
    (void)dltotal;
    (void)ultotal;
    b->elapsed = rm_now() - b->t0;
    b->moved = (uint64_t)(dlnow > 0 ? dlnow : 0) + (uint64_t)(ulnow > 0 ? ulnow : 0);
    if (b->elapsed > b->deadline)
        b->late = RM_PAST_DEADLINE;
    else if (b->elapsed > b->floor && (double)b->moved < (b->elapsed - b->floor) * (double)b->rate)
        b->late = RM_TOO_SLOW;
    return b->late != RM_IN_TIME;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    if (b->fixed) {
        if (n > b->cap - b->len) {
            b->too_large = 1;
            return 0;
        }
    } else {
        if (b->len + n > b->max) {
            b->too_large = 1;
            return 0;
        }
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : 65536;
            while (cap < b->len + n)
                cap *= 2;
            if (cap > b->max) /* never more than the object may have */
                cap = (size_t)b->max;
            uint8_t *nb = realloc(b->buf, cap);
            if (!nb)
                return 0;
            b->buf = nb;
            b->cap = cap;
        }
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return n;
}

/* expect: the bytes this transfer may move; its deadline follows from it. */
static CURL *setup(struct rm *r, CURL *c, const char *url, struct body *b, char *errbuf,
                   uint64_t expect)
{
    double d = r->floor + (double)expect / (double)r->min_rate;
    b->t0 = rm_now();
    b->floor = r->floor;
    b->rate = r->min_rate;
    b->expect = expect;
    b->deadline = d < r->ceiling ? d : r->ceiling;
    b->moved = 0;
    b->elapsed = 0;
    b->late = RM_IN_TIME;
    double conn = r->floor < CONNECT_TIMEOUT_S ? r->floor : CONNECT_TIMEOUT_S;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)r->hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(conn * 1000));
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)((b->deadline + BACKSTOP_S) * 1000));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    if (r->sigv4[0]) {
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, r->sigv4);
        curl_easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
        curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L); /* the body at once */
    }
    errbuf[0] = '\0';
    return c;
}

static CURL *serial(struct rm *r)
{
    if (!r->easy)
        r->easy = curl_easy_init();
    else
        curl_easy_reset(r->easy);
    return r->easy;
}

/* The outcome of a finished transfer: 0, -ENOENT (404 when notfound_ok) or -ECOMM. */
static int outcome(struct rm *r, CURL *c, CURLcode cc, const char *what, const char *url,
                   const char *errbuf, const struct body *b, long want, int notfound_ok)
{
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        if (b && b->late == RM_PAST_DEADLINE)
            return rm_errf(r, -ETIMEDOUT,
                           "%s %s: not done by its deadline of %.1f s (%.0f s + %llu bytes at "
                           "%llu bytes/s, at most %.0f s): %llu bytes moved in %.1f s",
                           what, url, b->deadline, b->floor, (unsigned long long)b->expect,
                           (unsigned long long)b->rate, r->ceiling, (unsigned long long)b->moved,
                           b->elapsed);
        if (b && b->late == RM_TOO_SLOW)
            return rm_errf(r, -ETIMEDOUT,
                           "%s %s: too slow: %llu bytes moved in %.1f s, below the minimum "
                           "rate of %llu bytes/s after the first %.0f s (deadline %.1f s for up "
                           "to %llu bytes)",
                           what, url, (unsigned long long)b->moved, b->elapsed,
                           (unsigned long long)b->rate, b->floor, b->deadline,
                           (unsigned long long)b->expect);
        int too_large = b && (b->too_large || cc == CURLE_FILESIZE_EXCEEDED);
        if (too_large && b->fixed)
            return rm_errf(r, -EBADMSG,
                           "%s %s: the server sent more bytes than the range asked for (HTTP "
                           "%ld: %s)",
                           what, url, status,
                           status == 200 ? "it ignores ranges"
                                         : "the object is not what its map says");
        if (too_large)
            return rm_errf(r, -EFBIG,
                           "%s %s: the server sent or announced more than the %llu bytes such "
                           "an object may have (cut after %zu)",
                           what, url, (unsigned long long)b->max, b->len);
        return rm_errf(r, cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECOMM, "%s %s: %s", what,
                       url, errbuf && errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
    if (status == 404 && notfound_ok)
        return -ENOENT;
    if (status != want && !(want == 200 && (status == 201 || status == 204)))
        return rm_errf(r, -ECOMM, "%s %s: the server answered HTTP %ld", what, url, status);
    return 0;
}

int rm_get(struct rm *r, const char *obj, uint64_t max, uint8_t **buf, size_t *len)
{
    char errbuf[CURL_ERROR_SIZE];
    char *url = dupf("%s/%s", r->base, obj);
    CURL *c = serial(r);
    if (!url || !c) {
        free(url);
        return rm_errf(r, -ENOMEM, "out of memory");
    }
    struct body b = {.max = max};
    setup(r, c, url, &b, errbuf, max);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max); /* a longer Content-Length */
    CURLcode cc = curl_easy_perform(c);
    r->requests++;
    int rc = outcome(r, c, cc, "GET", url, errbuf, &b, 200, 1);
    if (rc == -ENOENT)
        rm_errf(r, rc, "GET %s: not found", url);
    free(url);
    if (rc < 0) {
        free(b.buf);
        return rc;
    }
    r->bytes += b.len;
    if (!b.buf && !(b.buf = malloc(1)))
        return rm_errf(r, -ENOMEM, "out of memory");
    *buf = b.buf;
    *len = b.len;
    return 0;
}

int rm_put(struct rm *r, const char *obj, const void *data, size_t len)
{
    char errbuf[CURL_ERROR_SIZE];
    char *url = dupf("%s/%s", r->base, obj);
    CURL *c = serial(r);
    if (!url || !c) {
        free(url);
        return rm_errf(r, -ENOMEM, "out of memory");
    }
    /* S3: the headers with this body's hash in place of the empty one's. */
    struct curl_slist *ph = NULL;
    if (r->sigv4[0]) {
        char sha[sizeof(S3_SHA256_HDR) + 64] = S3_SHA256_HDR;
        sha256_hex(data, len, sha + strlen(S3_SHA256_HDR));
        int ok = 1;
        for (const struct curl_slist *l = r->hdrs; l && ok; l = l->next) {
            const char *hv = strncmp(l->data, S3_SHA256_HDR, strlen(S3_SHA256_HDR)) ? l->data : sha;
            struct curl_slist *t = curl_slist_append(ph, hv);
            ok = t != NULL;
            ph = t ? t : ph;
        }
        if (!ok) {
            curl_slist_free_all(ph);
            free(url);
            return rm_errf(r, -ENOMEM, "out of memory");
        }
    }
    struct body b = {.max = 1 << 20}; /* the server's answer, ignored */
    setup(r, c, url, &b, errbuf, len);
    if (ph)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, ph);
    /* A PUT whose body SigV4 can hash: libcurl signs POSTFIELDS, not an upload. */
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, len ? data : "");
    CURLcode cc = curl_easy_perform(c);
    r->requests++;
    int rc = outcome(r, c, cc, "PUT", url, errbuf, &b, 200, 0);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)r->hdrs); /* ph is freed */
    curl_slist_free_all(ph);
    free(b.buf);
    free(url);
    if (rc == 0)
        r->bytes += len;
    return rc;
}

/* ---- ranged GETs, several in flight ------------------------------------------------ */

struct xfer {
    CURL *c;
    size_t idx; /* the range, or SIZE_MAX when idle */
    struct body b;
    size_t alloc; /* bytes at b.buf */
    char url[1024];
    char range[64];
    char errbuf[CURL_ERROR_SIZE];
};

static int start_range(struct rm *r, CURLM *m, struct xfer *x, const struct rm_range *rg, size_t i)
{
    int n = snprintf(x->url, sizeof(x->url), "%s/%s", r->base, rg->obj);
    if (n < 0 || (size_t)n >= sizeof(x->url))
        return rm_errf(r, -EINVAL, "object URL too long: %s/%s", r->base, rg->obj);
    snprintf(x->range, sizeof(x->range), "%llu-%llu", (unsigned long long)rg->off,
             (unsigned long long)(rg->off + rg->len - 1));
    curl_easy_reset(x->c);
    x->b.len = 0;
    x->b.fixed = 1;
    x->b.too_large = 0;
    if (x->alloc < rg->len) {
        free(x->b.buf);
        x->b.buf = malloc(rg->len);
        x->alloc = x->b.buf ? rg->len : 0;
        if (!x->b.buf)
            return rm_errf(r, -ENOMEM, "out of memory");
    }
    x->b.cap = rg->len; /* exactly this range, never more */
    setup(r, x->c, x->url, &x->b, x->errbuf, rg->len);
    curl_easy_setopt(x->c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rg->len);
    curl_easy_setopt(x->c, CURLOPT_RANGE, x->range);
    curl_easy_setopt(x->c, CURLOPT_PRIVATE, x);
    x->idx = i;
    if (curl_multi_add_handle(m, x->c) != CURLM_OK)
        return rm_errf(r, -ENOMEM, "cannot start a transfer");
    r->requests++;
    return 0;
}

int rm_get_ranges(struct rm *r, const struct rm_range *rg, size_t n, unsigned jobs, rm_range_fn fn,
                  void *arg)
{
    if (n == 0)
        return 0;
    if (jobs == 0)
        jobs = ZG_REMOTE_JOBS;
    if (jobs > n)
        jobs = (unsigned)n;
    CURLM *m = curl_multi_init();
    struct xfer *xs = calloc(jobs, sizeof(*xs));
    int rc = 0;
    if (!m || !xs) {
        rc = rm_errf(r, -ENOMEM, "out of memory");
        goto out;
    }
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)jobs);
    size_t next = 0, running = 0;
    for (unsigned j = 0; j < jobs; j++) {
        xs[j].idx = SIZE_MAX;
        if (!(xs[j].c = curl_easy_init())) {
            rc = rm_errf(r, -ENOMEM, "out of memory");
            goto out;
        }
    }
    for (unsigned j = 0; j < jobs && next < n; j++, next++, running++)
        if ((rc = start_range(r, m, &xs[j], &rg[next], next)) < 0)
            goto out;
    while (running) {
        int still = 0;
        if (curl_multi_perform(m, &still) != CURLM_OK) {
            rc = rm_errf(r, -ECOMM, "transfer engine failed");
            goto out;
        }
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct xfer *x = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode cc = msg->data.result;
            curl_multi_remove_handle(m, x->c);
            running--;
            const struct rm_range *g = &rg[x->idx];
            rc = outcome(r, x->c, cc, "GET", x->url, x->errbuf, &x->b, 206, 1);
            if (rc == -ENOENT)
                rc = rm_errf(r, -EBADMSG, "GET %s: not found, but a map names it", x->url);
            else if (rc == -ECOMM) {
                long st = 0;
                curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &st);
                if (st == 200 || st == 416)
                    rc = rm_errf(r, -EBADMSG,
                                 "GET %s bytes %s: the server answered HTTP %ld, not the "
                                 "range (the object is shorter than its map says, or the server "
                                 "ignores ranges)",
                                 x->url, x->range, st);
            }
            if (rc == 0 && x->b.len != g->len)
                rc = rm_errf(r, -EBADMSG, "GET %s bytes %s: %zu bytes arrived, not %llu", x->url,
                             x->range, x->b.len, (unsigned long long)g->len);
            if (rc == 0) {
                r->bytes += x->b.len;
                rc = fn(arg, x->idx, x->b.buf);
            }
            if (rc != 0)
                goto out;
            x->idx = SIZE_MAX;
            if (next < n) {
                if ((rc = start_range(r, m, x, &rg[next], next)) < 0)
                    goto out;
                next++;
                running++;
            }
        }
        if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK) {
            rc = rm_errf(r, -ECOMM, "transfer engine failed");
            goto out;
        }
    }
out:
    for (unsigned j = 0; xs && j < jobs; j++) {
        if (xs[j].c) {
            if (xs[j].idx != SIZE_MAX)
                curl_multi_remove_handle(m, xs[j].c);
            curl_easy_cleanup(xs[j].c);
        }
        free(xs[j].b.buf);
    }
    free(xs);
    if (m)
        curl_multi_cleanup(m);
    return rc;
}
