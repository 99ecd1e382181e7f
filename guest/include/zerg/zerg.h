/* zerg guest runtime: hypercall wrappers and a small freestanding libc.
 *
 * A guest app links against guest/rt and defines
 *     int main(int argc, char **argv);
 * The runtime's entry stub sets up the heap, splits the monitor's command line
 * into argv (on spaces; no quoting), calls main and passes its return value to
 * zg_exit(). Everything here is single-threaded and runs at CPL3.
 *
 * What it is not: a POSIX libc. There are no files, signals or threads; the
 * only I/O is the request stream (zg_recv/zg_send) and the console.
 */
#ifndef ZERG_ZERG_H
#define ZERG_ZERG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <zerg/abi.h>

/* ---- Hypercalls (see abi.h for the exact contract of each) ------------- */

/* Writes len bytes to the monitor's console; returns bytes written or -ZG_E*. */
long zg_console(const void *buf, size_t len);
/* Nanoseconds of host CLOCK_MONOTONIC / CLOCK_REALTIME. */
uint64_t zg_time_monotonic(void);
uint64_t zg_time_wall(void);
/* Fills buf with len host random bytes (any len; split into calls). 0 or -ZG_E*. */
long zg_random(void *buf, size_t len);
/* The template point. Fills *out (may be NULL) with this instance's fresh
 * identity, entropy and time, and re-seeds the runtime's PRNG from it. It
 * also takes the request's first bytes if they have arrived (READY_RECV),
 * which zg_recv then returns without a call to the monitor. */
void zg_ready(struct zg_hc_ready *out);
/* Reads up to len request bytes; 0 at the end of the stream, or -ZG_E*. */
long zg_recv(void *buf, size_t len);
/* Reads a text protocol's request head into buf (cap bytes, plus room for a
 * terminating NUL at buf[cap]): until a blank line ("\r\n\r\n" or "\n\n"),
 * the end of the stream, or cap bytes. Returns the bytes read (0: the client
 * sent nothing); cap bytes without a blank line means the head is too long. */
size_t zg_recv_head(char *buf, size_t cap);
/* Writes all len bytes of response; returns len or -ZG_E*. */
long zg_send(const void *buf, size_t len);
/* Ends the instance with status (0..255). */
_Noreturn void zg_exit(int status);
/* Sends the last len bytes of the response and ends the instance with
 * status, in one call to the monitor (SEND_EXIT): a response built whole
 * costs no SEND. */
_Noreturn void zg_send_exit(const void *buf, size_t len, int status);
/* Issues hypercall nr with argument struct at arg (for tests of the ABI itself). */
void zg_hypercall(unsigned nr, void *arg);

/* The boot info the monitor passed at entry. */
const struct zg_boot_info *zg_boot_info(void);

/* A small PRNG (xorshift-style), seeded from entropy by zg_ready(). */
uint64_t zg_rand64(void);
void zg_srand(uint64_t seed);

/* ---- libc subset -------------------------------------------------------- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *hay, const char *needle);
unsigned long strtoul(const char *s, char **end, int base);
int atoi(const char *s);

/* C99 semantics: returns the length the full output would have; writes at
 * most size bytes including the NUL. Supports %d %i %u %x %X %p %s %c %%,
 * flags '-' and '0', width, precision (also '*'), and l/ll/z/h modifiers. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Formats to the console. */
int zg_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Heap over [boot_info.heap_start, boot_info.heap_end). 16-byte aligned.
 * malloc returns NULL when the heap is exhausted. */
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
/* Bytes of heap handed out so far (high-water mark of the bump region). */
size_t zg_heap_used(void);

/* Internal: called by the entry stub. */
void zg_rt_heap_init(uint64_t start, uint64_t end);

#endif /* ZERG_ZERG_H */
