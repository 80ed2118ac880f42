/* vclient_pg.c -- a Postgres client for the verifier's tests (libpq), good or leaking.
 *
 *   vclient_pg DSN APP DURATION_S BASE_CONNS BURST_AT_S BURST_N good|leak
 *
 * BASE_CONNS connections (application_name APP) run `SELECT 1` every 200 ms for DURATION_S.
 * At BURST_AT_S, BURST_N more connections each open a transaction (BEGIN; SELECT 1). `good`
 * commits and closes them 1.5 s later (a pool burst that is given back); `leak` never commits
 * nor closes them: an error path that forgot ROLLBACK, seen by Postgres as `idle in
 * transaction` until the process ends. Prints "ok base=N burst=N" and exits 0, or 1 on a
 * connection error. Bounded: at most 50 connections, 120 s.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PGconn *conn(const char *dsn, const char *app)
{
    const char *k[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *v[] = {dsn, app, "3", NULL};
    PGconn *c = PQconnectdbParams(k, v, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "vclient_pg: %s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

static int exec_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 8) { fprintf(stderr, "usage: vclient_pg DSN APP DURATION_S BASE_CONNS BURST_AT_S BURST_N good|leak\n"); return 2; }
    const char *dsn = argv[1], *app = argv[2];
    double dur = atof(argv[3]), burst_at = atof(argv[5]);
    int nbase = atoi(argv[4]), nburst = atoi(argv[6]), leak = !strcmp(argv[7], "leak");
    if (dur > 120) dur = 120;
    if (nbase > 25) nbase = 25;
    if (nburst > 25) nburst = 25;
    PGconn *base[25], *burst[25];
    for (int i = 0; i < nbase; i++) base[i] = conn(dsn, app);
    double t0 = now_s(), burst_t = 0;
    int bursting = 0, burst_done = 0;
    while (now_s() - t0 < dur) {
        for (int i = 0; i < nbase; i++)
            if (!exec_ok(base[i], "SELECT 1")) { fprintf(stderr, "vclient_pg: %s", PQerrorMessage(base[i])); return 1; }
        double t = now_s() - t0;
        if (!bursting && !burst_done && t >= burst_at) {
            for (int i = 0; i < nburst; i++) {
                burst[i] = conn(dsn, app);
                exec_ok(burst[i], "BEGIN");
                exec_ok(burst[i], "SELECT 1");
            }
            bursting = 1;
            burst_t = t;
        }
        if (bursting && !leak && t >= burst_t + 1.5) {
            for (int i = 0; i < nburst; i++) { exec_ok(burst[i], "COMMIT"); PQfinish(burst[i]); }
            bursting = 0;
            burst_done = 1;
        }
        usleep(200000);
    }
    printf("ok base=%d burst=%d\n", nbase, nburst);
    fflush(stdout);
    for (int i = 0; i < nbase; i++) PQfinish(base[i]);
    if (bursting) for (int i = 0; i < nburst; i++) PQfinish(burst[i]);
    return 0;
}
