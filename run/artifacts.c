/* run/artifacts.c -- what a run leaves behind: journal.json and report.html.
 *
 * journal.json is for machines (CI, a game-day log): the phases with their wall-clock times,
 * the fault windows, the load command and how it ended, and the verdicts.
 *
 * report.html is for people: one self-contained file (inline CSS and SVG, no script, no
 * network), with the verdict table on top, the audit list (who changed what, from the
 * record's R:audit) at the bottom, and per proxy, four timelines on one time axis:
 * concurrent connections (in-flight requests for http), the call rate, errors per second and
 * the moments clients gave up on held calls. Phases are shaded as alternating bands with their
 * names; fault windows are red bands, so where the pool hit its ceiling or the breaker opened
 * is visible at a glance.
 */
#include "run/run.h"
#include "common/text.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static json_t *jtime(double ms) { return ms > 0 ? json_real(ms) : json_null(); }

int run_write_journal(const struct run_state *st, const struct run_scn *sc, const struct verify_report *rep,
                      int exit_code, const char *path, char *err, size_t errlen)
{
    json_t *o = json_object();
    json_object_set_new(o, "run", json_string(st->run_id));
    json_object_set_new(o, "scenario", json_string(sc->name));
    json_object_set_new(o, "file", json_string(st->scenario_path));
    json_object_set_new(o, "started_ms", jtime(st->started_ms));
    json_object_set_new(o, "ended_ms", jtime(st->ended_ms));
    json_object_set_new(o, "aborted", json_boolean(st->aborted));
    if (st->aborted) json_object_set_new(o, "abort_reason", json_string(st->abort_reason));
    json_object_set_new(o, "halted", json_boolean(st->halted));     /* a halt_if stop condition */
    if (st->halted) {
        json_object_set_new(o, "halt_reason", json_string(st->abort_reason));
        json_object_set_new(o, "halted_ms", jtime(st->halted_ms));
    }
    char shown[sizeof(st->redis_url)];
    fl_redact_url(st->redis_url, shown, sizeof(shown));   /* never its password */
    json_object_set_new(o, "redis", json_string(shown));
    json_object_set_new(o, "embedded_redis", json_boolean(st->embedded_redis));
    json_t *load = json_object();
    json_object_set_new(load, "command", json_string(st->load_cmd));
    if (st->load_pid > 0) {
        json_object_set_new(load, "pid", json_integer(st->load_pid));
        int s = st->load_status;
        if (s == -1) json_object_set_new(load, "status", json_string("not reaped"));
        else if (WIFEXITED(s)) json_object_set_new(load, "exit_status", json_integer(WEXITSTATUS(s)));
        else if (WIFSIGNALED(s)) json_object_set_new(load, "signal", json_integer(WTERMSIG(s)));
        json_object_set_new(load, "exited_ms", jtime(st->load_exit_ms));
        json_object_set_new(load, "ended_early", json_boolean(st->load_ended_early));
    }
    json_object_set_new(o, "load", load);
    if (st->fleet) json_object_set(o, "fleet", st->fleet);   /* a fleet run: the pick and each command's acks */
    json_t *phs = json_array();
    for (int i = 0; i < sc->nph; i++) {
        const struct run_phase *p = &sc->ph[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(p->name));
        json_object_set_new(j, "planned_s", json_real((double)p->dur_us / 1e6));
        json_object_set_new(j, "start_ms", jtime(p->start_ms));
        json_object_set_new(j, "end_ms", jtime(p->end_ms));
        json_t *fa = json_array();
        for (int k = 0; k < p->nfaults; k++)   /* PROXY/NAME: names are per proxy */
            json_array_append_new(fa, json_sprintf("%s/%s", p->faults[k].proxy, p->faults[k].name));
        json_object_set_new(j, "faults", fa);
        json_array_append_new(phs, j);
    }
    json_object_set_new(o, "phases", phs);
    json_t *ws = json_array();
    for (int i = 0; i < st->nwin; i++) {
        const struct run_window *w = &st->win[i];
        json_t *j = json_object();
        json_object_set_new(j, "fault", json_string(w->fault));
        json_object_set_new(j, "proxy", json_string(w->proxy));
        json_object_set_new(j, "type", json_string(w->type));
        json_object_set_new(j, "start_ms", jtime(w->start_ms));
        json_object_set_new(j, "end_ms", jtime(w->end_ms));
        json_array_append_new(ws, j);
    }
    json_object_set_new(o, "faults", ws);
    json_t *as = json_array();
    for (int i = 0; i < sc->nact; i++) {   /* [action] sections (run/action.c) */
        const struct run_action *a = &sc->act[i];
        json_t *j = json_object();
        json_object_set_new(j, "name", json_string(a->name));
        json_object_set_new(j, "at", json_string(a->at));
        char cmd[128];
        fl_redact_cmd(a->cmd, cmd, sizeof(cmd));   /* its program name and a hash: never its arguments */
        json_object_set_new(j, "command", json_string(cmd));
        json_object_set_new(j, "planned_s", json_real((double)a->due_us / 1e6));
        json_object_set_new(j, "start_ms", jtime(a->start_ms));
        json_object_set_new(j, "end_ms", jtime(a->end_ms));
        if (a->status != -1 && WIFEXITED(a->status)) json_object_set_new(j, "exit_status", json_integer(WEXITSTATUS(a->status)));
        else if (a->status != -1 && WIFSIGNALED(a->status)) json_object_set_new(j, "signal", json_integer(WTERMSIG(a->status)));
        json_object_set_new(j, "timed_out", json_boolean(a->timed_out));
        if (a->stopped[0]) json_object_set_new(j, "stopped", json_string(a->stopped));
        json_object_set_new(j, "output", json_stringn_nocheck(a->out ? a->out : "", a->outlen));
        json_object_set_new(j, "output_bytes", json_integer((json_int_t)a->out_total));
        json_object_set_new(j, "output_truncated", json_boolean(a->out_total > a->outlen));
        json_array_append_new(as, j);
    }
    json_object_set_new(o, "actions", as);
    json_t *vs = json_array();
    if (rep)
        for (int i = 0; i < rep->n; i++) {
            const struct verify_result *r = &rep->r[i];
            json_t *j = json_object();
            json_object_set_new(j, "name", json_string(r->name));
            json_object_set_new(j, "check", json_string(r->check));
            json_object_set_new(j, "proxy", json_string(r->proxy));
            json_object_set_new(j, "measured", json_string(r->measured));
            json_object_set_new(j, "bound", json_string(r->bound));
            json_object_set_new(j, "verdict", json_string(verdict_str(r->v)));
            json_object_set_new(j, "why", json_string(r->why));
            if (r->detail[0]) json_object_set_new(j, "detail", verify_detail_json(r));
            json_array_append_new(vs, j);
        }
    json_object_set_new(o, "verdicts", vs);
    json_object_set_new(o, "exit_code", json_integer(exit_code));
    int rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (rc < 0) { snprintf(err, errlen, "%s: cannot write", path); return -1; }
    return 0;
}

