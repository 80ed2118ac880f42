/* run/fleet.c -- a scenario run across a fleet: `[scenario] fleet = SELECTOR` (docs/fleet.md,
 * "Runs across a fleet").
 *
 * What: instead of one daemon, the runner drives every instance of a fleet that the selector
 * matches, through the fleet's Redis and key (the scenario's [fleet] section: redis, key_file,
 * name), with the blocking controller client (control/fleet_client.h) that `ctl --fleet` uses:
 *   - at the start it reads the registry and picks the instances once (the selector, then
 *     fleet_percent / fleet_max_instances at random); every command of the run names them as
 *     `targets`, so each phase acts on the same instances and the journal records the pick;
 *   - the run is the one the picked instances record into (the `run` each registers): they
 *     must agree, and --run, when given, must be it; every command of the run names it (`run`);
 *   - a phase's fault is a fleet `add` carrying the run's one lease id; the runner renews that
 *     lease every third of it while it runs, and sends `rm` at the phase's end; each command
 *     waits for the acks and says "N of M applied" (terminal and journal.json `fleet.commands`);
 *   - a halt sends a fleet `kill` to every instance the selector matches, and reports it;
 *   - live numbers (the status line, halt_if error_rate) are the sum of the picked instances'
 *     GET /stats (each instance's registered admin address);
 *   - a fault that no instance applied makes the verdicts INCONCLUSIVE, saying so;
 *   - the verdicts go to every picked instance's console (POST /verdicts), as --admin does.
 * If the runner dies (kill -9), the renewals stop and each instance drops the faults itself
 * when the lease runs out.
 * What not: the runner does not start proxies and does not move the instances' recorders to
 * another run; faults named by no phase are not sent (they are the instances' own profiles').
 */
#include "run/run.h"
#include "control/fleet_client.h"
#include "common/clock.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run_fleet {
    struct fleet_client fc;
    struct fleet_sel sel;
    const struct run_scn *sc;
    json_t *want;                 /* the picked ids (fixed for the run) */
    json_t *admins;               /* id -> admin address */
    json_t *log;                  /* journal.json "fleet" */
    int matched;
    char lease_id[40];
    char run[128];                /* the run the instances record into: every command names it */
};

/* The registry's instances picked for the run, their admin addresses and the run they record
 * into (*run_id; "" when they disagree: the ids and their runs in err). 0, or -1 with err. */
static int pick_instances(struct run_fleet *f, char *run_id, size_t rlen, char *err, size_t errlen)
{
    json_t *all = fleet_client_registry(&f->fc);
    if (!all) { snprintf(err, errlen, "fleet: reading the registry failed"); return -1; }
    f->want = fleet_client_pick(all, &f->sel, f->sc->fleet_percent, f->sc->fleet_max, &f->matched);
    f->admins = json_object();
    run_id[0] = 0;
    char runs[600] = "";
    int agree = 1, first = 1;
    size_t i, j;
    json_t *v, *id;
    json_array_foreach(all, i, v) {
        const char *iid = json_string_value(json_object_get(v, "id"));
        json_array_foreach(f->want, j, id) {
            if (strcmp(json_string_value(id), iid)) continue;
            const char *run = json_string_value(json_object_get(v, "run"));
            const char *adm = json_string_value(json_object_get(v, "admin"));
            if (adm && *adm) json_object_set_new(f->admins, iid, json_string(adm));
            if (!run) run = "";
            size_t o = strlen(runs);
            snprintf(runs + o, sizeof(runs) - o, "%s%s: %s", o ? ", " : "", iid, *run ? run : "(not recording)");
            if (first) run_copy(run_id, rlen, run);
            else if (strcmp(run_id, run)) agree = 0;
            first = 0;
        }
    }
    json_decref(all);
    if (!json_array_size(f->want)) {
        snprintf(err, errlen, "fleet: no instance is up matching '%s'", f->sc->fleet);
        return -1;
    }
    if (!agree || !run_id[0]) {
        snprintf(err, errlen, "fleet: the picked instances must record into one run (%s); start them with the same "
                 "[faultline] redis and run = ID", runs);
        run_id[0] = 0;
        return -1;
    }
    return 0;
}

