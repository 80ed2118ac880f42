/* ca.c -- `faultline ca init DIR [--domain NAME]... [--force]`: writes faultline's own CA, which a
 * proxy with `tls_ca = DIR` uses to mint a certificate per name its clients ask for
 * (proxy/tls_ca.h, docs/tls.md).
 *
 * DIR/ca.key is created 0600 and is never printed; DIR/ca.crt is what clients are told to trust.
 * The command prints where they are and how to trust the certificate; nothing else leaves the
 * key's file.
 */
#include "cli/cli.h"
#include "proxy/tls_ca.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(FILE *out, int rc)
{
    fprintf(out,
            "usage: faultline ca init DIR [--domain NAME]... [--force]\n\n"
            "Writes a certificate authority into DIR: ca.key (EC P-256, mode 0600) and ca.crt.\n"
            "A proxy with `tls = terminate` and `tls_ca = DIR` mints a certificate per name its\n"
            "clients ask for (SNI), signed by it; clients trust DIR/ca.crt (docs/tls.md).\n\n"
            "  --domain NAME  the CA may mint only for NAME and its subdomains (X.509 name\n"
            "                 constraints); NAME may be an IP address or a CIDR block\n"
            "                 (10.0.0.0/8). Repeatable. Without it the CA is unconstrained.\n"
            "  --force        replace a CA already in DIR\n");
    return rc;
}

int cli_ca(int argc, char **argv)
{
    if (argc < 2) return usage(stderr, 2);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout, 0);
    if (strcmp(argv[1], "init") != 0) {
        fprintf(stderr, "faultline ca: unknown subcommand '%s'\n\n", argv[1]);
        return usage(stderr, 2);
    }
    const char *dir = NULL;
    const char **domains = calloc((size_t)argc, sizeof(*domains));
    if (!domains) abort();
    int nd = 0, force = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--domain") && i + 1 < argc) domains[nd++] = argv[++i];
        else if (!strncmp(argv[i], "--domain=", 9)) domains[nd++] = argv[i] + 9;
        else if (!strcmp(argv[i], "--force")) force = 1;
        else if (argv[i][0] != '-' && !dir) dir = argv[i];
        else {
            free(domains);
            fprintf(stderr, "faultline ca init: unexpected argument '%s'\n\n", argv[i]);
            return usage(stderr, 2);
        }
    }
    if (!dir) {
        free(domains);
        return usage(stderr, 2);
    }
    char err[FL_ERRLEN];
    int rc = tls_ca_init_dir(dir, domains, nd, force, err, sizeof(err));
    free(domains);
    if (rc < 0) {
        fprintf(stderr, "faultline ca init: %s\n", err);
        return 1;
    }
    printf("CA written: %s/ca.crt (certificate: give it to clients), %s/ca.key (key, mode 0600: keep it here)\n", dir, dir);
    printf("use it:     [proxy NAME] tls = terminate, tls_ca = %s\n", dir);
    printf("trust it:   SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, sslrootcert, ... (docs/tls.md, \"Trusting the CA\")\n");
    return 0;
}
