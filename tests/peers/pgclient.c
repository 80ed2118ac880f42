/* pgclient.c -- a libpq test client for mode = postgres (tests/protocols/pg_*.sh).
 *
 *   pgclient CONNINFO STEP...
 *
 * Runs the steps in order on one connection and prints one line of facts per step:
 *   step=N kind=K status=PGRES_… sqlstate=XXXXX|- rows=R [bytes=B] ms=T
 * Steps:
 *   q:SQL            simple query (PQexec)
 *   qa:SQL           simple query sent with PQsendQuery; reports the first error's sqlstate
 *                    (a FATAL followed by a close keeps its code this way)
 *   x:SQL            extended protocol, unnamed statement (PQexecParams, no parameters)
 *   x1:SQL:VALUE     extended protocol with one text parameter $1
 *   prep:NAME:SQL    PQprepare (Parse + Sync)
 *   exec:NAME        PQexecPrepared (Bind/Describe/Execute/Sync)
 *   copyin:TABLE:N   COPY TABLE FROM STDIN with N rows "i\tname-i"
 *   copyout:SQL      COPY (SQL) TO STDOUT: rows = lines received
 *   cancel:SQL:MS    send SQL, after MS ms send a real CancelRequest (PQcancel), wait for the result
 *   pipe:N:SQL       libpq pipeline mode: N × SQL (PQsendQueryParams) then one Sync
 *   sleep:MS
 *   terminate:MS     the end: send Terminate on the socket, keep the connection open MS ms
 *                    (the server closes first), then close it (no final SELECT 1, no conn= line)
 * At the end: "conn=ok|bad txstatus=I|T|E|?" (whether the session is still usable). The connect
 * result is printed as "connect=ok" or "connect=failed sqlstate=… message=…". Exit status 0
 * unless the connection failed at connect time (3) or the arguments were wrong (2).
 * Every wait is bounded: connect_timeout=10 and statement waits of at most 30 s.
 */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void report(int n, const char *kind, PGresult *r, long rows, long bytes, double t0)
{
    const char *st = r ? PQresStatus(PQresultStatus(r)) : "NO_RESULT";
    const char *ss = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (rows < 0 && r) rows = PQntuples(r);
    printf("step=%d kind=%s status=%s sqlstate=%s rows=%ld", n, kind, st, ss ? ss : "-", rows < 0 ? 0 : rows);
    if (bytes >= 0) printf(" bytes=%ld", bytes);
    printf(" ms=%.1f\n", now_ms() - t0);
    fflush(stdout);
}

/* Waits for the socket to be readable (bounded), then consumes input. 0 ok, -1 timeout/error. */
static int wait_input(PGconn *c, int ms)
{
    while (PQisBusy(c)) {
        struct pollfd pfd = {PQsocket(c), POLLIN, 0};
        int rc = poll(&pfd, 1, ms);
        if (rc <= 0) return -1;
        if (!PQconsumeInput(c)) return -1;
    }
    return 0;
}