struct run_fleet *run_fleet_open(struct profile *p, const struct run_scn *sc, const char *want_run, char *run_id,
                                 size_t rlen, char *err, size_t errlen)
{
    struct run_fleet *f = fl_calloc(1, sizeof(*f));
    char e[FL_ERRLEN];
    f->sc = sc;
    if (fleet_sel_parse(sc->fleet, &f->sel, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "fleet: %s", e);
        goto bad;
    }
    if (fleet_client_open(&f->fc, &p->fleet->url, p->fleet->key_file, p->fleet->name, "run", e, sizeof(e)) < 0) {
        snprintf(err, errlen, "fleet: %s", e);
        goto bad;
    }
    if (pick_instances(f, run_id, rlen, err, errlen) < 0) goto bad;
    if (want_run && strcmp(want_run, run_id)) {
        snprintf(err, errlen, "fleet: --run %s, but the picked instances record into run %s", want_run, run_id);
        goto bad;
    }
    fleet_rand_hex(f->lease_id, 8);
    run_copy(f->run, sizeof(f->run), run_id);
    f->log = json_pack("{s:s, s:s, s:O, s:i, s:s, s:I, s:[]}", "selector", sc->fleet, "fleet", f->fc.ns, "targets",
                       f->want, "matched", f->matched, "lease_id", f->lease_id, "lease_ms",
                       (json_int_t)(sc->fleet_lease_us / 1000), "commands");
    return f;
bad:
    run_fleet_close(f);
    return NULL;
}

void run_fleet_close(struct run_fleet *f)
{
    if (!f) return;
    fleet_client_close(&f->fc);
    json_decref(f->want);
    json_decref(f->admins);
    json_decref(f->log);
    free(f);
}

int run_fleet_count(const struct run_fleet *f) { return (int)json_array_size(f->want); }
const char *run_fleet_lease(const struct run_fleet *f) { return f->lease_id; }
void *run_fleet_journal(const struct run_fleet *f) { return f ? f->log : NULL; }

/* Sends m (taken) to want, waits for the acks, logs the result under phase/fault and says
 * "OP FAULT: N of M applied". The number applied, or -1 (not sent). */
static int command(struct run_fleet *f, json_t *m, json_t *want, const char *phase, const char *fault,
                   char *line, size_t ll)
{
    char err[FL_ERRLEN] = "";
    char op[16];
    run_copy(op, sizeof(op), json_string_value(json_object_get(m, "op")));
    json_t *res = fleet_client_run(&f->fc, m, want, f->sc->fleet_timeout_us, err, sizeof(err));
    if (!res) {
        snprintf(line, ll, "fleet %s%s%s: not sent: %s", op, fault ? " " : "", fault ? fault : "", err);
        json_array_append_new(json_object_get(f->log, "commands"),
                              json_pack("{s:s, s:s?, s:s?, s:i, s:i, s:s}", "op", op, "phase", phase, "fault", fault,
                                        "applied", 0, "of", (int)json_array_size(want), "error", err));
        return -1;
    }
    int ok = (int)json_integer_value(json_object_get(res, "applied"));
    int of = (int)json_integer_value(json_object_get(res, "of"));
    size_t o = (size_t)snprintf(line, ll, "fleet %s%s%s: %d of %d applied in %lld ms", op, fault ? " " : "",
                                fault ? fault : "", ok, of, (long long)json_integer_value(json_object_get(res, "ms")));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(res, "failed"), i, v)
        if (o < ll) o += (size_t)snprintf(line + o, ll - o, "; failed %s: %s", json_string_value(json_object_get(v, "id")),
                                          json_string_value(json_object_get(v, "reason")));
    json_array_foreach(json_object_get(res, "timed_out"), i, v)
        if (o < ll) o += (size_t)snprintf(line + o, ll - o, "; timed out %s", json_string_value(v));
    json_object_del(res, "targets");
    json_object_del(res, "acks");
    if (phase) json_object_set_new(res, "phase", json_string(phase));
    if (fault) json_object_set_new(res, "fault", json_string(fault));
    json_object_set_new(res, "at_ms", json_real((double)fl_wall_us() / 1000.0));
    json_array_append_new(json_object_get(f->log, "commands"), res);
    return ok;
}

/* A new command of this run for the picked instances. */
static json_t *msg(struct run_fleet *f, const char *op)
{
    json_t *m = fleet_client_msg(&f->fc, op, f->sc->fleet, f->want, f->matched, 0, 0);
    json_object_set(m, "targets", f->want);
    json_object_set_new(m, "run", json_string(f->run));
    return m;
}

int run_fleet_add(struct run_fleet *f, struct inisec *fs, const char *phase, char *line, size_t ll)
{
    json_t *spec = json_object();
    json_object_set_new(spec, "name", json_string(fs->name));
    for (int i = 0; i < fs->nkeys; i++) json_object_set_new(spec, fs->keys[i].key, json_string(fs->keys[i].value));
    json_t *m = msg(f, "add");
    json_object_set_new(m, "fault", spec);
    json_object_set_new(m, "lease_id", json_string(f->lease_id));
    json_object_set_new(m, "lease_ms", json_integer((json_int_t)(f->sc->fleet_lease_us / 1000)));
    int kl;
    const char *px = inisec_get(fs, "proxy", &kl);
    char label[300];   /* PROXY/NAME: names are per proxy */
    snprintf(label, sizeof(label), "%s/%s", px ? px : "", fs->name);
    return command(f, m, f->want, phase, label, line, ll);
}

