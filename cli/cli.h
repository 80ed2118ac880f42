/* cli.h -- subcommands implemented outside main.c. Each takes argc/argv starting at its own
 * name (argv[0] = "ctl") and returns the process exit status. */
#ifndef FL_CLI_H
#define FL_CLI_H
int cli_check(const char *path);                 /* cli/check.c */
int cli_serve(int argc, char **argv);            /* cli/serve.c */
int cli_ctl(int argc, char **argv);              /* cli/ctl.c */
int cli_fleet(int argc, char **argv);            /* cli/fleet.c: ctl --fleet */
int cli_verify(int argc, char **argv);           /* cli/verify.c */
int cli_run(int argc, char **argv);              /* cli/run.c */
int cli_ca(int argc, char **argv);               /* cli/ca.c */
int cli_console(int argc, char **argv);          /* cli/console.c */
int cli_toxiproxy(int argc, char **argv);        /* cli/toxiproxy.c: toxiproxy-server */
#endif
