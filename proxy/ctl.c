/* ctl.c -- placeholder until the control-plane issue lands. */
#include "cli.h"
#include <stdio.h>
int cli_ctl(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "faultline ctl: not built yet\n"); return 2; }