/* ---- HTML ---- */

/* Every text the page shows goes through esc(): names come from the scenario and, with --admin,
 * from the record (Redis may be shared: docs/security.md), so a fault named "<script>" is shown
 * as text, in element content and in attribute values alike. */
static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

#define W 960.0
#define LM 70.0     /* left margin (axis labels) */
#define RM 20.0
#define PH 92.0     /* panel height */
#define PG 26.0     /* gap between panels (title) */
#define TOP 52.0    /* phase and fault names above the panels */

struct axis { double t0, t1; };

static double xpos(const struct axis *a, double t)
{
    double span = a->t1 - a->t0;
    if (span <= 0) span = 1;
    double x = LM + (t - a->t0) / span * (W - LM - RM);
    if (x < LM) x = LM;
    if (x > W - RM) x = W - RM;
    return x;
}

static double nice_max(double v)
{
    if (v <= 0) return 1;
    double p = pow(10, floor(log10(v)));
    double m = v / p;
    double n = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
    return n * p;
}

/* One panel: a step line of values over time with its max on the y axis. */
static void panel(FILE *f, const struct axis *a, double y0, const char *title, const struct run_series *se,
                  int which, const char *color)
{
    double vmax = 0;
    for (int i = 0; i < se->n; i++) {
        const struct run_sample *s = &se->s[i];
        double v = which == 0 ? s->cur : which == 1 ? (se->http ? s->req : s->newc) : s->err;
        if (which == 0 && s->peak > v && s->peak < 1e9) v = s->peak;
        if (v > vmax) vmax = v;
    }
    double top = nice_max(vmax);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"pt\">", LM, y0 - 7);
    esc(f, title);
    fprintf(f, "</text>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n", LM, y0, W - LM - RM, PH);
    for (int g = 0; g <= 2; g++) {
        double y = y0 + PH - PH * g / 2.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", LM, y, W - RM, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"yl\">%g</text>\n", LM - 6, y + 4, top * g / 2.0);
    }
    if (!se->n) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"nodata\">no samples</text>\n", (LM + W) / 2, y0 + PH / 2);
        return;
    }
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" points=\"", color);
    double px = -1;
    for (int i = 0; i < se->n; i++) {
        const struct run_sample *s = &se->s[i];
        double v = which == 0 ? s->cur : which == 1 ? (se->http ? s->req : s->newc) : s->err;
        double x = xpos(a, s->t_ms), y = y0 + PH - (v / top) * PH;
        if (px >= 0) {
            double pyv = which == 0 ? se->s[i - 1].cur : which == 1 ? (se->http ? se->s[i - 1].req : se->s[i - 1].newc)
                                                                    : se->s[i - 1].err;
            fprintf(f, "%.1f,%.1f ", x, y0 + PH - (pyv / top) * PH);
        }
        fprintf(f, "%.1f,%.1f ", x, y);
        px = x;
    }
    fprintf(f, "\"/>\n");
    int haspeak = 0;
    for (int i = 0; i < se->n; i++) if (se->s[i].peak > se->s[i].cur) haspeak = 1;
    if (which == 0 && haspeak) {  /* the peak within each second, dashed */
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-opacity=\"0.35\" stroke-dasharray=\"3,2\" points=\"", color);
        for (int i = 0; i < se->n; i++)
            fprintf(f, "%.1f,%.1f ", xpos(a, se->s[i].t_ms), y0 + PH - (se->s[i].peak / top) * PH);
        fprintf(f, "\"/>\n");
    }
}

