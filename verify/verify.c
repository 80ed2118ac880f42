/* verify.c -- placeholder until the verifier issue lands. */
#include "cli.h"
#include <stdio.h>
int cli_verify(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "faultline verify: not built yet\n"); return 2; }