int run_fleet_rm(struct run_fleet *f, const char *proxy, const char *fault, const char *phase, char *line, size_t ll)
{
    json_t *m = msg(f, "rm");
    json_object_set_new(m, "name", json_string(fault));
    json_object_set_new(m, "proxy", json_string(proxy));   /* names are per proxy: this one's */
    char label[300];
    snprintf(label, sizeof(label), "%s/%s", proxy, fault);
    return command(f, m, f->want, phase, label, line, ll);
}

int run_fleet_renew(struct run_fleet *f, char *err, size_t errlen)
{
    json_t *m = msg(f, "renew");
    json_object_set_new(m, "lease_id", json_string(f->lease_id));
    json_object_set_new(m, "lease_ms", json_integer((json_int_t)(f->sc->fleet_lease_us / 1000)));
    int rc = fleet_client_send(&f->fc, m, err, errlen);
    json_decref(m);
    return rc;
}

int run_fleet_kill(struct run_fleet *f, char *line, size_t ll)
{
    json_t *all = fleet_client_registry(&f->fc);
    int matched = 0;
    json_t *every = all ? fleet_client_pick(all, &f->sel, 0, 0, &matched) : json_incref(f->want);
    json_decref(all);
    json_t *m = fleet_client_msg(&f->fc, "kill", f->sc->fleet, every, matched, 0, 0);
    int rc = command(f, m, every, NULL, NULL, line, ll);
    json_decref(every);
    return rc;
}

struct run_px_totals *run_fleet_stats(struct run_fleet *f, const char *token, int *n, char *err, size_t errlen)
{
    struct run_px_totals *sum = NULL;
    int ns = 0, answered = 0;
    const char *id;
    json_t *adm;
    json_object_foreach(f->admins, id, adm) {
        struct run_px_totals *t;
        int nt;
        if (run_admin_stats(json_string_value(adm), token, &t, &nt, err, errlen) < 0) continue;
        answered++;
        for (int i = 0; i < nt; i++) {
            int k = 0;
            while (k < ns && strcmp(sum[k].proxy, t[i].proxy)) k++;
            if (k == ns) {
                sum = fl_realloc(sum, sizeof(*sum) * (size_t)(ns + 1));
                memset(&sum[ns], 0, sizeof(*sum));
                run_copy(sum[ns++].proxy, sizeof(sum->proxy), t[i].proxy);
            }
            sum[k].http |= t[i].http;
            sum[k].active += t[i].active;
            sum[k].inflight += t[i].inflight;
            sum[k].accepted += t[i].accepted;
            sum[k].requests += t[i].requests;
            sum[k].errors += t[i].errors;
            sum[k].abandoned += t[i].abandoned;
        }
        free(t);
    }
    if (!answered) { free(sum); return NULL; }
    *n = ns;
    return sum ? sum : fl_calloc(1, sizeof(*sum));
}

void run_fleet_judge(const struct run_fleet *f, struct verify_report *rep)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(f->log, "commands"), i, c) {
        const char *op = json_string_value(json_object_get(c, "op"));
        if (!op || strcmp(op, "add") || json_integer_value(json_object_get(c, "applied")) > 0) continue;
        for (int k = 0; k < rep->n; k++) {
            struct verify_result *v = &rep->r[k];
            if (v->v == V_INCONCLUSIVE) continue;
            v->v = V_INCONCLUSIVE;
            snprintf(v->why, sizeof(v->why), "fault %s was applied on no instance of the fleet (phase %s: 0 of %d)",
                     json_string_value(json_object_get(c, "fault")), json_string_value(json_object_get(c, "phase")),
                     (int)json_integer_value(json_object_get(c, "of")));
        }
    }
}

int run_fleet_verdicts(struct run_fleet *f, const char *token, const struct verify_report *rep, char *err, size_t errlen)
{
    int bad = 0;
    const char *id;
    json_t *adm;
    json_object_foreach(f->admins, id, adm) {
        char e[FL_ERRLEN];
        if (run_admin_verdicts(json_string_value(adm), token, rep, e, sizeof(e)) < 0 && !bad++)
            snprintf(err, errlen, "%s: %s", id, e);
    }
    return bad;
}
