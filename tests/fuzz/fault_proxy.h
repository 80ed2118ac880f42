/* fault_proxy.h -- shared by the protocol harnesses (fuzz_pg.c, fuzz_resp.c): a proxy whose
 * active faults are the rows of a table picked by the bits of one selector byte, built once per
 * selector and kept for the process (the harness feeds many inputs through the same 256). */
#ifndef FUZZ_FAULT_PROXY_H
#define FUZZ_FAULT_PROXY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "proxy.h"
#include "fault.h"

/* rows: key, value pairs ending with NULL (at most 4 pairs); nrows <= 8 */
static struct fl_proxy *fault_proxy(struct fl_proxy *cache[256], uint8_t sel, int mode,
                                    const char *const rows[][8], int nrows)
{
    if (cache[sel]) return cache[sel];
    struct fl_proxy *px = calloc(1, sizeof(*px));
    if (!px) abort();
    strcpy(px->spec.name, "fuzz");
    px->spec.mode = mode;
    px->faults = calloc((size_t)nrows, sizeof(*px->faults));
    if (!px->faults) abort();
    for (int i = 0; i < nrows; i++) {
        if (!(sel & (1u << i))) continue;
        const char *k[6], *v[6];
        int n = 0;
        k[n] = "proxy"; v[n++] = "fuzz";
        for (int j = 0; j < 8 && rows[i][j]; j += 2) { k[n] = rows[i][j]; v[n++] = rows[i][j + 1]; }
        char err[256], name[16];
        int bad;
        snprintf(name, sizeof(name), "f%d", i);
        struct fault *f = fault_build(name, k, v, n, &bad, err, sizeof(err));
        if (!f) abort();                        /* the table is wrong */
        f->px = px;
        f->phase = FAULT_ACTIVE;
        px->faults[px->nfaults++] = f;
    }
    cache[sel] = px;
    return px;
}

#endif
