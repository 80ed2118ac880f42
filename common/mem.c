/* mem.c -- allocation that cannot fail (mem.h). */
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void fl_oom(size_t n)
{
    char line[80];
    int len = snprintf(line, sizeof(line), "faultline: out of memory (%zu bytes)\n", n);
    if (len > 0) {
        ssize_t w = write(2, line, (size_t)len);
        (void)w;
    }
    abort();
}

void *fl_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) fl_oom(n);
    return p;
}

void *fl_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) fl_oom(n * size);
    return p;
}

void *fl_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) fl_oom(n);
    return q;
}

char *fl_strdup(const char *s)
{
    char *p = strdup(s);
    if (!p) fl_oom(strlen(s) + 1);
    return p;
}

char *fl_strndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (!p) fl_oom(n + 1);
    return p;
}
