/* proxy/protocols/postgres.c -- mode = postgres: framing the frontend/backend protocol v3 while it streams.
 *
 * Why by hand: no maintained library in Debian frames the wire protocol for a proxy (libpq is a
 * client; it parses only what a client receives and owns its socket). The framing itself is
 * small: after the startup packet every message is a type byte and a big-endian int32 length
 * that counts itself. So each direction runs one loop over its input buffer: read a 5-byte
 * header, decide, then let the body stream through (`left` bytes) without looking at it.
 * Only messages we must read to decide something are looked at whole, and only up to
 * PG_INSPECT_MAX bytes: the startup packet, Query, Parse, Bind (client), ReadyForQuery and
 * BackendKeyData (server). A result set is never buffered: DataRows are counted from their
 * headers and forwarded in one evbuffer move per read, like the plain tcp path.
 *
 * Ordering: every client "cycle" (a simple Query, a function call, or an extended batch ended
 * by Sync) gets exactly one ReadyForQuery back. A FIFO of cycles pairs them, which is what lets
 * a fault answer a query itself (pg_error) even when the client pipelines: the local answer
 * waits in the FIFO until every answer before it has passed. Per-query latency and hang close a
 * gate on the client's input: the query and everything after it wait (in the socket's input
 * buffer, counted against the proxy's buffer: proxy/conn_relay.c stops reading past it) until the
 * gate opens.
 *
 * Files: postgres.c (here) frames and decides; postgres_facts.c keeps what the engine knows
 * and tells it (totals, /stats, the record); postgres_int.h is what they share.
 *
 * TLS: with `tls = terminate` an SSLRequest is answered 'S' and the session goes on inside TLS
 * (proxy/tls.h; the engine sees the plaintext, every fault applies); with `upstream_tls = on` the
 * transport asks the server for TLS the same way (protocol_postgres.starttls) before anything of
 * the client's is sent. Otherwise an SSLRequest is answered 'N', or with `tls = passthrough` the
 * connection falls back to plain tcp forwarding, with no facts or faults.
 *
 * What it does not do: PostgreSQL 17's direct TLS (sslnegotiation=direct: a ClientHello as the
 * first bytes, garbage here), replication
 * (CopyBoth) beyond forwarding, protocol 2. Garbage from either side closes the pair and is
 * counted.
 */
#include "proxy/protocols/postgres.h"
#include "proxy/protocols/postgres_int.h"
#include "faults/pg_fault.h"
#include "proxy/protocols/frame.h"
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "proxy/tls.h"
#include "common/log.h"
#include "record/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_STARTUP_MAX 10000u        /* the server's own limit (MAX_STARTUP_PACKET_LENGTH) */
#define PG_MSG_MAX     (1u << 30)    /* the server's own limit on a message (1 GiB) */
#define PG_INSPECT_MAX 65536u        /* bytes of a Query/Parse/Bind read to decide (prefix) */
#define PG_FIFO_MAX    4096u         /* cycles outstanding before the client is not read */
#define PG_STMT_TEXT   4096u         /* bytes of a statement's text remembered */

#define PG_CODE_SSL    80877103u
#define PG_CODE_GSS    80877104u
#define PG_CODE_CANCEL 80877102u

/* ---- bytes out ---- */

static inline uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Passes the first n bytes of in on towards dir's destination, through its fault chain. */
static inline void pg_fwd(struct pg_sess *s, int dir, struct evbuffer *in, size_t n)
{
    frame_fwd(s->fs.c, dir, in, n, s->fs.tmp);
}

/* Bytes of faultline's own towards the client (after everything already passed). */
static void pg_inject(struct pg_sess *s, const void *data, size_t len)
{
    frame_inject(s->fs.c, s->fs.sink, s->fs.tmp, data, len);
}

static void pg_inject_error(struct pg_sess *s, const char *sev, const char *code, const char *msg)
{
    size_t ml = strlen(msg), sl = strlen(sev);
    size_t body = 4 + (1 + sl + 1) * 2 + (1 + 5 + 1) + (1 + ml + 1) + 1;
    uint8_t *b = malloc(body + 1);
    if (!b) abort();
    size_t o = 0;
    b[o++] = 'E';
    b[o++] = (uint8_t)(body >> 24); b[o++] = (uint8_t)(body >> 16); b[o++] = (uint8_t)(body >> 8); b[o++] = (uint8_t)body;
    b[o++] = 'S'; memcpy(b + o, sev, sl + 1); o += sl + 1;
    b[o++] = 'V'; memcpy(b + o, sev, sl + 1); o += sl + 1;
    b[o++] = 'C'; memcpy(b + o, code, 6); o += 6;
    b[o++] = 'M'; memcpy(b + o, msg, ml + 1); o += ml + 1;
    b[o++] = 0;
    pg_inject(s, b, o);
    free(b);
}

