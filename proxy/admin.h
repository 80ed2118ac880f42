/* admin.h -- the admin HTTP API (evhttp on [faultline] admin). */
#ifndef FL_ADMIN_H
#define FL_ADMIN_H
#include <stddef.h>
struct fl_server;
/* Binds the admin API unless admin = off. 0, or -1 with the reason (port in use, non-loopback
 * address without admin_token). */
int admin_start(struct fl_server *s, char *err, size_t errlen);
void admin_stop(struct fl_server *s);
#endif
