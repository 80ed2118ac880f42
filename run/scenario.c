/* run/scenario.c -- the scenario sections of a scenario file: [scenario] and [phase NAME].
 *
 * The profile loader (PROF_ALLOW_SCENARIO) has already validated [faultline], [proxy] and
 * [fault]; this file validates what is left before anything starts, so a scenario with a typo
 * fails in a second with PATH:LINE: rather than after ten minutes of load. [expect] sections
 * are the verifier's (verify_check_doc, called from here). `faultline check` (cli/check.c) calls
 * run_scn_parse too, so it refuses what `faultline run` would.
 */
#include "run/run.h"
#include "common/parse.h"
#include "common/mem.h"
#include "control/fleet_sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SERR(line, ...) inidoc_err(d, line, err, errlen, __VA_ARGS__)

static void run_phase_free(struct run_phase *ph);

struct inisec *run_fault_sec(struct profile *p, const char *proxy, const char *name)
{
    for (int i = 0; i < p->doc->nsecs; i++) {
        struct inisec *s = &p->doc->secs[i];
        if (strcmp(s->type, "fault") || strcmp(s->name, name)) continue;
        int line;
        const char *px = inisec_get(s, "proxy", &line);
        if (px && !strcmp(px, proxy)) return s;
    }
    return NULL;
}

int run_scn_phased(const struct run_scn *s, const char *proxy, const char *fault)
{
    for (int i = 0; i < s->nph; i++)
        for (int j = 0; j < s->ph[i].nfaults; j++)
            if (!strcmp(s->ph[i].faults[j].name, fault) && !strcmp(s->ph[i].faults[j].proxy, proxy)) return 1;
    return 0;
}

int run_scn_trusted(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) return 0;   /* the loader says why it cannot read it */
    const char *why = "a scenario runs commands (load, [action] run)";
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(err, errlen, "%s: writable by %s (mode %04o): %s; make it yours alone (chmod go-w %s)", path,
                 (st.st_mode & S_IWOTH) ? "every user" : "its group", (unsigned)(st.st_mode & 07777), why, path);
        return -1;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        snprintf(err, errlen, "%s: owned by uid %u, not by the runner (uid %u) or root: %s; run it as its owner, or "
                 "copy it and check the copy", path, (unsigned)st.st_uid, (unsigned)geteuid(), why);
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    return s;
}

/* One entry of a phase's `faults =`: PROXY/NAME, or NAME when one proxy alone has a fault of
 * that name. The profile's fault (borrowed), or NULL with the reason in why. */
static const struct fault *phase_fault(struct profile *p, const char *tok, char *why, size_t wl)
{
    const char *slash = strchr(tok, '/');
    if (slash && (slash == tok || !slash[1] || strchr(slash + 1, '/'))) {
        snprintf(why, wl, "'%s' is neither NAME nor PROXY/NAME", tok);
        return NULL;
    }
    if (slash) {
        for (int k = 0; k < p->nfaults; k++)
            if (p->faults[k] && !strcmp(p->faults[k]->name, slash + 1) &&
                !strncmp(p->faults[k]->proxy, tok, (size_t)(slash - tok)) && !p->faults[k]->proxy[slash - tok])
                return p->faults[k];
        snprintf(why, wl, "no [fault %s] on proxy %.*s in this scenario", slash + 1, (int)(slash - tok), tok);
        return NULL;
    }
    const struct fault *f = NULL;
    int found = 0;
    char on[300] = "", both[400] = "";
    for (int k = 0; k < p->nfaults; k++)
        if (p->faults[k] && !strcmp(p->faults[k]->name, tok)) {
            f = p->faults[k];
            found++;
            snprintf(on + strlen(on), sizeof(on) - strlen(on), "%s%s", found > 1 ? ", " : "", f->proxy);
            snprintf(both + strlen(both), sizeof(both) - strlen(both), "%s%s/%s", found > 1 ? ", " : "", f->proxy, tok);
        }
    if (found == 1) return f;
    /* a phase attaches and removes a fault of one proxy: a name on two proxies says not which */
    if (found) snprintf(why, wl, "'%s' is a fault of proxies %s; write PROXY/NAME (%s)", tok, on, both);
    else snprintf(why, wl, "no [fault %s] in this scenario", tok);
    return NULL;
}