static void pg_inject_rfq(struct pg_sess *s, char st)
{
    uint8_t z[6] = {'Z', 0, 0, 0, 5, (uint8_t)st};
    pg_inject(s, z, sizeof(z));
}

static void pg_close(struct pg_sess *s, enum closer who, enum close_how how)
{
    frame_close(&s->fs, who, how);
}

static int pg_garbage(struct pg_sess *s, int dir, const char *why)
{
    return frame_garbage(&s->fs, dir, why);
}

/* ---- the FIFO of cycles ---- */

static void pg_push(struct pg_sess *s, const struct pg_cycle *cy)
{
    if (s->qn == s->qcap) {
        s->q = frame_ring_grow(s->q, sizeof(*s->q), s->qhead, s->qn, &s->qcap, 8);
        s->qhead = 0;
    }
    s->q[(s->qhead + s->qn) % s->qcap] = *cy;
    s->qn++;
}

static struct pg_cycle *pg_head(struct pg_sess *s) { return s->qn ? &s->q[s->qhead] : NULL; }

static void pg_pop(struct pg_sess *s)
{
    if (!s->qn) return;
    free(s->q[s->qhead].message);
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qn--;
    s->rows_cycle = 0;
}

static void pg_idle_check(struct pg_sess *s)
{
    if (s->qn == 0 && (s->txs == 'T' || s->txs == 'E') && !s->idle_tx_since) s->idle_tx_since = fl_now_us();
}

/* Answers the local cycles at the head of the FIFO (their turn has come). */
static void pg_flush_local(struct pg_sess *s)
{
    struct pg_cycle *h;
    while (s->phase != PGP_DEAD && s->d[1].left == 0 && (h = pg_head(s)) && h->local) {
        const char *msg = h->message ? h->message : pg_sqlstate_text(h->sqlstate);
        pg_inject_error(s, h->fatal ? "FATAL" : "ERROR", h->sqlstate, msg);
        s->errors_injected++;
        if (s->tot) s->tot->errors_injected++;
        if (h->fatal) {
            pg_pop(s);
            pg_close(s, CLOSER_FAULT, CLOSE_FIN);
            return;
        }
        pg_inject_rfq(s, s->txs ? s->txs : 'I');
        pg_pop(s);
    }
    pg_idle_check(s);
}

/* ---- faults ---- */

/* The first active pg fault whose matchers match and whose roll says yes. */
static struct fault *pg_decide(struct pg_sess *s, const char *query, int startup)
{
    if (!s->fs.px) return NULL;
    struct fl_proxy *px = s->fs.px;
    for (int i = 0; i < px->nfaults; i++) {
        struct fault *f = px->faults[i];
        if (!(f->type->flags & FT_PG_ONLY) || !fault_is_active(f)) continue;
        const struct pg_fcfg *fc = f->cfg;
        int fc_startup = fc->act == PGA_ERROR && fc->at_startup;
        if (startup != fc_startup) continue;
        if (!pg_match_ok(&fc->m, query, s->user, s->app)) continue;
        if (frame_roll(&s->fs, f)) return f;
    }
    return NULL;
}

static void pg_run(struct pg_sess *s, int dir, struct evbuffer *in);
static void pg_run_fs(struct frame_sess *fs, int dir, struct evbuffer *in) { pg_run(pg_of(fs), dir, in); }
static void pg_set_dead(struct frame_sess *fs) { pg_of(fs)->phase = PGP_DEAD; }
static const struct frame_ops pg_ops = {&protocol_postgres, "pg_garbage", pg_run_fs, pg_set_dead};

/* struct protocol fault_ended: called for this protocol's own types only (FT_PG_ONLY), so f->cfg
 * is a pg_fcfg */
static void pg_fault_ended(struct fault *f)
{
    frame_fault_ended(f, &pg_ops, ((const struct pg_fcfg *)f->cfg)->on_end);
}

/* ---- client messages ---- */

/* A NUL-terminated copy of the string at p (at most avail bytes, truncated if no NUL). */
static char *pg_strdup(const uint8_t *p, size_t avail, size_t *used)
{
    const uint8_t *z = memchr(p, 0, avail);
    size_t n = z ? (size_t)(z - p) : avail;
    if (used) *used = z ? n + 1 : avail;
    char *r = malloc(n + 1);
    if (!r) abort();
    memcpy(r, p, n);
    r[n] = 0;
    return r;
}

static void pg_copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

