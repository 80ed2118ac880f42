/* mem.h -- allocation that cannot fail, and the error-buffer convention.
 *
 * faultline does not try to run on after malloc fails: a daemon that cannot allocate a few
 * hundred bytes cannot proxy, record or answer its admin API either, and a half-built object is
 * worse than a clear death. So allocation goes through these wrappers, which on failure write
 * one line to stderr ("faultline: out of memory (N bytes)") and abort(). Call sites never test
 * for NULL. Memory a peer can make us allocate is bounded before it is asked for (docs/security.md),
 * not here.
 *
 * Errors that are not fatal are returned as text: a function that can fail takes
 * `char *err, size_t errlen` and writes one human-readable line (a profile's "PATH:LINE: reason",
 * an API field's reason), always NUL-terminated. Callers declare the buffer as `char err[FL_ERRLEN]`:
 * one size everywhere, long enough for a path, a line number and a reason that quotes a value.
 */
#ifndef FL_MEM_H
#define FL_MEM_H
#include <stddef.h>

#define FL_ERRLEN 1024

void *fl_malloc(size_t n);                 /* never NULL */
void *fl_calloc(size_t n, size_t size);    /* never NULL; zeroed */
void *fl_realloc(void *p, size_t n);       /* never NULL */
char *fl_strdup(const char *s);            /* never NULL */
char *fl_strndup(const char *s, size_t n); /* never NULL; at most n bytes of s, NUL-terminated */
/* Ends the process after an allocation of n bytes failed (the wrappers call it). */
_Noreturn void fl_oom(size_t n);

#endif