static void shading(FILE *f, const struct axis *a, const struct run_state *st, const struct run_scn *sc,
                    const char *proxy, double y0, double h, int labels)
{
    for (int i = 0; i < sc->nph; i++) {
        const struct run_phase *p = &sc->ph[i];
        if (p->start_ms <= 0) continue;
        double e = p->end_ms > 0 ? p->end_ms : st->ended_ms;
        double x0 = xpos(a, p->start_ms), x1 = xpos(a, e);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"ph%d\"/>\n", x0, y0, x1 - x0 > 0 ? x1 - x0 : 0, h, i % 2);
        if (labels) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"phl\">", x0 + 4, y0 - 36);
            esc(f, p->name);
            fprintf(f, "</text>\n");
        }
    }
    int row = 0;
    for (int i = 0; i < st->nwin; i++) {
        const struct run_window *w = &st->win[i];
        if (proxy && strcmp(w->proxy, proxy)) continue;
        double e = w->end_ms > 0 ? w->end_ms : st->ended_ms;
        double x0 = xpos(a, w->start_ms), x1 = xpos(a, e);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"fw\"><title>", x0, y0,
                x1 - x0 > 1 ? x1 - x0 : 1, h);
        esc(f, w->fault);
        fprintf(f, " (");
        esc(f, w->type);
        fprintf(f, ")</title></rect>\n");
        if (labels) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"fwl\">", x0 + 4, y0 - 22 + 0 * row);
            esc(f, w->fault);
            fprintf(f, "</text>\n");
        }
        row++;
    }
    for (int i = 0; i < sc->nact; i++) {   /* actions: a band while running, a line at the start */
        const struct run_action *ac = &sc->act[i];
        if (ac->start_ms <= 0) continue;
        double x0 = xpos(a, ac->start_ms), x1 = xpos(a, ac->end_ms > 0 ? ac->end_ms : st->ended_ms);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"acw\"/>", x0, y0,
                x1 - x0 > 1 ? x1 - x0 : 1, h);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"ac\"><title>action ", x0, y0 - 12, x0, y0 + h);
        esc(f, ac->name);
        fprintf(f, "</title></line>\n");
        if (labels) {
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"acl\">", x0 + 3, y0 - 4);
            esc(f, ac->name);
            fprintf(f, "</text>\n");
        }
    }
}