/* Statement names are kept as the server keeps them: their first 63 bytes (NAMEDATALEN - 1; the
 * server's table of prepared statements truncates its keys so), which also bounds what a
 * session remembers to PG_STMTS x (64 + PG_STMT_TEXT) bytes. */
#define PG_STMT_NAME 63

static void pg_stmt_set(struct pg_sess *s, const char *name0, const char *text)
{
    char name[PG_STMT_NAME + 1];
    snprintf(name, sizeof(name), "%s", name0);
    int slot = -1;
    for (int i = 0; i < PG_STMTS; i++)
        if (s->stmts[i].name && !strcmp(s->stmts[i].name, name)) slot = i;
    if (slot < 0) {
        slot = s->stmt_next;
        s->stmt_next = (s->stmt_next + 1) % PG_STMTS;
    }
    free(s->stmts[slot].name);
    free(s->stmts[slot].text);
    s->stmts[slot].name = strdup(name);
    size_t tl = strlen(text);
    if (tl > PG_STMT_TEXT) tl = PG_STMT_TEXT;
    s->stmts[slot].text = strndup(text, tl);
    if (!s->stmts[slot].name || !s->stmts[slot].text) abort();
}

static const char *pg_stmt_get(struct pg_sess *s, const char *name0)
{
    char name[PG_STMT_NAME + 1];
    snprintf(name, sizeof(name), "%s", name0);
    for (int i = 0; i < PG_STMTS; i++)
        if (s->stmts[i].name && !strcmp(s->stmts[i].name, name)) return s->stmts[i].text;
    return NULL;
}

static void pg_cycle_from_fault(struct pg_cycle *cy, const struct pg_fcfg *fc)
{
    memcpy(cy->sqlstate, fc->sqlstate, 6);
    cy->fatal = (uint8_t)fc->fatal;
    free(cy->message);
    cy->message = fc->message ? strdup(fc->message) : NULL;
}

/* The startup packet (or SSLRequest, GSSENCRequest, CancelRequest). 1 = go on, 0 = need more,
 * -1 = dead. */
static int pg_startup(struct pg_sess *s, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in);
    if (avail < 8) return 0;
    uint8_t h[8];
    evbuffer_copyout(in, h, 8);
    uint32_t len = be32(h), code = be32(h + 4);
    if (len < 8 || len > PG_STARTUP_MAX) return pg_garbage(s, 0, "startup packet length out of range");
    if (avail < len) return 0;
    if (code == PG_CODE_SSL || code == PG_CODE_GSS) {
        if (len != 8) return pg_garbage(s, 0, "bad SSLRequest/GSSENCRequest length");
        if (code == PG_CODE_SSL && s->fs.px && s->fs.px->spec.tls.terminate) {
            /* tls = terminate: 'S' in the clear, then the client's handshake (proxy/tls.h); what
             * follows the request in `in` is its start. The startup packet comes inside TLS. */
            evbuffer_drain(in, 8);
            if (tls_starttls_accept(s->fs.c, in, "S", 1) == 0) {
                if (s->tot) s->tot->ssl_terminated++;
                return 1;
            }
            if (s->tot) s->tot->ssl_refused++;
            pg_inject(s, "N", 1);
            return 1;
        }
        if (code == PG_CODE_SSL && s->fs.px && s->fs.px->spec.tls_passthrough) {
            /* the client speaks TLS to the server: nothing to frame from here on */
            if (s->tot) s->tot->ssl_passthrough++;
            s->phase = PGP_RAW;
            pg_fwd(s, 0, in, 8);
            return 1;
        }
        evbuffer_drain(in, 8);
        if (s->tot) {
            if (code == PG_CODE_SSL) s->tot->ssl_refused++;
            else s->tot->gss_refused++;
        }
        pg_inject(s, "N", 1);
        return 1;
    }
    if (code == PG_CODE_CANCEL) {
        if (len != 16) return pg_garbage(s, 0, "bad CancelRequest length");
        uint8_t b[16];
        evbuffer_copyout(in, b, 16);
        uint32_t pid = be32(b + 8), key = be32(b + 12);
        s->is_cancel = 1;
        if (s->tot) s->tot->cancel_requests++;
        if (s->tot) {
            /* sessions of retired proxy objects (a reload) included: their clients time out too */
            for (struct frame_sess *o = s->tot->h.open; o; o = o->onext) {
                struct pg_sess *t = pg_of(o);
                struct conn *c = o->c;
                if (t == s || !t->have_key || t->pid != pid || t->key != key) continue;
                t->cancels++;
                s->cancel_target = c->id;
                int held = o->gate_until != 0;
                if (s->tot) {
                    s->tot->cancels_matched++;
                    if (held) s->tot->cancels_while_held++;
                }
                log_info("pg_cancel", "id=%llu proxy=%s target=%llu backend_pid=%u held=%s user=%s application=%s",
                         (unsigned long long)s->fs.c->id, log_q(s->fs.px->spec.name), (unsigned long long)c->id, pid,
                         held ? "yes" : "no", log_q(t->user), log_q(t->app));
                break;
            }
        }
        s->phase = PGP_RAW;
        pg_fwd(s, 0, in, 16);
        return 1;
    }
    if ((code >> 16) != 3) return pg_garbage(s, 0, "unsupported protocol version");
    const uint8_t *m = evbuffer_pullup(in, len);
    size_t o = 8;
    while (o < len && m[o]) {
        size_t ku, vu;
        char *k = pg_strdup(m + o, len - o, &ku);
        o += ku;
        if (o >= len) { free(k); return pg_garbage(s, 0, "startup parameter without a value"); }
        char *v = pg_strdup(m + o, len - o, &vu);
        o += vu;
        if (!strcmp(k, "user")) pg_copy_field(s->user, sizeof(s->user), v);
        else if (!strcmp(k, "database")) pg_copy_field(s->database, sizeof(s->database), v);
        else if (!strcmp(k, "application_name")) pg_copy_field(s->app, sizeof(s->app), v);
        free(k);
        free(v);
    }
    if (o >= len) return pg_garbage(s, 0, "startup packet not terminated");
    if (s->tot) {
        s->tot->startups++;
        s->grp = pg_group_for(s->tot, s->user, s->app);
        s->grp->conns++;
        if (++s->grp->live > s->grp->peak) s->grp->peak = s->grp->live;
    }
    struct fault *f = pg_decide(s, NULL, 1);
    if (f) {
        const struct pg_fcfg *fc = f->cfg;
        evbuffer_drain(in, len);
        pg_inject_error(s, "FATAL", fc->sqlstate, fc->message ? fc->message : pg_sqlstate_text(fc->sqlstate));
        s->errors_injected++;
        if (s->tot) { s->tot->errors_injected++; s->tot->startup_errors++; }
        pg_close(s, CLOSER_FAULT, CLOSE_FIN);
        return -1;
    }
    s->phase = PGP_AUTH;
    pg_fwd(s, 0, in, len);
    return 1;
}

