/* cli/console.c -- `faultline console [--admin ADDR] [--open]`: where the game-day console of a
 * running daemon is, checked.
 *
 * The console is served by the daemon's own admin listener at /console (control/console.c), so
 * this command serves nothing: it asks GET /console/login whether the daemon answers and needs
 * a token, prints the page's URL, and with --open hands it to xdg-open. See docs/console.md.
 */
#include "cli/cli.h"
#include "common/httpc.h"
#include "common/mem.h"
#include "common/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int usage(FILE *out, int rc)
{
    fprintf(out, "usage: faultline console [--admin ADDR] [--open]\n\n"
                 "Prints the URL of a running faultline's game-day console (served by its admin API at\n"
                 "/console) after checking that it answers. --admin defaults to $FAULTLINE_ADMIN, then\n"
                 "127.0.0.1:8474; --open also opens it with xdg-open. Exit 0, or 2 when the admin API\n"
                 "does not answer. See docs/console.md.\n");
    return rc;
}

int cli_console(int argc, char **argv)
{
    const char *admin = getenv("FAULTLINE_ADMIN");
    int open_it = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout, 0);
        if (!strcmp(argv[i], "--open")) open_it = 1;
        else if (!strcmp(argv[i], "--admin") && i + 1 < argc) admin = argv[++i];
        else return usage(stderr, 2);
    }
    if (!admin || !*admin) admin = "127.0.0.1:8474";
    struct httpc_target t;
    char err[FL_ERRLEN];
    if (httpc_target(admin, 0, &t, err, sizeof(err)) < 0) { fprintf(stderr, "faultline console: --admin: %s\n", err); return 2; }
    if (t.addr.kind == ADDR_UNIX) {
        fprintf(stderr, "faultline console: %s is a unix socket: a browser cannot reach it (give the admin API a "
                        "loopback address)\n", t.text);
        return 2;
    }
    char hdr[100];
    snprintf(hdr, sizeof(hdr), "User-Agent: faultline-console/%s\r\n", FAULTLINE_VERSION);
    struct httpc_req rq = {.method = "GET", .path = "/console/login", .headers = hdr, .connect_ms = 3000,
                           .total_ms = 6000, .max_answer = 4096};
    struct httpc_resp r;
    if (httpc_call(&t, &rq, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "faultline console: cannot reach the admin API at %s: %s\n", t.text, err);
        return 2;
    }
    int st = r.status, token = r.body && strstr(r.body, "\"token_required\":true");
    httpc_resp_free(&r);
    if (st != 200) {
        fprintf(stderr, "faultline console: %s answered HTTP %d to GET /console/login (a faultline without the "
                        "console?)\n", t.text, st);
        return 2;
    }
    char url[400];
    snprintf(url, sizeof(url), "http://%s/console", t.text);
    printf("%s\n", url);
    fprintf(stderr, "faultline console: %s\n", token ? "log in with the admin token" : "no token needed (loopback)");
    if (open_it) {
        fflush(NULL);
        execlp("xdg-open", "xdg-open", url, (char *)NULL);
        fprintf(stderr, "faultline console: xdg-open: not found; open %s in a browser\n", url);
        return 1;
    }
    return 0;
}
