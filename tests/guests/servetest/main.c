/* Test guest for zerg serve: a small HTTP/1.0 server whose routes misbehave
 * on request, so the server's isolation and kill paths can be tested.
 *
 *   GET /put/VALUE   keeps VALUE in .bss, on the heap and on a page of its own
 *   GET /put-crash/VALUE, /put-spin/VALUE, /put-hog/VALUE
 *                    keep VALUE the same way, then crash, spin or hog memory as below
 *   GET /get         answers what the three places hold ("-" when empty), and
 *                    what its receive buffer holds beyond this request (rest=:
 *                    "-" when all zero, as in the template; else how many bytes
 *                    are not, from where, and the first of them), and where in
 *                    its whole image (data, bss: the runtime's buffers too)
 *                    a value a /put... of the tests stores is found (image=:
 *                    "-" when nowhere), and whether the x87 control word and
 *                    MXCSR it found on resuming from READY are those it set
 *                    before READY (fpu=: "-" when they are; a /put scribbles
 *                    over both, so a reset that left the FPU as a request left
 *                    it shows here)
 *   GET /crash       executes an invalid instruction
 *   GET /spin        loops forever
 *   GET /hog/MIB     writes MIB MiB of fresh heap, one byte per page
 *   GET /exit/N      exits with status N without answering
 *   GET /echo        answers with the request head it read
 * Anything else answers 200 "hello". */
#include <zerg/zerg.h>

/* Larger than a page several times over: a long request head fills pages of
 * req that only the monitor's RECV writes (the guest itself writes only a
 * zero after each read and a zero in the request line). */
#define REQ_MAX 16384

static char bss_secret[128];
static char *heap_secret;
static char page_secret[4096] __attribute__((aligned(4096)));

static void answer(int code, const char *body)
{
    char hdr[160];
    size_t len = strlen(body);
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.0 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     code, len);
    zg_send(hdr, (size_t)n);
    zg_send(body, len);
}

static const char *or_dash(const char *s)
{
    return s && s[0] ? s : "-";
}

/* Describes the non-zero bytes of buf[from..to) into out: "-" if none. */
static void describe_rest(const char *buf, size_t from, size_t to, char *out, size_t len)
{
    size_t n = 0, first = to;
    for (size_t i = from; i < to; i++)
        if (buf[i]) {
            if (!n++)
                first = i;
        }
    if (!n) {
        snprintf(out, len, "-");
        return;
    }
    char shown[49];
    size_t k = 0;
    for (size_t i = first; i < to && k < sizeof(shown) - 1; i++, k++)
        shown[k] = buf[i] > ' ' && buf[i] < 127 ? buf[i] : '.';
    shown[k] = '\0';
    snprintf(out, len, "%zu@%zu:%s", n, first, shown);
}

/* Where the first value the tests store (they begin "SECRET-", "KILLED-" or
 * "RACE-") lies in [from, to): "-" if nowhere. The prefixes are kept with
 * their letters' case flipped, so this image does not hold them itself. */
static void find_secret(const char *from, const char *to, char *out, size_t len)
{
    static const char *const flipped[] = {"secret-", "killed-", "race-"};
    for (const char *p = from; p < to; p++)
        for (int k = 0; k < 3; k++) {
            const char *f = flipped[k];
            size_t i = 0;
            while (f[i] && p + i < to &&
                   p[i] == (f[i] >= 'a' && f[i] <= 'z' ? f[i] - 'a' + 'A' : f[i]))
                i++;
            if (!f[i]) {
                snprintf(out, len, "0x%llx", (unsigned long long)(uintptr_t)p);
                return;
            }
        }
    snprintf(out, len, "-");
}

static void crash(void)
{
    __asm__ volatile("ud2");
}

static void spin(void)
{
    for (volatile uint64_t i = 0;; i++)
        ;
}

/* Writes one byte in each page of `mib` MiB of fresh heap; 0, or -1 if
 * there is no such memory. */