static void pg_idle_end(struct pg_sess *s)
{
    if (!s->idle_tx_since) return;
    int64_t d = fl_now_us() - s->idle_tx_since;
    s->idle_tx_since = 0;
    s->idle_tx_us += d;
    if (d > s->idle_tx_max_us) s->idle_tx_max_us = d;
    if (s->tot) s->tot->idle_tx_us += (uint64_t)d;
    if (s->grp && d > s->grp->idle_done_max_us) s->grp->idle_done_max_us = d;
}

/* Acts on a query (Q, or B of an extended batch) with fault f. Returns 1 = go on with the
 * message as set up in *d, 0 = gated (the message stays at the head of the input). */
static int pg_act(struct pg_sess *s, struct fault *f, int is_bind, uint32_t total, struct pg_cycle *cy)
{
    struct pg_fcfg *fc = f->cfg;
    struct pg_dir *d = &s->d[0];
    switch (fc->act) {
    case PGA_LATENCY:
        d->decided = 1;
        frame_delay(&s->fs, dist_sample(&fc->lat, &fc->lat_s), 0);
        return s->fs.gate_until ? 0 : 1;
    case PGA_HANG:
        d->decided = 1;
        frame_hold(&s->fs, f);
        return 0;
    case PGA_DROP:
        cy->drop = 1;
        cy->drop_after = fc->after_rows;
        cy->drop_rst = (uint8_t)fc->rst;
        return 1;
    case PGA_ERROR:
        pg_cycle_from_fault(cy, fc);
        if (is_bind) s->batch_discard = 1;
        d->left = total;
        d->discard = 1;
        return 1;
    default:
        return 1;
    }
}

/* One whole-or-prefix client message at the head of in (off == 0). 1 = go on, 0 = wait,
 * -1 = dead. Sets d->left/d->discard for the loop to pass or drop the message. */
