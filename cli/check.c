/* check.c -- `faultline check`: validate a profile or scenario without starting anything. */
#include "cli/cli.h"
#include "proxy/profile.h"

#include <stdio.h>

/* Extra validation of scenario/expect sections, provided by the verifier; weak default. */
__attribute__((weak)) int scenario_check_doc(struct profile *p, char *err, size_t errlen)
{
    (void)p; (void)err; (void)errlen;
    return 0;
}

int cli_check(const char *path)
{
    char err[1024];
    struct profile *p = profile_load(path, PROF_ALLOW_SCENARIO, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (scenario_check_doc(p, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        profile_free(p);
        return 2;
    }
    printf("%s: ok (%d proxies, %d faults)\n", path, p->nproxies, p->nfaults);
    profile_free(p);
    return 0;
}