static int hog(size_t mib)
{
    char *p = malloc(mib << 20);
    if (!p)
        return -1;
    for (size_t off = 0; off < (mib << 20); off += 4096)
        ((volatile char *)p)[off] = 1;
    return 0;
}

/* The template's FPU control state: round toward zero, flush to zero
 * (MXCSR), 53-bit precision (x87): nothing a compiler's code sets. */
#define TMPL_MXCSR 0xff80u
#define TMPL_FCW   0x027fu

static void fpu_set(uint32_t mxcsr, uint16_t fcw)
{
    __asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(mxcsr), "m"(fcw) : "memory");
}

int main(void)
{
    heap_secret = calloc(1, 128);
    if (!heap_secret)
        return 3;
    struct zg_hc_ready ready;
    fpu_set(TMPL_MXCSR, TMPL_FCW);
    zg_ready(&ready);
    uint32_t mxcsr;
    uint16_t fcw;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fcw) : : "memory");

    static char req[REQ_MAX + 1];
    size_t got = zg_recv_head(req, REQ_MAX);
    if (got == 0)
        return 0;
    if (strncmp(req, "GET /", 5) != 0) {
        answer(400, "bad request\n");
        return 0;
    }
    char *path = req + 4;
    char *end = path;
    while (*end && *end != ' ' && *end != '\r' && *end != '\n')
        end++;
    char saved = *end;
    *end = '\0';

    static char body[REQ_MAX + 512];
    const char *then = NULL; /* /put-THEN/VALUE */
    const char *v = NULL;
    if (!strncmp(path, "/put/", 5))
        v = path + 5;
    else if (!strncmp(path, "/put-", 5) && (v = strchr(path + 5, '/')) != NULL)
        then = path + 5, v++;
    if (v) {
        fpu_set(0x1f80, 0x037f); /* the defaults: not the template's */
        snprintf(bss_secret, sizeof(bss_secret), "%s", v);
        snprintf(heap_secret, 128, "%s", v);
        snprintf(page_secret, sizeof(page_secret), "%s", v);
        if (!then)
            answer(200, "stored\n");
        else if (!strncmp(then, "crash/", 6))
            crash();
        else if (!strncmp(then, "spin/", 5))
            spin();
        else if (!strncmp(then, "hog/", 4) && hog(40) < 0)
            answer(507, "no memory\n");
        else
            answer(200, "stored, and still alive\n");
    } else if (!strcmp(path, "/get")) {
        char rest[128], image[32], fpu[48] = "-";
        describe_rest(req, got + 1, sizeof(req), rest, sizeof(rest));
        extern char _end[];
        find_secret((const char *)ZG_GUEST_LOAD_MIN, _end, image, sizeof(image));
        if (mxcsr != TMPL_MXCSR || fcw != TMPL_FCW)
            snprintf(fpu, sizeof(fpu), "mxcsr:%x,fcw:%x", mxcsr, fcw);
        snprintf(body, sizeof(body), "bss=%s heap=%s page=%s rest=%s image=%s fpu=%s\n",
                 or_dash(bss_secret), or_dash(heap_secret), or_dash(page_secret), rest, image, fpu);
        answer(200, body);
    } else if (!strcmp(path, "/crash")) {
        crash();
    } else if (!strcmp(path, "/spin")) {
        spin();
    } else if (!strncmp(path, "/hog/", 5)) {
        size_t mib = strtoul(path + 5, NULL, 10);
        if (hog(mib) < 0) {
            answer(507, "no memory\n");
            return 0;
        }
        snprintf(body, sizeof(body), "touched %zu MiB\n", mib);
        answer(200, body);
    } else if (!strncmp(path, "/exit/", 6)) {
        return (int)strtoul(path + 6, NULL, 10);
    } else if (!strcmp(path, "/echo")) {
        *end = saved;
        answer(200, req);
    } else {
        snprintf(body, sizeof(body), "hello from %016llx\n", (unsigned long long)ready.instance_id);
        answer(200, body);
    }
    return 0;
}