static int pg_client_msg(struct pg_sess *s, struct evbuffer *in, uint8_t type, uint32_t len, size_t need)
{
    struct pg_dir *d = &s->d[0];
    uint32_t total = len + 1;
    const uint8_t *m = evbuffer_pullup(in, (ssize_t)need);
    if (!m) return 0;
    if (s->batch_discard) {
        d->left = total;
        d->discard = 1;
        return 1;
    }
    d->left = total;
    d->discard = 0;
    if (type == 'Q') {
        struct pg_cycle cy = {0};
        int decided = d->decided;
        if (!decided) {
            pg_idle_end(s);
            s->queries++;
            if (s->tot) s->tot->queries++;
            if (s->fs.px && s->fs.px->nfaults) {
                char *q = pg_strdup(m + 5, need - 5, NULL);
                struct fault *f = pg_decide(s, q, 0);
                free(q);
                if (f && !pg_act(s, f, 0, total, &cy)) { d->left = 0; return 0; }
            }
        }
        d->decided = 0;
        if (d->discard) {
            cy.local = 1;
            pg_push(s, &cy);
            pg_flush_local(s);
            return s->phase == PGP_DEAD ? -1 : 1;
        }
        pg_push(s, &cy);
        return 1;
    }
    if (type == 'P') {
        size_t u1;
        char *name = pg_strdup(m + 5, need - 5, &u1);
        char *text = pg_strdup(m + 5 + u1, need - 5 - u1, NULL);
        pg_stmt_set(s, name, text);
        free(name);
        free(text);
        pg_idle_end(s);
        s->batch_fwd++;
        return 1;
    }
    /* 'B' */
    if (!d->decided) {
        pg_idle_end(s);
        if (s->fs.px && s->fs.px->nfaults) {
            size_t u1;
            char *portal = pg_strdup(m + 5, need - 5, &u1);
            char *stmt = pg_strdup(m + 5 + u1, need - 5 - u1, NULL);
            const char *text = pg_stmt_get(s, stmt);
            free(portal);
            free(stmt);
            struct fault *f = pg_decide(s, text ? text : "", 0);
            if (f && !pg_act(s, f, 1, total, &s->pend)) { d->left = 0; return 0; }
        }
    }
    d->decided = 0;
    if (!d->discard) s->batch_fwd++;
    return 1;
}

/* Sync: the end of an extended batch. The message is at the head (off == 0 when discarding). */
static void pg_sync(struct pg_sess *s)
{
    struct pg_dir *d = &s->d[0];
    struct pg_cycle cy = s->pend;
    memset(&s->pend, 0, sizeof(s->pend));
    d->left = 5;
    d->discard = 0;
    if (s->batch_discard) {
        s->batch_discard = 0;
        if (s->batch_fwd > 0) {
            cy.err_before_rfq = 1;          /* the server ends the batch; the error goes first */
            pg_push(s, &cy);
        } else {
            d->discard = 1;                 /* the server never hears of this batch */
            cy.local = 1;
            pg_push(s, &cy);
        }
    } else {
        pg_push(s, &cy);
    }
    s->batch_fwd = 0;
}

/* ---- the loop ---- */

static int pg_valid_client_type(uint8_t t)
{
    switch (t) {
    case 'Q': case 'P': case 'B': case 'E': case 'D': case 'C': case 'H': case 'S': case 'X':
    case 'F': case 'd': case 'c': case 'f': case 'p':
        return 1;
    default:
        return 0;
    }
}

static int pg_valid_server_type(uint8_t t)
{
    switch (t) {
    case 'R': case 'K': case 'S': case 'Z': case 'E': case 'N': case 'C': case 'D': case 'T':
    case '1': case '2': case '3': case 'n': case 't': case 's': case 'I': case 'G': case 'H':
    case 'W': case 'd': case 'c': case 'A': case 'V': case 'v':
        return 1;
    default:
        return 0;
    }
}

/* A drop fault on the cycle whose result is streaming now: closes when it is due. */
static int pg_drop_due(struct pg_sess *s, uint8_t type)
{
    struct pg_cycle *h = pg_head(s);
    if (!h || h->local || !h->drop) return 0;
    if (type == 'D') return s->rows_cycle >= h->drop_after;
    return type == 'C' || type == 'I' || type == 'E' || type == 'Z' || type == 's';
}

/* Copies n bytes at offset off of in: from the first chain in place when they lie there (one
 * read lands in one chain), else across chains. */
static inline void pg_peek(struct evbuffer *in, size_t off, void *dst, size_t n)
{
    struct frame_view v;
    frame_view_get(in, &v);
    if (off + n <= v.len) {
        memcpy(dst, v.p + off, n);
        return;
    }
    struct evbuffer_ptr ptr;
    evbuffer_ptr_set(in, &ptr, off, EVBUFFER_PTR_SET);
    evbuffer_copyout_from(in, &ptr, dst, n);
}

/* What a step of the framing loop says: frame the next message, stop (wait for more bytes, or
 * a gate: what was framed is passed on), or stop dead (the session was closed: nothing more). */