static void time_axis(FILE *f, const struct axis *a, double y)
{
    double span = (a->t1 - a->t0) / 1000.0;
    double step = span <= 20 ? 2 : span <= 60 ? 5 : span <= 180 ? 15 : span <= 600 ? 60 : 300;
    for (double s = 0; s <= span + 0.001; s += step) {
        double x = xpos(a, a->t0 + s * 1000.0);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"tick\"/>", x, y, x, y + 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"xl\">%gs</text>\n", x, y + 16, s);
    }
}

static void proxy_chart(FILE *f, const struct axis *a, const struct run_state *st, const struct run_scn *sc,
                        const struct run_series *se)
{
    double h = TOP + 4 * (PH + PG) + 24;
    fprintf(f, "<h3>proxy <code>");
    esc(f, se->proxy);
    fprintf(f, "</code>%s</h3>\n", se->http ? " (http)" : "");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
            W, h, W, h);
    double y = TOP;
    double body = 4 * (PH + PG) - PG;
    shading(f, a, st, sc, se->proxy, y, body, 1);
    panel(f, a, y + 0 * (PH + PG) + 0, se->http ? "in-flight requests (solid: end of each second, dashed: peak)"
                                                : "concurrent connections (solid: end of each second, dashed: peak)", se, 0, "#1f5fbf");
    panel(f, a, y + 1 * (PH + PG), se->http ? "requests per second" : "new connections per second", se, 1, "#2a8a3a");
    panel(f, a, y + 2 * (PH + PG), "errors per second (5xx, resets, refused, failed upstream)", se, 2, "#c0392b");
    /* abandonment: one tick per client that gave up on a held call */
    double y3 = y + 3 * (PH + PG);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"pt\">clients giving up on held calls (%d; one mark each)</text>\n", LM,
            y3 - 7, se->nab ? se->nab : 0);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n", LM, y3, W - LM - RM, PH);
    int marks = 0;
    for (int i = 0; i < se->nab; i++) {
        double x = xpos(a, se->abandon_ms[i]);
        double jy = y3 + 8 + fmod(i * 37.0, PH - 16);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" class=\"ab\"/>", x, jy);
        marks++;
    }
    if (!se->nab) {  /* fall back to the per-second counts sampled in-process */
        for (int i = 0; i < se->n; i++)
            for (int k = 0; k < (int)se->s[i].abandoned && k < 50; k++) {
                double x = xpos(a, se->s[i].t_ms);
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" class=\"ab\"/>", x, y3 + 8 + fmod(k * 13.0, PH - 16));
                marks++;
            }
    }
    if (!marks)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"nodata\">none</text>", (LM + W) / 2, y3 + PH / 2);
    fprintf(f, "\n");
    time_axis(f, a, y3 + PH);
    fprintf(f, "</svg>\n");
}

