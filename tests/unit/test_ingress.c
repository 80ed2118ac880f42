/* test_ingress.c -- the service's own view: how an ingress proxy's request events are read
 * (verify/requests.c: success, 5xx, reset, aborted, clients that left early, older records without
 * `end`), quantiles, and [action] `at` parsing (run/action.c). */
#include "unit.h"
#include "proxy/profile.h"
#include "run/run.h"
#include "verify/requests.h"

#include <math.h>

static struct vev req(int status, const char *end, double total, double abandoned)
{
    struct vev e;
    memset(&e, 0, sizeof(e));
    e.kind = VEV_REQUEST;
    e.status = status;
    snprintf(e.end, sizeof(e.end), "%s", end);
    e.req_ms = 1000;
    e.total_ms = total;
    e.abandoned_ms = abandoned;
    return e;
}

UNIT(ingress_request_kinds)
{
    struct vreq q;
    struct vev e = req(200, "done", 12, NAN);
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT_EQ_INT(q.kind, VRQ_OK);
    EXPECT(q.lat_ms == 12 && q.end_ms == 1012);
    e = req(503, "done", 5, NAN);
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT_EQ_INT(q.kind, VRQ_5XX);
    e = req(404, "done", 5, NAN);
    vreq_of(&e, 400, 1000, 5000, &q);                  /* error_status = 400 counts 4xx */
    EXPECT_EQ_INT(q.kind, VRQ_5XX);
    e = req(0, "reset", 30, NAN);
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT_EQ_INT(q.kind, VRQ_RESET);
    e = req(0, "aborted", 2000, 2000);                   /* waited 2 s, then gave up */
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT_EQ_INT(q.kind, VRQ_ABORTED);
    e = req(0, "aborted", 200, 200);                     /* left sooner than abort_after */
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT_EQ_INT(q.kind, VRQ_SKIP);
    e = req(0, "inflight", NAN, NAN);                    /* open at the end: latency up to the run's end */
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT_EQ_INT(q.kind, VRQ_INFLIGHT);
    EXPECT(q.lat_ms == 4000);
    e = req(502, "done", 1, NAN);
    e.upstream_failed = 1;
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT(q.kind == VRQ_5XX && q.refused);
}

UNIT(ingress_old_records_without_end)
{
    struct vreq q;
    struct vev e = req(200, "", 10, NAN);
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT_EQ_INT(q.kind, VRQ_OK);
    e = req(0, "", 3000, 3000);
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT_EQ_INT(q.kind, VRQ_ABORTED);
    e = req(0, "", 40, NAN);
    vreq_of(&e, 500, 1000, 5000, &q);
    EXPECT_EQ_INT(q.kind, VRQ_RESET);
}

UNIT(ingress_quantile)
{
    double v[] = {5, 1, 4, 2, 3, 10, 9, 8, 7, 6};
    EXPECT(vreq_quantile(v, 10, 0.5) == 5);
    EXPECT(vreq_quantile(v, 10, 0.9) == 9);
    EXPECT(vreq_quantile(v, 10, 1.0) == 10);
    EXPECT(isnan(vreq_quantile(v, 0, 0.5)));
    char b[128];
    int c[VRQ_NKINDS] = {3, 2, 1, 0, 0, 7};
    EXPECT_STR(vreq_fail_text(c, b, sizeof(b)), "2 5xx, 1 reset");
}

static const char *scn =
    "[proxy web]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nmode = http\nrole = ingress\n"
    "[phase baseline]\nduration = 2s\n[phase roll-out]\nduration = 10s\n[phase recover]\nduration = 3s\n"
    "[action a]\nat = %s\nrun = true\n";

static int parse_at(const char *at, struct run_scn *out, char *err, size_t errlen)
{
    char text[1024];
    snprintf(text, sizeof(text), scn, at);
    struct profile *p = profile_parse("s.ini", text, PROF_ALLOW_SCENARIO, err, errlen);
    if (!p) return -2;
    int rc = run_scn_parse(p, out, err, errlen);
    profile_free(p);
    return rc;
}

UNIT(action_at_parsing)
{
    char err[512];
    struct run_scn sc;
    EXPECT_EQ_INT(parse_at("roll-out+5s", &sc, err, sizeof(err)), 0);
    if (sc.nact == 1) {
        EXPECT_EQ_INT(sc.act[0].phase, 1);
        EXPECT_EQ_INT(sc.act[0].due_us, 7000000);
        EXPECT_EQ_INT(sc.act[0].timeout_us, 30000000);
    } else {
        EXPECT_EQ_INT(sc.nact, 1);
    }
    run_scn_free(&sc);
    EXPECT_EQ_INT(parse_at("roll-out", &sc, err, sizeof(err)), 0);     /* a dash in the phase name */
    EXPECT(sc.nact == 1 && sc.act[0].due_us == 2000000);
    run_scn_free(&sc);
    EXPECT_EQ_INT(parse_at("recover-500ms", &sc, err, sizeof(err)), 0);
    EXPECT(sc.nact == 1 && sc.act[0].due_us == 11500000);
    run_scn_free(&sc);
    EXPECT_EQ_INT(parse_at("roll", &sc, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "no [phase roll]");
    EXPECT_EQ_INT(parse_at("recover+3s", &sc, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "after the last phase ends");
    EXPECT_EQ_INT(parse_at("baseline-1ms", &sc, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "before the run starts");
    EXPECT_EQ_INT(parse_at("baseline+soon", &sc, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "s.ini:");
}