enum pg_step { PG_NEXT = 0, PG_WAIT, PG_DEAD };

/* A client message of `len` (its header at *off, avail bytes from there): decides it and sets
 * d->left (and d->discard) for the loop to pass or drop its body. */
static inline enum pg_step pg_client_step(struct pg_sess *s, struct evbuffer *in, size_t *off, size_t avail,
                                          uint8_t type, uint32_t len, size_t imax)
{
    struct pg_dir *d = &s->d[0];
    uint32_t total = len + 1;
#define FLUSH() do { pg_fwd(s, 0, in, *off); *off = 0; } while (0)
    if (!pg_valid_client_type(type)) { FLUSH(); pg_garbage(s, 0, "unknown frontend message type"); return PG_DEAD; }
    if (type == 'Q' || type == 'P' || type == 'B') {
        size_t need = total < imax ? total : imax;
        if (avail < need) return PG_WAIT;
        FLUSH();
        int rc = pg_client_msg(s, in, type, len, need);
        return rc < 0 ? PG_DEAD : rc == 0 ? PG_WAIT : PG_NEXT;
    }
    if (s->batch_discard && type != 'S') {
        FLUSH();
        d->left = total;
        d->discard = 1;
        return PG_NEXT;
    }
    pg_idle_end(s);
    switch (type) {
    case 'S':
        if (s->batch_discard) FLUSH();
        pg_sync(s);
        if (d->discard) {
            evbuffer_drain(in, 5);
            d->left = 0;
            d->discard = 0;
            pg_flush_local(s);
            return PG_NEXT;
        }
        break;
    case 'E':
        s->queries++;
        if (s->tot) s->tot->queries++;
        s->batch_fwd++;
        d->left = total;
        break;
    case 'F': {
        struct pg_cycle cy = {0};
        pg_push(s, &cy);
        d->left = total;
        break;
    }
    case 'X':
        s->fs.client_ended = 1;   /* Terminate */
        if (s->tot) s->tot->terminated++;
        d->left = total;
        break;
    case 'D': case 'C': case 'H':
        s->batch_fwd++;
        d->left = total;
        break;
    default:
        d->left = total;
        break;
    }
    return PG_NEXT;
#undef FLUSH
}

/* A ReadyForQuery (st: its transaction status; its `total` bytes at *off): the cycle at the FIFO
 * head is answered, an error a fault owes goes before it, local answers whose turn came go
 * after it. */
static inline enum pg_step pg_server_rfq(struct pg_sess *s, struct evbuffer *in, size_t *off, uint32_t total,
                                         char st, int *rerun_client)
{
#define FLUSH() do { pg_fwd(s, 1, in, *off); *off = 0; } while (0)
    if (st != 'I' && st != 'T' && st != 'E') { FLUSH(); pg_garbage(s, 1, "bad transaction status"); return PG_DEAD; }
    if (s->phase == PGP_AUTH) {
        s->phase = PGP_READY;
        s->txs = st;
        *off += total;
        return PG_NEXT;
    }
    struct pg_cycle *hc = pg_head(s);
    if (hc && !hc->local && hc->err_before_rfq) {
        FLUSH();
        pg_inject_error(s, "ERROR", hc->sqlstate, hc->message ? hc->message : pg_sqlstate_text(hc->sqlstate));
        s->errors_injected++;
        if (s->tot) s->tot->errors_injected++;
    }
    if (s->txs == 'I' && st != 'I') {
        s->xacts++;
        if (s->tot) s->tot->xacts++;
    }
    s->txs = st;
    s->fs.responses++;                      /* close_after's requests (frame_read_done) */
    *off += total;                          /* forwarded with the rest of the read */
    if (hc && !hc->local) pg_pop(s);
    struct pg_cycle *nh = pg_head(s);
    if (nh && nh->local) {
        FLUSH();                            /* local answers go after this RFQ */
        pg_flush_local(s);
    } else {
        pg_idle_check(s);
    }
    if (s->fifo_full) { s->fifo_full = 0; *rerun_client = 1; }
    return PG_NEXT;
#undef FLUSH
}

/* A server message of `len` (its header at *off, avail bytes from there): counted, and the
 * ones that decide something (BackendKeyData, ReadyForQuery, a drop fault's moment) read. */
