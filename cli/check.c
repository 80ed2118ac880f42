/* check.c -- `faultline check`: validate a profile or scenario without starting anything.
 *
 * The profile loader validates [faultline], [proxy] and [fault]; the scenario's own sections
 * ([scenario], [phase], [action]) and the verifier's [expect] sections are validated by the
 * runner's parser (run_scn_parse, which calls verify_check_doc), exactly as `faultline run`
 * would before starting anything.
 */
#include "cli/cli.h"
#include "proxy/profile.h"
#include "run/run.h"
#include "common/mem.h"

#include <stdio.h>

int cli_check(const char *path)
{
    char err[FL_ERRLEN];
    struct profile *p = profile_load(path, PROF_ALLOW_SCENARIO, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (run_scn_parse(p, NULL, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        profile_free(p);
        return 2;
    }
    printf("%s: ok (%d proxies, %d faults)\n", path, p->nproxies, p->nfaults);
    profile_free(p);
    return 0;
}
