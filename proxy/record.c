/* record.c -- placeholder recorder: every hook is a no-op until the Redis recorder lands. */
#include <stddef.h>
#include "record.h"

int rec_start(struct fl_server *s, char *err, size_t errlen) { (void)s; (void)err; (void)errlen; return 0; }
void rec_stop(struct fl_server *s) { (void)s; }
void rec_conn_open(struct conn *c) { (void)c; }
void rec_conn_close(struct conn *c) { (void)c; }
void rec_fault_applied(struct fault *f, struct conn *c) { (void)f; (void)c; }
void rec_fault_window(struct fault *f, int active) { (void)f; (void)active; }
void rec_tick(struct fl_server *s) { (void)s; }
const char *rec_run_id(void) { return ""; }
