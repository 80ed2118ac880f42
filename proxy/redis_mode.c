/* redis_mode.c -- placeholder while the RESP engine is written: redis proxies forward as tcp. */
#include "redis_mode.h"
#include "proxy.h"
#include <stdlib.h>
#include <string.h>
void resp_conn_init(struct conn *c) { (void)c; }
void resp_on_read(struct conn *c, struct pipe *p, struct evbuffer *in) { (void)c; (void)p; (void)in; }
int resp_on_eof(struct conn *c, struct pipe *p) { (void)c; (void)p; return 0; }
void resp_conn_free(struct conn *c) { (void)c; }
char *resp_stats_json(const struct fl_proxy *px) { (void)px; return strdup("{}"); }
