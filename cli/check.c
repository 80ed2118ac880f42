/* check.c -- `faultline check`: validate a profile, scenario or expectation file without
 * starting anything.
 *
 * The profile loader validates [faultline], [proxy] and [fault]; the scenario's own sections
 * ([scenario], [phase], [action]) and the verifier's [expect] sections are validated by the
 * runner's parser (run_scn_parse, which calls verify_check_doc: every key and value of every
 * expectation, as `faultline verify` reads them), exactly as `faultline run` would before
 * starting anything. The summary says what the file holds: proxies and faults, phases, and the
 * expectations with their checks, so a file of [expect] sections alone reads as such.
 */
#include "cli/cli.h"
#include "proxy/profile.h"
#include "run/run.h"
#include "common/mem.h"

#include <stdio.h>
#include <string.h>

static const char *plural(int n, const char *one, const char *many) { return n == 1 ? one : many; }

int cli_check(const char *path)
{
    char err[FL_ERRLEN];
    struct profile *p = profile_load(path, PROF_ALLOW_SCENARIO, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    struct run_scn sc;
    if (run_scn_parse(p, &sc, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        profile_free(p);
        return 2;
    }
    char what[1024] = "", exps[600] = "";
    size_t o = 0;
    if (p->nproxies || p->nfaults || !sc.nexpect)
        o += (size_t)snprintf(what + o, sizeof(what) - o, "%d %s, %d %s", p->nproxies, plural(p->nproxies, "proxy", "proxies"),
                              p->nfaults, plural(p->nfaults, "fault", "faults"));
    if (sc.nph && o < sizeof(what))
        o += (size_t)snprintf(what + o, sizeof(what) - o, "%s%d %s", o ? ", " : "", sc.nph, plural(sc.nph, "phase", "phases"));
    int ne = 0;
    for (int i = 0; i < p->doc->nsecs; i++) {
        struct inisec *s = &p->doc->secs[i];
        if (strcmp(s->type, "expect")) continue;
        int line;
        const char *ck = inisec_get(s, "check", &line);
        size_t eo = strlen(exps);
        if (eo < sizeof(exps) - 80) snprintf(exps + eo, sizeof(exps) - eo, "%s%s (%s)", ne ? ", " : "", s->name, ck ? ck : "?");
        ne++;
    }
    if (ne && o < sizeof(what))
        snprintf(what + o, sizeof(what) - o, "%s%d %s: %s", o ? ", " : "", ne, plural(ne, "expectation", "expectations"), exps);
    printf("%s: ok (%s)\n", path, what);
    run_scn_free(&sc);
    profile_free(p);
    return 0;
}
