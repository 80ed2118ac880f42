/* test_verify.c -- the verifier's pure parts: series values, probe extraction (JSON paths,
 * Prometheus text), verdict strings and exit codes, the pauses per retry number, durations and
 * signed offsets. */
#include "unit.h"
#include "verify/verify.h"
#include "verify/check.h"
#include "verify/attempts.h"
#include "record/read.h"
#include "run/probe.h"

UNIT(verify_ts_parse)
{
    struct vts t = {0};
    vrec_parse_ts("new=3 peak=7 cur=2 req=10 err=1 inflight=4 faults=5 up=100 down=2000", &t);
    EXPECT(t.nnew == 3 && t.peak == 7 && t.cur == 2 && t.req == 10 && t.err == 1);
    EXPECT(t.inflight == 4 && t.faults == 5 && t.up == 100 && t.down == 2000);
    struct vts u = {0};
    vrec_parse_ts("cur=9 future=1 peak=2", &u);   /* unknown fields are skipped */
    EXPECT(u.cur == 9 && u.peak == 2);
}

UNIT(verify_probe_json)
{
    double v = 0;
    char err[256];
    EXPECT_EQ_INT(probe_json("{\"a\": {\"b\": [1, {\"c\": 42.5}]}}", "a.b[1].c", &v, err, sizeof(err)), 0);
    EXPECT(v == 42.5);
    EXPECT_EQ_INT(probe_json("{\"runtime\": {\"goroutines\": 12}}", "$.runtime.goroutines", &v, err, sizeof(err)), 0);
    EXPECT(v == 12);
    EXPECT_EQ_INT(probe_json("{\"x\": \"17\"}", "x", &v, err, sizeof(err)), 0);
    EXPECT(v == 17);
    EXPECT_EQ_INT(probe_json("{\"x\": true}", "x", &v, err, sizeof(err)), 0);
    EXPECT(v == 1);
    EXPECT_EQ_INT(probe_json("{\"x\": 1}", "y", &v, err, sizeof(err)), -1);
    EXPECT_CONTAINS(err, "not found");
    EXPECT_EQ_INT(probe_json("{\"x\": [1]}", "x", &v, err, sizeof(err)), -1);
    EXPECT_EQ_INT(probe_json("not json", "x", &v, err, sizeof(err)), -1);
}

UNIT(verify_probe_prom)
{
    const char *t = "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 23\n"
                    "http_requests_total{code=\"200\",method=\"get\"} 10\n"
                    "http_requests_total{code=\"500\",method=\"get\"} 3 1700000000000\n"
                    "go_goroutines_extra 99\n";
    double v = 0;
    char err[256];
    EXPECT_EQ_INT(probe_prom(t, "go_goroutines", &v, err, sizeof(err)), 0);
    EXPECT(v == 23);
    EXPECT_EQ_INT(probe_prom(t, "http_requests_total", &v, err, sizeof(err)), 0);
    EXPECT(v == 13);
    EXPECT_EQ_INT(probe_prom(t, "http_requests_total{code=\"500\"}", &v, err, sizeof(err)), 0);
    EXPECT(v == 3);
    EXPECT_EQ_INT(probe_prom(t, "nope", &v, err, sizeof(err)), -1);
}

UNIT(verify_exit_codes)
{
    struct verify_result r[3] = {{.v = V_PASS}, {.v = V_INCONCLUSIVE}, {.v = V_FAIL}};
    struct verify_report rep = {.r = r, .n = 1};
    EXPECT_EQ_INT(verify_exit_code(&rep), 0);
    rep.n = 2;
    EXPECT_EQ_INT(verify_exit_code(&rep), 3);
    rep.n = 3;
    EXPECT_EQ_INT(verify_exit_code(&rep), 1);
    EXPECT_STR(verdict_str(V_INCONCLUSIVE), "INCONCLUSIVE");
}

/* retries and retry_spacing judge the pauses before each retry number over the calls: a call
 * whose pauses shrink (300 ms, then 220 ms) is one draw, the medians still grow */
UNIT(verify_pauses_per_retry)
{
    struct vatt at[] = {
        {.start = 0, .end = 10, .call = -1, .amb = 1}, {.start = 11, .end = 20, .call = -1, .amb = 1},
        {.start = 0, .end = 10, .call = 0}, {.start = 210, .end = 220, .call = 0}, {.start = 620, .end = 630, .call = 0},
        {.start = 0, .end = 10, .call = 1}, {.start = 310, .end = 320, .call = 1}, {.start = 540, .end = 550, .call = 1},
        {.start = 0, .end = 10, .call = 2}, {.start = 160, .end = 170, .call = 2}, {.start = 530, .end = 540, .call = 2},
        {.start = 0, .end = 10, .call = 3}, {.start = 260, .end = 270, .call = 3},
    };
    int n = (int)(sizeof(at) / sizeof(at[0]));
    vatt_number(at, n);
    EXPECT(at[1].idx == 0 && at[4].idx == 2 && at[12].idx == 1);
    struct vpauses g;
    vpauses_collect(at, n, &g);
    EXPECT_EQ_INT(g.n[1], 4);
    EXPECT_EQ_INT(g.n[2], 3);
    EXPECT_EQ_INT(g.n[3], 0);
    EXPECT(g.v[1][0] == 150 && g.v[1][3] == 300);
    EXPECT(vpauses_median(&g, 1) == 200);
    EXPECT(vpauses_median(&g, 2) == 360);
    EXPECT(isnan(vpauses_median(&g, 3)));
    EXPECT_EQ_INT(vpauses_top(&g, 3), 2);
    EXPECT_EQ_INT(vpauses_top(&g, 4), 1);
    EXPECT_EQ_INT(vpauses_top(&g, 5), 0);
    vpauses_free(&g);
}

/* durations and signed offsets as the verdicts print them (issue 19, 3): a negative offset is
 * "-309ms", never "+-309ms" */
UNIT(verify_fmt_offsets)
{
    char b[32];
    EXPECT_STR(vfmt_ms(309, b, sizeof(b)), "309ms");
    EXPECT_STR(vfmt_ms(1500, b, sizeof(b)), "1.5s");
    EXPECT_STR(vfmt_ms(130000, b, sizeof(b)), "2m10s");
    EXPECT_STR(vfmt_off(-309, b, sizeof(b)), "-309ms");
    EXPECT_STR(vfmt_off(309, b, sizeof(b)), "+309ms");
    EXPECT_STR(vfmt_off(-1500, b, sizeof(b)), "-1.5s");
    EXPECT_STR(vfmt_off(0, b, sizeof(b)), "+0ms");
}