static int parse_phase_faults(struct profile *p, const char *v, int line, struct run_phase *ph, char *err, size_t errlen)
{
    struct inidoc *d = p->doc;
    char *copy = fl_strdup(v), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *name = trim(tok), why[FL_ERRLEN];
        if (!*name) continue;
        const struct fault *f = phase_fault(p, name, why, sizeof(why));
        for (int k = 0; f && k < ph->nfaults; k++)
            if (!strcmp(ph->faults[k].name, f->name) && !strcmp(ph->faults[k].proxy, f->proxy)) {
                snprintf(why, sizeof(why), "'%s/%s' is listed twice", f->proxy, f->name);
                f = NULL;
            }
        if (!f) {
            SERR(line, "faults: %s", why);
            free(copy);
            return -1;
        }
        ph->faults = fl_realloc(ph->faults, sizeof(*ph->faults) * (size_t)(ph->nfaults + 1));
        ph->faults[ph->nfaults].proxy = fl_strdup(f->proxy);
        ph->faults[ph->nfaults++].name = fl_strdup(f->name);
    }
    free(copy);
    return 0;
}

static int parse_phase(struct profile *p, struct inisec *s, struct run_phase *ph, char *err, size_t errlen)
{
    struct inidoc *d = p->doc;
    char e[FL_ERRLEN];
    int line;
    const char *v;
    memset(ph, 0, sizeof(*ph));
    ph->line = s->line;
    if (!s->name[0]) return SERR(s->line, "[phase] needs a name: [phase NAME]");
    if (strlen(s->name) >= sizeof(ph->name)) return SERR(s->line, "phase name too long");
    run_copy(ph->name, sizeof(ph->name), s->name);
    if (!(v = inisec_get(s, "duration", &line))) return SERR(s->line, "[phase %s] is missing 'duration'", s->name);
    if (parse_duration(v, &ph->dur_us, e, sizeof(e)) < 0) return SERR(line, "duration: %s", e);
    if (ph->dur_us <= 0) return SERR(line, "duration: must be more than 0");
    if (ph->dur_us > 24LL * 3600 * 1000000) return SERR(line, "duration: at most 24h");
    if ((v = inisec_get(s, "faults", &line)) && parse_phase_faults(p, v, line, ph, err, errlen) < 0) return -1;
    return inisec_check_unused(d, s, err, errlen);
}

/* [scenario] fleet, fleet_lease, fleet_timeout, fleet_percent, fleet_max_instances */
static int parse_fleet_keys(struct profile *p, struct inisec *s, struct run_scn *sc, char *err, size_t errlen)
{
    struct inidoc *d = p->doc;
    char e[FL_ERRLEN];
    int line;
    const char *v;
    sc->fleet_lease_us = 15000000;
    sc->fleet_timeout_us = 5000000;
    if ((v = inisec_get(s, "fleet", &line))) {
        struct fleet_sel sel;
        if (strlen(v) >= sizeof(sc->fleet)) return SERR(line, "fleet: selector too long");
        if (fleet_sel_parse(v, &sel, e, sizeof(e)) < 0) return SERR(line, "fleet: %s", e);
        if (!p->fleet) return SERR(line, "fleet: a fleet run needs a [fleet] section (redis, key_file) to reach the fleet");
        run_copy(sc->fleet, sizeof(sc->fleet), *v ? v : "*");
    }
    if ((v = inisec_get(s, "fleet_lease", &line)) &&
        (parse_duration(v, &sc->fleet_lease_us, e, sizeof(e)) < 0 || sc->fleet_lease_us < 1000000))
        return SERR(line, "fleet_lease: '%s': a duration of at least 1s", v);
    if ((v = inisec_get(s, "fleet_timeout", &line)) &&
        (parse_duration(v, &sc->fleet_timeout_us, e, sizeof(e)) < 0 || sc->fleet_timeout_us <= 0))
        return SERR(line, "fleet_timeout: '%s' is not a duration", v);
    if ((v = inisec_get(s, "fleet_percent", &line))) {
        char *end;
        sc->fleet_percent = strtod(v, &end);
        if (*end == '%') end++;
        if (*end || !(sc->fleet_percent > 0 && sc->fleet_percent <= 100)) return SERR(line, "fleet_percent: '%s' is not in (0, 100]", v);
    }
    if ((v = inisec_get(s, "fleet_max_instances", &line))) {
        char *end;
        long n = strtol(v, &end, 10);
        if (*end || n < 1 || n > 1000000) return SERR(line, "fleet_max_instances: '%s' is not a count >= 1", v);
        sc->fleet_max = (int)n;
    }
    if (!sc->fleet[0] && (sc->fleet_percent > 0 || sc->fleet_max))
        return SERR(s->line, "fleet_percent and fleet_max_instances go with fleet = SELECTOR");
    return 0;
}