static inline enum pg_step pg_server_step(struct pg_sess *s, struct evbuffer *in, size_t *off, size_t avail,
                                          uint8_t type, uint32_t len, int *rerun_client)
{
    struct pg_dir *d = &s->d[1];
    uint32_t total = len + 1;
#define FLUSH() do { pg_fwd(s, 1, in, *off); *off = 0; } while (0)
    if (!pg_valid_server_type(type)) { FLUSH(); pg_garbage(s, 1, "unknown backend message type"); return PG_DEAD; }
    if (s->phase != PGP_AUTH && pg_drop_due(s, type)) {
        struct pg_cycle *hc = pg_head(s);
        FLUSH();
        if (s->tot) s->tot->dropped++;
        if (s->fs.c)
            log_info("pg_drop", "id=%llu proxy=%s rows=%llu close=%s", (unsigned long long)s->fs.c->id,
                     log_q(s->fs.px->spec.name), (unsigned long long)s->rows_cycle, hc->drop_rst ? "rst" : "fin");
        pg_close(s, CLOSER_FAULT, hc->drop_rst ? CLOSE_RST : CLOSE_FIN);
        return PG_DEAD;
    }
    if (type == 'D') {
        s->rows++;
        s->rows_cycle++;
        if (s->tot) s->tot->rows++;
    } else if (type == 'E') {
        s->errors_server++;
        if (s->tot) s->tot->errors_server++;
    } else if (type == 'K' || type == 'Z') {
        if ((type == 'K' && len != 12) || (type == 'Z' && len != 5)) {
            FLUSH();
            pg_garbage(s, 1, "bad BackendKeyData/ReadyForQuery length");
            return PG_DEAD;
        }
        if (avail < total) return PG_WAIT;
        uint8_t b[13];
        pg_peek(in, *off, b, total);
        if (type == 'Z') return pg_server_rfq(s, in, off, total, (char)b[5], rerun_client);
        s->pid = be32(b + 5);
        s->key = be32(b + 9);
        s->have_key = 1;
    }
    d->left = total;
    return PG_NEXT;
#undef FLUSH
}

/* Frames what waits in `in` (dir 0 = the client's input, 1 = the server's): message headers are
 * read and decided, bodies pass (or are dropped) `left` bytes at a time, and the framed bytes
 * go on in one forward per read. */
static void pg_run(struct pg_sess *s, int dir, struct evbuffer *in)
{
    struct pg_dir *d = &s->d[dir];
    size_t off = 0;   /* framed bytes at the front of in, still to forward */
    size_t imax = PG_INSPECT_MAX;
    if (s->fs.c && s->fs.c->px->srv->g.buffer / 2 < imax) imax = s->fs.c->px->srv->g.buffer / 2;
    int rerun_client = 0;
#define FLUSH() do { pg_fwd(s, dir, in, off); off = 0; } while (0)
    for (;;) {
        if (s->phase == PGP_DEAD) return;
        size_t avail = evbuffer_get_length(in) - off;
        if (s->phase == PGP_RAW) { off += avail; break; }
        if (d->left) {
            size_t n = avail < d->left ? avail : d->left;
            if (!n) break;
            if (d->discard) {
                FLUSH();
                evbuffer_drain(in, n);
            } else {
                off += n;
            }
            d->left -= (uint32_t)n;
            continue;
        }
        if (dir == 0) {
            if (s->fs.gate_until) break;
            if (s->qn >= PG_FIFO_MAX) { s->fifo_full = 1; break; }
            if (frame_client_backlog(&s->fs)) break;
            if (s->phase == PGP_STARTUP) {
                FLUSH();
                int rc = pg_startup(s, in);
                if (rc < 0) return;
                if (rc == 0) break;
                continue;
            }
        }
        if (avail < 5) break;
        uint8_t h[5];
        pg_peek(in, off, h, 5);
        uint8_t type = h[0];
        uint32_t len = be32(h + 1);
        if (len < 4 || len > PG_MSG_MAX) { FLUSH(); pg_garbage(s, dir, "message length out of range"); return; }
        enum pg_step rc = dir == 0 ? pg_client_step(s, in, &off, avail, type, len, imax)
                                   : pg_server_step(s, in, &off, avail, type, len, &rerun_client);
        if (rc == PG_DEAD) return;
        if (rc == PG_WAIT) break;
    }
    FLUSH();
#undef FLUSH
    if (rerun_client) frame_rerun_client(&s->fs);
}

/* ---- connection glue ---- */

void pg_conn_init(struct conn *c)
{
    struct pg_sess *s = frame_sess_new(sizeof(*s), &pg_ops);
    s->tot = pg_totals_for(c->px->spec.name);
    frame_sess_open(&s->fs, c, &s->tot->h);
}

void pg_on_read(struct conn *c, struct pipe *p, struct evbuffer *in)
{
    struct pg_sess *s = c->proto;
    pg_run(s, p->dir, in);
    frame_read_done(&s->fs, p, in);
}

