/* http_rec.h -- what http mode tells the recorder per request.
 *
 * The recorder (proxy/record.c) is written in parallel; until its rec_request() lands on
 * main this header declares the agreed interface and proxy/http_rec.c gives weak no-op
 * definitions, which the real ones replace at link time. Once record.h carries these
 * declarations this file shrinks to `#include "record.h"`.
 */
#ifndef FL_HTTP_REC_H
#define FL_HTTP_REC_H

#include <stddef.h>
#include <stdint.h>
#include "record.h"

struct conn;

/* Times are monotonic microseconds (fl_now_us), 0 = did not happen. Strings are borrowed for
 * the duration of the call (NULL or "" = absent). */
struct rec_request {
    const char *method, *path, *host;
    const char *request_id;      /* X-Request-Id value */
    const char *fault;           /* fault applied to this request */
    int status;                  /* 0 = no response */
    int64_t t_req;               /* request head received from the client */
    int64_t t_forwarded;         /* request forwarded upstream */
    int64_t t_resp_head;         /* response head received */
    int64_t t_done;              /* response complete */
    int64_t t_abandoned;         /* the client closed before the response completed */
    int held_at_end;             /* still held when the run / the fault (keep) ended */
    uint64_t bytes_req, bytes_resp;  /* body bytes */
};
/* A request head arrived (after px->st.inflight++). */
void rec_request_start(struct conn *c);
/* A request finished (answered, abandoned or failed): one `kind=request` event. */
void rec_request(struct conn *c, const struct rec_request *r);

#endif
