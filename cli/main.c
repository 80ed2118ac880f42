/* main.c -- the faultline binary: one executable, one subcommand per job.
 *
 *   serve  PROFILE   run the proxies in the foreground (cli/serve.c)
 *   check  PROFILE   validate a profile (or scenario) and exit 0, or 2 with PATH:LINE: reason
 *   ctl    ...       drive a running faultline through its admin API
 *   verify EXPECT    judge a recorded run
 *   run    SCENARIO  baseline / inject / recover, then the verdict
 *   ca     init DIR  faultline's own CA for minted TLS certificates
 *   console          the URL of a running daemon's game-day console (cli/console.c)
 *   toxiproxy-server  Toxiproxy's server command line (also when invoked under that name)
 *   version
 */
#include "cli/cli.h"
#include "control/admin.h"
#include "control/fleet.h"
#include "common/version.h"
#include "common/log.h"
#include "proxy/profile.h"
#include "proxy/proxy.h"

#include <stdio.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: faultline COMMAND [ARGS]\n"
            "\n"
            "Fault-injection proxy for backend dependencies, and the verifier that judges whether\n"
            "the service coped.\n"
            "\n"
            "commands:\n"
            "  serve PROFILE.ini      run the proxies and faults of a profile (foreground);\n"
            "                         --expect FILE also samples FILE's postgres/probe expectations\n"
            "  check FILE.ini         validate a profile, scenario or expectation file; exit 0, or 2\n"
            "  ctl SUBCOMMAND         drive a running faultline through its admin API\n"
            "  verify EXPECT.ini      judge a recorded run (exit 0 pass, 1 fail, 3 inconclusive)\n"
            "  run SCENARIO.ini       run a scenario end to end and print the verdict\n"
            "  ca init DIR            write a CA that TLS proxies mint certificates with\n"
            "  console                the URL of a running faultline's game-day console\n"
            "  toxiproxy-server [-host H] [-port P] [-config FILE] [-seed N]\n"
            "                         Toxiproxy's server and API (also run when invoked as toxiproxy-server)\n"
            "  version                print the version\n"
            "\n"
            "'faultline COMMAND --help' describes each command. Docs: docs/ in the source tree.\n");
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    if (wants_help(argc, argv) || argc != 2) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: faultline check FILE.ini\n\n"
                "Validates a profile, scenario or expectation file without starting anything.\n"
                "Exit 0 and a summary when it is good; exit 2 with PATH:LINE: reason when not.\n");
        return argc == 2 ? 0 : 2;
    }
    return cli_check(argv[1]);
}

static int cmd_version(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: faultline version\n\nPrints the version and the library versions it was built with.\n");
        return 0;
    }
    printf("faultline %s\n", FAULTLINE_VERSION);
    printf("libevent %s\n", event_get_version());
    printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
    base = base ? base + 1 : argc > 0 ? argv[0] : "";
    if (!strcmp(base, "toxiproxy-server")) {   /* a drop-in for Toxiproxy's server binary */
        server_compose(&admin_part);
        return cli_toxiproxy(argc, argv);
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) return cmd_version(1, argv + 1);
    server_compose(&admin_part);   /* every server this process makes (serve, run) has the admin API */
    server_compose(&fleet_part);   /* ... and joins the fleet of its [fleet] section, if any */
    static const struct { const char *name; int (*fn)(int, char **); } cmds[] = {
        {"serve", cli_serve}, {"check", cmd_check}, {"version", cmd_version},
        {"ctl", cli_ctl}, {"verify", cli_verify}, {"run", cli_run}, {"ca", cli_ca},
        {"console", cli_console}, {"toxiproxy-server", cli_toxiproxy},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "faultline: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
