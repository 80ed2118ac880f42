/* run.c -- placeholder until the scenario issue lands. */
#include "cli.h"
#include <stdio.h>
int cli_run(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "faultline run: not built yet\n"); return 2; }
