/* record.h -- what the daemon tells the recorder (proxy/record.c). Every call is cheap and
 * never blocks: the recorder queues and batches towards Redis on the same event loop, and
 * counts what it had to drop. With no [faultline] redis configured every call is a no-op.
 */
#ifndef FL_RECORD_H
#define FL_RECORD_H

struct fl_server;
struct fl_proxy;
struct conn;
struct fault;

/* Starts recording for the server's [faultline] settings. 0, or -1 with err (bad URL). A
 * Redis that is down is not an error: the recorder reconnects with backoff. */
int rec_start(struct fl_server *s, char *err, size_t errlen);
void rec_stop(struct fl_server *s);              /* flushes what it can, closes */
void rec_conn_open(struct conn *c);
void rec_conn_close(struct conn *c);             /* c is still fully readable */
void rec_fault_applied(struct fault *f, struct conn *c);
void rec_fault_window(struct fault *f, int active); /* the fault's window opened (1) / closed (0) */
void rec_tick(struct fl_server *s);              /* once per second from the server */
/* The run id in use ("" when not recording). */
const char *rec_run_id(void);

#endif
