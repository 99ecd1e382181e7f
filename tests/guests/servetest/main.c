/* Test guest for zerg serve: a small HTTP/1.0 server whose routes misbehave
 * on request, so the server's isolation and kill paths can be tested.
 *
 *   GET /put/VALUE   keeps VALUE in .bss, on the heap and on a page of its own
 *   GET /get         answers what the three places hold ("-" when empty)
 *   GET /crash       executes an invalid instruction
 *   GET /spin        loops forever
 *   GET /hog/MIB     writes MIB MiB of fresh heap, one byte per page
 *   GET /exit/N      exits with status N without answering
 *   GET /echo        answers with the request head it read
 * Anything else answers 200 "hello". */
#include <zerg/zerg.h>

#define REQ_MAX 4096

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

int main(void)
{
    heap_secret = calloc(1, 128);
    if (!heap_secret)
        return 3;
    struct zg_hc_ready ready;
    zg_ready(&ready);

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
    if (!strncmp(path, "/put/", 5)) {
        const char *v = path + 5;
        snprintf(bss_secret, sizeof(bss_secret), "%s", v);
        snprintf(heap_secret, 128, "%s", v);
        snprintf(page_secret, sizeof(page_secret), "%s", v);
        answer(200, "stored\n");
    } else if (!strcmp(path, "/get")) {
        snprintf(body, sizeof(body), "bss=%s heap=%s page=%s\n", or_dash(bss_secret),
                 or_dash(heap_secret), or_dash(page_secret));
        answer(200, body);
    } else if (!strcmp(path, "/crash")) {
        __asm__ volatile("ud2");
    } else if (!strcmp(path, "/spin")) {
        for (volatile uint64_t i = 0;; i++)
            ;
    } else if (!strncmp(path, "/hog/", 5)) {
        size_t mib = strtoul(path + 5, NULL, 10);
        char *p = malloc(mib << 20);
        if (!p) {
            answer(507, "no memory\n");
            return 0;
        }
        for (size_t off = 0; off < (mib << 20); off += 4096)
            ((volatile char *)p)[off] = 1;
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