int pg_on_eof(struct conn *c, struct pipe *p)
{
    struct pg_sess *s = c->proto;
    return frame_eof(&s->fs, p, s->phase == PGP_DEAD);
}

static void pg_sess_release(struct pg_sess *s)
{
    for (size_t i = 0; i < s->qn; i++) free(s->q[(s->qhead + i) % s->qcap].message);
    free(s->q);
    free(s->pend.message);
    for (int i = 0; i < PG_STMTS; i++) {
        free(s->stmts[i].name);
        free(s->stmts[i].text);
    }
    frame_sess_release(&s->fs);
}

void pg_conn_free(struct conn *c)
{
    struct pg_sess *s = c->proto;
    if (!s) return;
    frame_sess_close(&s->fs);
    int in_tx = s->txs == 'T' || s->txs == 'E';
    if (s->idle_tx_since) {
        int64_t end = c->t_close ? c->t_close : fl_now_us();
        int64_t dd = end - s->idle_tx_since;
        s->idle_tx_us += dd;
        if (dd > s->idle_tx_max_us) s->idle_tx_max_us = dd;
        if (s->tot) s->tot->idle_tx_us += (uint64_t)dd;
        if (s->grp && dd > s->grp->idle_done_max_us) s->grp->idle_done_max_us = dd;
    }
    if (s->grp) s->grp->live--;
    if (in_tx && s->tot) s->tot->closed_in_tx++;
    if (s->fs.gate_until == INT64_MAX && c->closed_by == CLOSER_CLIENT && s->tot) s->tot->abandoned_held++;
    log_info("pg_session",
             "id=%llu proxy=%s user=%s database=%s application=%s cancel_request=%s queries=%llu xacts=%llu "
             "rows=%llu idle_in_tx_ms=%.1f idle_in_tx_max_ms=%.1f in_tx_at_close=%s cancels_received=%llu "
             "errors_server=%llu errors_injected=%llu held_at_close=%s terminate=%s closed_by=%s",
             (unsigned long long)c->id, log_q(c->px->spec.name), log_q(s->user), log_q(s->database), log_q(s->app),
             s->is_cancel ? "yes" : "no", (unsigned long long)s->queries, (unsigned long long)s->xacts,
             (unsigned long long)s->rows, (double)s->idle_tx_us / 1000.0, (double)s->idle_tx_max_us / 1000.0,
             in_tx ? "yes" : "no", (unsigned long long)s->cancels, (unsigned long long)s->errors_server,
             (unsigned long long)s->errors_injected, s->fs.gate_until == INT64_MAX ? "yes" : "no",
             s->fs.client_ended ? "yes" : "no", closer_str(c->closed_by));
    pg_sess_release(s);
}

/* ---- detached (fuzzing) ---- */

struct pg_sess *pg_sess_new_detached(struct evbuffer *sink)
{
    struct pg_sess *s = frame_sess_new(sizeof(*s), &pg_ops);
    s->fs.sink = sink;
    return s;
}

void pg_sess_detached_faults(struct pg_sess *s, struct fl_proxy *px)
{
    s->fs.px = px;
}

int pg_feed(struct pg_sess *s, int dir, struct evbuffer *in)
{
    /* no time passes here: a latency gate opens at the next feed, a hang ends (as with
     * on_end = release) at the next feed from the server */
    frame_feed_clock(&s->fs, dir);
    if (s->phase != PGP_DEAD) pg_run(s, dir & 1, in);
    return s->phase == PGP_DEAD ? -1 : 0;
}

void pg_sess_free(struct pg_sess *s)
{
    if (s) pg_sess_release(s);
}

/* ---- the protocol (proxy/protocol.h) ---- */

/* SSLRequest: length 8, code 80877103; the server answers 'S' (go on with TLS) or 'N' */
static const unsigned char pg_ssl_request[8] = {0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f};
static const struct proto_starttls pg_starttls = {pg_ssl_request, sizeof(pg_ssl_request), 'S'};

const struct protocol protocol_postgres = {
    .name = "postgres",
    .flags = PROTO_KEEPS_INPUT,
    .starttls = &pg_starttls,
    .fault_flag = FT_PG_ONLY,
    .conn_init = pg_conn_init,
    .conn_free = pg_conn_free,
    .on_read = pg_on_read,
    .on_eof = pg_on_eof,
    .on_drain = frame_on_drain,
    .idle_state = frame_idle_state,
    .fault_ended = pg_fault_ended,
    .stats_json = pg_stats_json,
    .conn_facts = pg_conn_facts,
    .totals_facts = pg_totals_facts,
    .state_facts = pg_state_facts,
};