static int parse_scenario_sec(struct profile *p, struct inisec *s, struct run_scn *sc, char *err, size_t errlen)
{
    struct inidoc *d = p->doc;
    char e[FL_ERRLEN];
    int line;
    const char *v;
    if (s->name[0]) return SERR(s->line, "[scenario] takes no name (use name = ...)");
    if ((v = inisec_get(s, "name", &line))) run_copy(sc->name, sizeof(sc->name), v);
    if ((v = inisec_get(s, "description", &line))) (void)v;
    if ((v = inisec_get(s, "load", &line))) {
        if (strlen(v) >= sizeof(sc->load)) return SERR(line, "load: command too long");
        run_copy(sc->load, sizeof(sc->load), v);
    }
    if ((v = inisec_get(s, "redis", &line))) {
        if (strncmp(v, "redis://", 8) && strncmp(v, "unix:", 5))
            return SERR(line, "redis: '%s' is not redis://HOST:PORT[/DB] or unix:/path", v);
        run_copy(sc->redis, sizeof(sc->redis), v);
    }
    if ((v = inisec_get(s, "postgres", &line))) run_copy(sc->postgres, sizeof(sc->postgres), v);
    if ((v = inisec_get(s, "load_grace", &line)) && parse_duration(v, &sc->load_grace_us, e, sizeof(e)) < 0)
        return SERR(line, "load_grace: %s", e);
    if ((v = inisec_get(s, "halt_if", &line)) && run_halt_parse(p, v, sc, e, sizeof(e)) < 0)
        return SERR(line, "halt_if: %s", e);
    if (parse_fleet_keys(p, s, sc, err, errlen) < 0) return -1;
    return inisec_check_unused(d, s, err, errlen);
}

int run_scn_parse(struct profile *p, struct run_scn *out, char *err, size_t errlen)
{
    struct inidoc *d = p->doc;
    struct run_scn sc;
    memset(&sc, 0, sizeof(sc));
    sc.load_grace_us = 3000000;
    int seen = 0;
    int64_t total = 0;
    for (int i = 0; i < d->nsecs; i++) {
        struct inisec *s = &d->secs[i];
        if (!strcmp(s->type, "scenario")) {
            if (seen++) { SERR(s->line, "[scenario] appears twice"); goto fail; }
            if (parse_scenario_sec(p, s, &sc, err, errlen) < 0) goto fail;
        } else if (!strcmp(s->type, "phase")) {
            for (int k = 0; k < sc.nph; k++)
                if (!strcmp(sc.ph[k].name, s->name)) {
                    SERR(s->line, "[phase %s] is defined twice (first at line %d)", s->name, sc.ph[k].line);
                    goto fail;
                }
            sc.ph = fl_realloc(sc.ph, sizeof(*sc.ph) * (size_t)(sc.nph + 1));
            if (parse_phase(p, s, &sc.ph[sc.nph], err, errlen) < 0) {
                run_phase_free(&sc.ph[sc.nph]);
                goto fail;
            }
            total += sc.ph[sc.nph].dur_us;
            sc.nph++;
        } else if (!strcmp(s->type, "expect")) {
            sc.nexpect++;
        } else if (!strcmp(s->type, "probe")) {
            /* [probe] belongs to the probe issue: accepted, not run here */
        }
    }
    /* [action] sections need every phase: they name one */
    for (int i = 0; i < d->nsecs; i++) {
        struct inisec *s = &d->secs[i];
        if (strcmp(s->type, "action")) continue;
        if (!sc.nph) { SERR(s->line, "[action %s] needs a scenario with [phase] sections", s->name); goto fail; }
        for (int k = 0; k < sc.nact; k++)
            if (!strcmp(sc.act[k].name, s->name)) {
                SERR(s->line, "[action %s] is defined twice (first at line %d)", s->name, sc.act[k].line);
                goto fail;
            }
        sc.act = fl_realloc(sc.act, sizeof(*sc.act) * (size_t)(sc.nact + 1));
        if (run_action_parse(p, s, &sc, &sc.act[sc.nact], err, errlen) < 0) goto fail;
        sc.nact++;
    }
    if (seen || sc.nph) {
        if (!sc.nph) { SERR(1, "a scenario needs at least one [phase NAME] with a duration"); goto fail; }
        if (total > 24LL * 3600 * 1000000) { SERR(sc.ph[0].line, "phases add up to more than 24h"); goto fail; }
    }
    if (!sc.name[0]) {
        const char *b = strrchr(p->path, '/');
        run_copy(sc.name, sizeof(sc.name), b ? b + 1 : p->path);
    }
    if (verify_check_doc(d, err, errlen) < 0) goto fail;
    if (out) *out = sc;
    else run_scn_free(&sc);
    return 0;
fail:
    run_scn_free(&sc);
    return -1;
}

static void run_phase_free(struct run_phase *ph)
{
    for (int j = 0; j < ph->nfaults; j++) {
        free(ph->faults[j].proxy);
        free(ph->faults[j].name);
    }
    free(ph->faults);
    ph->faults = NULL;
    ph->nfaults = 0;
}

void run_scn_free(struct run_scn *s)
{
    if (!s) return;
    for (int i = 0; i < s->nph; i++) run_phase_free(&s->ph[i]);
    free(s->ph);
    s->ph = NULL;
    s->nph = 0;
    run_actions_free(s);
    run_halt_free(s);
}
