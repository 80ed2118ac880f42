/* record_audit.c -- the audit stream of a run: fl:run:<run>:audit (docs/metrics.md).
 *
 * What: one XADD per change the daemon's control plane reports (control/audit.c), capped with
 * MAXLEN ~ REC_AUDIT_MAXLEN, its TTL the run's retention. Why here: it is the recorder's Redis
 * connection and its queue of records kept until acknowledged (the fault windows' queue), so an
 * audit entry written while Redis is away is sent after the reconnect, and one that cannot be
 * kept is counted in record_dropped like any other record.
 * What not: nothing here knows what a change is; the fields come in as plain pairs.
 */
#include "record/record_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REC_AUDIT_MAXLEN "10000"

/* The command in rec_st->b, sent now or queued behind earlier ones until Redis has it. */
static void send_kept(void)
{
    size_t len;
    const char *cmd = rb_end(&rec_st->b, &len);
    struct rec_cb *cb = rec_xcalloc(sizeof(*cb));
    cb->kind = CB_FAULTWIN;
    cb->cmd = malloc(len);
    if (!cb->cmd) abort();
    memcpy(cb->cmd, cmd, len);
    cb->cmdlen = len;
    cb->bytes = len;
    if (rec_st->nfaultq || rec_send_cmd(cb->cmd, len, cb) < 0) rec_faultq_push(cb, 0);
}

void rec_audit(const char *const *kv, int npairs)
{
    if (!rec_st || rec_st->stopping > 1) return;
    char key[300];
    snprintf(key, sizeof(key), "fl:run:%s:audit", rec_st->run);
    struct rbuf *b = &rec_st->b;
    rb_begin(b);
    rb_str(b, "XADD");
    rb_str(b, key);
    rb_str(b, "MAXLEN");
    rb_str(b, "~");
    rb_str(b, REC_AUDIT_MAXLEN);
    rb_str(b, "*");
    for (int i = 0; i < npairs; i++) rb_kv_str(b, kv[2 * i], kv[2 * i + 1] ? kv[2 * i + 1] : "");
    send_kept();
    rb_expire(key);
    send_kept();
}

const char *rec_instance(void) { return rec_st ? rec_st->inst : ""; }
