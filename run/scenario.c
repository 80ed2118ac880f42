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

struct inisec *run_fault_sec(struct profile *p, const char *name)
{
    for (int i = 0; i < p->doc->nsecs; i++)
        if (!strcmp(p->doc->secs[i].type, "fault") && !strcmp(p->doc->secs[i].name, name)) return &p->doc->secs[i];
    return NULL;
}

int run_scn_phased(const struct run_scn *s, const char *fault)
{
    for (int i = 0; i < s->nph; i++)
        for (int j = 0; j < s->ph[i].nfaults; j++)
            if (!strcmp(s->ph[i].faults[j], fault)) return 1;
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
    if ((v = inisec_get(s, "faults", &line))) {
        char *copy = fl_strdup(v), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            char *name = trim(tok);
            if (!*name) continue;
            int found = 0;
            char on[300] = "";
            for (int k = 0; k < p->nfaults; k++)
                if (p->faults[k] && !strcmp(p->faults[k]->name, name)) {
                    found++;
                    snprintf(on + strlen(on), sizeof(on) - strlen(on), "%s%s", found > 1 ? ", " : "", p->faults[k]->proxy);
                }
            if (found != 1) {
                /* a phase attaches and removes faults by name: one name on two proxies is ambiguous */
                if (found) SERR(line, "faults: '%s' is a fault of proxies %s; a phase names faults that only one proxy has "
                                "(rename one)", name, on);
                else SERR(line, "faults: no [fault %s] in this scenario", name);
                free(copy);
                return -1;
            }
            for (int k = 0; k < ph->nfaults; k++)
                if (!strcmp(ph->faults[k], name)) {
                    SERR(line, "faults: '%s' is listed twice", name);
                    free(copy);
                    return -1;
                }
            ph->faults = fl_realloc(ph->faults, sizeof(char *) * (size_t)(ph->nfaults + 1));
            ph->faults[ph->nfaults++] = fl_strdup(name);
        }
        free(copy);
    }
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
                for (int j = 0; j < sc.ph[sc.nph].nfaults; j++) free(sc.ph[sc.nph].faults[j]);
                free(sc.ph[sc.nph].faults);
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

void run_scn_free(struct run_scn *s)
{
    if (!s) return;
    for (int i = 0; i < s->nph; i++) {
        for (int j = 0; j < s->ph[i].nfaults; j++) free(s->ph[i].faults[j]);
        free(s->ph[i].faults);
    }
    free(s->ph);
    s->ph = NULL;
    s->nph = 0;
    run_actions_free(s);
    run_halt_free(s);
}
