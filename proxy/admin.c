/* admin.c -- placeholder: the admin API lands with the control-plane issue. */
#include "admin.h"
int admin_start(struct fl_server *s, char *err, size_t errlen) { (void)s; (void)err; (void)errlen; return 0; }
void admin_stop(struct fl_server *s) { (void)s; }