/* The page's head, its style, the title with the overall verdict, and the run's facts. */
static void html_head(FILE *f, const struct run_state *st, const struct run_scn *sc, const struct verify_report *rep,
                      int exit_code)
{
    const char *overall = (!rep || !rep->n) && exit_code == 0 ? "NO EXPECTATIONS" : exit_code == 0 ? "PASS" : exit_code == 1 ? "FAIL" : exit_code == 3 ? "INCONCLUSIVE" : "ERROR";
    char when[64] = "";
    time_t t = (time_t)(st->started_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %Z", &tm);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>faultline run ");
    esc(f, st->run_id);
    fprintf(f, ": ");
    esc(f, sc->name);
    fprintf(f, "</title>\n<style>\n"
               "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px 32px;color:#222;background:#fff}\n"
               "h1{font-size:21px;margin:0 0 4px} h2{font-size:17px;margin:26px 0 8px} h3{font-size:15px;margin:22px 0 4px}\n"
               ".meta{color:#555} code{font:13px ui-monospace,monospace}\n"
               ".badge{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600;color:#fff;margin-left:8px}\n"
               ".PASS{background:#2a8a3a}.FAIL{background:#c0392b}.INCONCLUSIVE{background:#b7791f}.ERROR{background:#555}.ABORTED{background:#6b21a8}\n"
               "table{border-collapse:collapse;margin-top:6px} th,td{border:1px solid #ddd;padding:5px 9px;text-align:left;vertical-align:top}\n"
               "th{background:#f4f4f4} td.v{font-weight:600;color:#fff;text-align:center}\n"
               "svg text{font:11px system-ui,sans-serif;fill:#333} .pt{font-weight:600} .yl{text-anchor:end;fill:#666}\n"
               ".xl{text-anchor:middle;fill:#666} .phl{font-weight:600;fill:#445} .fwl{fill:#a11;font-weight:600}\n"
               ".frame{fill:none;stroke:#bbb} .grid{stroke:#eee} .tick{stroke:#999} .ph0{fill:#f3f5f9} .ph1{fill:#e6eaf2}\n"
               ".fw{fill:#e74c3c;fill-opacity:.13;stroke:#e74c3c;stroke-opacity:.5;stroke-dasharray:4,3} .ab{fill:#8e44ad;fill-opacity:.75}\n"
               ".ac{stroke:#0b7285;stroke-width:2} .acw{fill:#0b7285;fill-opacity:.10} .acl{fill:#0b7285;font-weight:600}\n"
               "pre.detail{font:12px ui-monospace,monospace;margin:0;white-space:pre-wrap}\n"
               ".nodata{text-anchor:middle;fill:#999} .legend span{display:inline-block;width:14px;height:10px;margin:0 4px 0 14px;vertical-align:middle}\n"
               "</style></head><body>\n");
    fprintf(f, "<h1>");
    esc(f, sc->name);
    fprintf(f, "<span class=\"badge %s\">%s</span>%s</h1>\n", exit_code == 0 && rep && rep->n ? "PASS" : exit_code == 0 ? "ERROR" : overall, overall,
            st->halted ? "<span class=\"badge ABORTED\">HALTED</span>"
                       : st->aborted ? "<span class=\"badge ABORTED\">aborted</span>" : "");
    if (st->halted) {
        fprintf(f, "<p class=\"meta\">Halted by a stop condition: ");
        esc(f, st->abort_reason);
        fprintf(f, "</p>\n");
    }
    fprintf(f, "<div class=\"meta\">run <code>");
    esc(f, st->run_id);
    fprintf(f, "</code> · ");
    esc(f, when);   /* (%Z: the zone's name comes from the environment) */
    fprintf(f, " · %.1fs · scenario <code>", (st->ended_ms - st->started_ms) / 1000.0);
    esc(f, st->scenario_path);
    fprintf(f, "</code> · exit status %d", exit_code);
    if (st->aborted) {
        fprintf(f, " · ");
        esc(f, st->abort_reason);
    }
    fprintf(f, "</div>\n");
    if (st->load_cmd[0]) {
        fprintf(f, "<div class=\"meta\">load <code>");
        esc(f, st->load_cmd);
        fprintf(f, "</code>");
        if (st->load_status != -1 && WIFEXITED(st->load_status))
            fprintf(f, " · exited with status %d%s", WEXITSTATUS(st->load_status), st->load_ended_early ? " before the end" : "");
        else if (st->load_status != -1 && WIFSIGNALED(st->load_status))
            fprintf(f, " · stopped by signal %d", WTERMSIG(st->load_status));
        fprintf(f, "</div>\n");
    }
}

