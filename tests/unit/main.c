/* main.c -- runs every registered unit case; see unit.h. */
#include "unit.h"
#include <stdlib.h>

struct ucase { const char *name; unit_fn fn; };
static struct ucase cases[1024];
static int ncases;

void unit_register(const char *name, unit_fn fn)
{
    if (ncases < 1024) cases[ncases++] = (struct ucase){name, fn};
}

int main(void)
{
    int failed = 0;
    for (int i = 0; i < ncases; i++) {
        int f = 0;
        cases[i].fn(&f);
        printf("%s %s\n", f ? "not ok" : "ok", cases[i].name);
        failed += f;
    }
    printf("# %d cases, %d failed\n", ncases, failed);
    return failed ? 1 : 0;
}