/* Drains the results of one command; reports the first error, else the last result. */
static void finish(PGconn *c, int n, const char *kind, double t0)
{
    PGresult *last = NULL, *r;
    long rows = 0;
    int have_err = 0;
    for (;;) {
        if (wait_input(c, 30000) < 0) break;
        r = PQgetResult(c);
        if (!r) break;
        rows += PQntuples(r);
        if (have_err) { PQclear(r); continue; }
        if (last) PQclear(last);
        last = r;
        if (PQresultErrorField(r, PG_DIAG_SQLSTATE)) have_err = 1;
    }
    report(n, kind, last, last ? rows : 0, -1, t0);
    if (last) PQclear(last);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: pgclient CONNINFO STEP...\n");
        return 2;
    }
    char ci[1024];
    snprintf(ci, sizeof(ci), "%s connect_timeout=10", argv[1]);
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        char *m = PQerrorMessage(c);
        char one[300];
        snprintf(one, sizeof(one), "%s", m);
        for (char *p = one; *p; p++)
            if (*p == '\n') *p = ' ';
        /* libpq keeps the server's SQLSTATE of a failed connect only in the message text */
        printf("connect=failed message=\"%s\"\n", one);
        PQfinish(c);
        return 3;
    }
    printf("connect=ok backend_pid=%d\n", PQbackendPID(c));
    fflush(stdout);
    for (int i = 2; i < argc; i++) {
        char *arg = strdup(argv[i]);
        char *colon = strchr(arg, ':');
        if (!colon) { fprintf(stderr, "bad step %s\n", arg); return 2; }
        *colon = 0;
        char *kind = arg, *rest = colon + 1;
        int n = i - 1;
        double t0 = now_ms();
        if (!strcmp(kind, "q")) {
            PGresult *r = PQexec(c, rest);
            report(n, kind, r, -1, -1, t0);
            PQclear(r);
        } else if (!strcmp(kind, "qa")) {
            if (!PQsendQuery(c, rest)) report(n, kind, NULL, 0, -1, t0);
            else finish(c, n, kind, t0);
        } else if (!strcmp(kind, "x")) {
            PGresult *r = PQexecParams(c, rest, 0, NULL, NULL, NULL, NULL, 0);
            report(n, kind, r, -1, -1, t0);
            PQclear(r);
        } else if (!strcmp(kind, "x1")) {
            char *v = strrchr(rest, ':');
            if (!v) return 2;
            *v++ = 0;
            const char *vals[1] = {v};
            PGresult *r = PQexecParams(c, rest, 1, NULL, vals, NULL, NULL, 0);
            report(n, kind, r, -1, -1, t0);
            PQclear(r);
        } else if (!strcmp(kind, "prep")) {
            char *sql = strchr(rest, ':');
            if (!sql) return 2;
            *sql++ = 0;
            PGresult *r = PQprepare(c, rest, sql, 0, NULL);
            report(n, kind, r, -1, -1, t0);
            PQclear(r);
        } else if (!strcmp(kind, "exec")) {
            PGresult *r = PQexecPrepared(c, rest, 0, NULL, NULL, NULL, 0);
            report(n, kind, r, -1, -1, t0);
            PQclear(r);
        } else if (!strcmp(kind, "copyin")) {
            char *num = strchr(rest, ':');
            if (!num) return 2;
            *num++ = 0;
            long rows = atol(num);
            char sql[300];
            snprintf(sql, sizeof(sql), "COPY %s FROM STDIN", rest);
            PGresult *r = PQexec(c, sql);
            if (PQresultStatus(r) != PGRES_COPY_IN) {
                report(n, kind, r, -1, -1, t0);
                PQclear(r);
            } else {
                PQclear(r);
                long bytes = 0;
                for (long k = 0; k < rows; k++) {
                    char line[64];
                    int l = snprintf(line, sizeof(line), "%ld\tname-%ld\n", k, k);
                    PQputCopyData(c, line, l);
                    bytes += l;
                }
                PQputCopyEnd(c, NULL);
                r = PQgetResult(c);
                const char *ct = r ? PQcmdTuples(r) : "";
                report(n, kind, r, atol(ct), bytes, t0);
                PQclear(r);
                while ((r = PQgetResult(c))) PQclear(r);
            }
        } else if (!strcmp(kind, "copyout")) {
            char sql[2048];
            snprintf(sql, sizeof(sql), "COPY (%s) TO STDOUT", rest);
            PGresult *r = PQexec(c, sql);
            if (PQresultStatus(r) != PGRES_COPY_OUT) {
                report(n, kind, r, -1, -1, t0);
                PQclear(r);
            } else {
                PQclear(r);
                long rows = 0, bytes = 0;
                char *buf;
                int l;
                while ((l = PQgetCopyData(c, &buf, 0)) > 0) {
                    rows++;
                    bytes += l;
                    PQfreemem(buf);
                }
                r = PQgetResult(c);
                report(n, kind, r, rows, bytes, t0);
                PQclear(r);
                while ((r = PQgetResult(c))) PQclear(r);
            }
        } else if (!strcmp(kind, "cancel")) {
            char *ms = strrchr(rest, ':');
            if (!ms) return 2;
            *ms++ = 0;
            if (!PQsendQuery(c, rest)) {
                report(n, kind, NULL, 0, -1, t0);
            } else {
                usleep((useconds_t)atoi(ms) * 1000);
                PGcancel *cn = PQgetCancel(c);
                char err[256] = "";
                int ok = cn && PQcancel(cn, err, sizeof(err));
                if (cn) PQfreeCancel(cn);
                if (!ok) fprintf(stderr, "PQcancel failed: %s\n", err);
                finish(c, n, kind, t0);
            }
        } else if (!strcmp(kind, "pipe")) {
            char *sql = strchr(rest, ':');
            if (!sql) return 2;
            *sql++ = 0;
            int cnt = atoi(rest);
            PQenterPipelineMode(c);
            for (int k = 0; k < cnt; k++) PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
            PQpipelineSync(c);
            int okn = 0, errn = 0, got = 0;
            const char *firsterr = NULL;
            static char fe[8];
            while (got < cnt + 1) {
                if (wait_input(c, 30000) < 0) break;
                PGresult *r = PQgetResult(c);
                if (!r) continue;
                ExecStatusType st = PQresultStatus(r);
                if (st == PGRES_PIPELINE_SYNC) got = cnt + 1;
                else {
                    got++;
                    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) okn++;
                    else {
                        errn++;
                        const char *ss = PQresultErrorField(r, PG_DIAG_SQLSTATE);
                        if (!firsterr && ss) { snprintf(fe, sizeof(fe), "%s", ss); firsterr = fe; }
                    }
                    /* each query's results end with a NULL */
                    PQclear(r);
                    while (wait_input(c, 30000) == 0 && (r = PQgetResult(c))) PQclear(r);
                    continue;
                }
                PQclear(r);
            }
            PQexitPipelineMode(c);
            printf("step=%d kind=pipe ok=%d errors=%d sqlstate=%s ms=%.1f\n", n, okn, errn, firsterr ? firsterr : "-",
                   now_ms() - t0);
            fflush(stdout);
        } else if (!strcmp(kind, "sleep")) {
            usleep((useconds_t)atoi(rest) * 1000);
        } else if (!strcmp(kind, "terminate")) {
            static const char term[5] = {'X', 0, 0, 0, 4};
            int fd = PQsocket(c);
            ssize_t w = send(fd, term, sizeof(term), MSG_NOSIGNAL);
            usleep((useconds_t)atoi(rest) * 1000);
            printf("step=%d kind=terminate sent=%zd ms=%.1f\n", n, w, now_ms() - t0);
            fflush(stdout);
            shutdown(fd, SHUT_RDWR);   /* PQfinish closes it (its own Terminate finds it shut) */
            PQfinish(c);
            free(arg);
            return 0;
        } else {
            fprintf(stderr, "unknown step kind %s\n", kind);
            return 2;
        }
        free(arg);
    }
    PGresult *r = PQexec(c, "SELECT 1");
    int ok = PQstatus(c) == CONNECTION_OK && PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    PGTransactionStatusType ts = PQtransactionStatus(c);
    printf("conn=%s txstatus=%c\n", ok ? "ok" : "bad",
           ts == PQTRANS_IDLE ? 'I' : ts == PQTRANS_INTRANS ? 'T' : ts == PQTRANS_INERROR ? 'E' : '?');
    PQfinish(c);
    return 0;
}