/* The verdict table (with each verdict's evidence under it). */
static void html_verdicts(FILE *f, const struct verify_report *rep)
{
    fprintf(f, "<h2>Verdicts</h2>\n");
    if (!rep || !rep->n) fprintf(f, "<p>%s</p>\n", rep ? "No [expect] sections: nothing judged." : "The verifier did not run (see the terminal).");
    else {
        fprintf(f, "<table><tr><th>expectation</th><th>check</th><th>proxy</th><th>measured</th><th>bound</th><th>verdict</th><th>why</th></tr>\n");
        for (int i = 0; i < rep->n; i++) {
            const struct verify_result *r = &rep->r[i];
            const char *v = verdict_str(r->v);
            fprintf(f, "<tr><td>");
            esc(f, r->name);
            fprintf(f, "</td><td>");
            esc(f, r->check);
            fprintf(f, "</td><td>");
            esc(f, r->proxy);
            fprintf(f, "</td><td>");
            esc(f, r->measured);
            fprintf(f, "</td><td>");
            esc(f, r->bound);
            fprintf(f, "</td><td class=\"v %s\">%s</td><td>", v, v);
            esc(f, r->why);
            fprintf(f, "</td></tr>\n");
            if (r->detail[0]) {   /* evidence behind the verdict (e.g. goroutine stacks that grew) */
                fprintf(f, "<tr><td></td><td colspan=\"6\"><pre class=\"detail\">");
                esc(f, r->detail);
                fprintf(f, "</pre></td></tr>\n");
            }
        }
        fprintf(f, "</table>\n");
    }
}

