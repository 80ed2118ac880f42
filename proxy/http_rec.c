/* http_rec.c -- weak no-op request hooks, replaced by the recorder's real ones when linked. */
#include "http_rec.h"

__attribute__((weak)) void rec_request_start(struct conn *c) { (void)c; }
__attribute__((weak)) void rec_request(struct conn *c, const struct rec_request *r) { (void)c; (void)r; }
