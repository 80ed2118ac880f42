/* run/state.c -- the run's bookkeeping (struct run_state, run/run.h): per-proxy series of
 * samples, the moments a client gave up, and the fault windows. Plain arrays grown by doubling;
 * nothing here does I/O.
 */
#include "run/run.h"
#include "common/mem.h"

#include <stdlib.h>
#include <string.h>

void run_series_add(struct run_series *se, const struct run_sample *s)
{
    if (se->n == se->cap) {
        se->cap = se->cap ? se->cap * 2 : 128;
        se->s = fl_realloc(se->s, sizeof(*se->s) * (size_t)se->cap);
    }
    se->s[se->n++] = *s;
}

void run_series_abandon(struct run_series *se, double t_ms)
{
    if (se->nab == se->capab) {
        se->capab = se->capab ? se->capab * 2 : 64;
        se->abandon_ms = fl_realloc(se->abandon_ms, sizeof(double) * (size_t)se->capab);
    }
    se->abandon_ms[se->nab++] = t_ms;
}

struct run_series *run_series_get(struct run_state *st, const char *proxy, int http)
{
    for (int i = 0; i < st->nseries; i++)
        if (!strcmp(st->series[i].proxy, proxy)) {
            if (http) st->series[i].http = 1;
            return &st->series[i];
        }
    st->series = fl_realloc(st->series, sizeof(*st->series) * (size_t)(st->nseries + 1));
    struct run_series *se = &st->series[st->nseries++];
    memset(se, 0, sizeof(*se));
    run_copy(se->proxy, sizeof(se->proxy), proxy);
    se->http = http;
    return se;
}

void run_window_open(struct run_state *st, const char *fault, const char *proxy, const char *type, double t_ms)
{
    if (st->nwin == st->capwin) {
        st->capwin = st->capwin ? st->capwin * 2 : 16;
        st->win = fl_realloc(st->win, sizeof(*st->win) * (size_t)st->capwin);
    }
    struct run_window *w = &st->win[st->nwin++];
    memset(w, 0, sizeof(*w));
    run_copy(w->fault, sizeof(w->fault), fault);
    run_copy(w->proxy, sizeof(w->proxy), proxy);
    run_copy(w->type, sizeof(w->type), type);
    w->start_ms = t_ms;
}

void run_window_close(struct run_state *st, const char *fault, const char *proxy, double t_ms)
{
    for (int i = st->nwin - 1; i >= 0; i--)
        if (!strcmp(st->win[i].fault, fault) && (!proxy || !strcmp(st->win[i].proxy, proxy)) && st->win[i].end_ms == 0) {
            st->win[i].end_ms = t_ms;
            return;
        }
}

void run_state_free(struct run_state *st)
{
    for (int i = 0; i < st->nseries; i++) {
        free(st->series[i].s);
        free(st->series[i].abandon_ms);
    }
    free(st->series);
    free(st->win);
}