/* Who changed the daemons during the run (the record's audit stream), oldest first. */
static void html_audit(FILE *f, const struct verify_report *rep)
{
    if (!rep || !rep->naudit) return;
    fprintf(f, "<h2>Audit</h2>\n<p class=\"meta\">%d change(s) to the daemons during the run%s: who (the token's "
            "name), through what, and from where.</p>\n", rep->naudit_total,
            rep->naudit < rep->naudit_total ? " (the newest listed)" : "");
    fprintf(f, "<table><tr><th>time (UTC)</th><th>who</th><th>via</th><th>what</th><th>status</th><th>instance</th>"
               "<th>from</th></tr>\n");
    for (int i = 0; i < rep->naudit; i++) {
        const struct verify_audit *a = &rep->audit[i];
        time_t t = (time_t)(a->at_ms / 1000);
        struct tm tm;
        char ts[32] = "?";
        if (!isnan(a->at_ms) && gmtime_r(&t, &tm)) strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
        const char *col[] = {ts, a->who, a->via, a->what};
        fprintf(f, "<tr>");
        for (int c = 0; c < 4; c++) {
            fprintf(f, "<td>");
            esc(f, col[c]);
            fprintf(f, "</td>");
        }
        fprintf(f, "<td>%d</td><td>", a->status);
        esc(f, a->inst);
        fprintf(f, "</td><td>");
        esc(f, a->remote);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
}

/* What happened when: the phases with their faults, then the actions. */
static void html_phases(FILE *f, const struct run_state *st, const struct run_scn *sc)
{
    fprintf(f, "<h2>Phases and faults</h2>\n<table><tr><th>phase</th><th>planned</th><th>from</th><th>to</th><th>faults</th></tr>\n");
    for (int i = 0; i < sc->nph; i++) {
        const struct run_phase *p = &sc->ph[i];
        fprintf(f, "<tr><td>");
        esc(f, p->name);
        fprintf(f, "</td><td>%.1fs</td><td>", (double)p->dur_us / 1e6);
        if (p->start_ms > 0) fprintf(f, "+%.1fs", (p->start_ms - st->started_ms) / 1000.0);
        else fprintf(f, "not reached");
        fprintf(f, "</td><td>");
        if (p->end_ms > 0) fprintf(f, "+%.1fs", (p->end_ms - st->started_ms) / 1000.0);
        fprintf(f, "</td><td>");
        for (int k = 0; k < p->nfaults; k++) {
            if (k) fprintf(f, ", ");
            esc(f, p->faults[k].proxy);
            fprintf(f, "/");
            esc(f, p->faults[k].name);
        }
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
    if (sc->nact) {
        fprintf(f, "<h2>Actions</h2>\n<table><tr><th>action</th><th>at</th><th>from</th><th>to</th><th>result</th><th>command</th></tr>\n");
        for (int i = 0; i < sc->nact; i++) {
            const struct run_action *ac = &sc->act[i];
            fprintf(f, "<tr><td>");
            esc(f, ac->name);
            fprintf(f, "</td><td>");
            esc(f, ac->at);
            fprintf(f, "</td><td>");
            if (ac->start_ms > 0) fprintf(f, "+%.1fs", (ac->start_ms - st->started_ms) / 1000.0);
            else fprintf(f, "not run");
            fprintf(f, "</td><td>");
            if (ac->end_ms > 0) fprintf(f, "+%.1fs", (ac->end_ms - st->started_ms) / 1000.0);
            fprintf(f, "</td><td>");
            if (ac->stopped[0]) { fprintf(f, "stopped: "); esc(f, ac->stopped); }
            else if (ac->timed_out) fprintf(f, "timed out");
            else if (ac->status != -1 && WIFEXITED(ac->status)) fprintf(f, "exit %d", WEXITSTATUS(ac->status));
            else if (ac->status != -1 && WIFSIGNALED(ac->status)) fprintf(f, "signal %d", WTERMSIG(ac->status));
            fprintf(f, "</td><td><code>");
            char cmd[128];
            fl_redact_cmd(ac->cmd, cmd, sizeof(cmd));
            esc(f, cmd);
            fprintf(f, "</code></td></tr>\n");
        }
        fprintf(f, "</table>\n");
    }
}

/* One chart per proxy, on the run's time axis. */
static void html_timelines(FILE *f, const struct axis *a, const struct run_state *st, const struct run_scn *sc)
{
    fprintf(f, "<h2>Timelines</h2>\n<div class=\"legend meta\"><span style=\"background:#f3f5f9;border:1px solid #ccd\"></span>phase"
               "<span style=\"background:#fbe0dd;border:1px dashed #e74c3c\"></span>fault window"
               "<span style=\"background:#8e44ad;border-radius:6px;width:10px\"></span>a client gave up on a held call"
               "<span style=\"background:#0b7285;width:3px\"></span>action</div>\n");
    if (!st->nseries) fprintf(f, "<p>No samples were taken.</p>\n");
    for (int i = 0; i < st->nseries; i++) proxy_chart(f, a, st, sc, &st->series[i]);
}

int run_write_html(const struct run_state *st, const struct run_scn *sc, const struct verify_report *rep,
                   int exit_code, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) { snprintf(err, errlen, "%s: cannot write", path); return -1; }
    struct axis a = {st->started_ms, st->ended_ms > st->started_ms ? st->ended_ms : st->started_ms + 1000};
    for (int i = 0; i < st->nseries; i++)
        if (st->series[i].n && st->series[i].s[0].t_ms < a.t0 && st->series[i].s[0].t_ms > a.t0 - 5000)
            a.t0 = st->series[i].s[0].t_ms;
    html_head(f, st, sc, rep, exit_code);
    html_verdicts(f, rep);
    html_phases(f, st, sc);
    html_timelines(f, &a, st, sc);
    html_audit(f, rep);
    fprintf(f, "<p class=\"meta\">Generated by faultline. The record of this run is in record.json beside this file.</p>\n</body></html>\n");
    if (fclose(f) != 0) { snprintf(err, errlen, "%s: write failed", path); return -1; }
    return 0;
}
