/* proxy/protocols/redis.c -- mode = redis: framing RESP2 and RESP3 while it streams.
 *
 * Why by hand: hiredis parses replies for a client into objects (it copies every bulk string
 * and has no notion of commands or of a stream passing through); a proxy needs to know only
 * where each command and each reply ends, without holding them. RESP is line-framed: a type
 * byte, a line, and for bulk types a counted body. Each direction runs one loop over its input
 * buffer: read a line, and for bulk strings let the body stream through (`bulk_left` bytes)
 * untouched. Aggregates (arrays, maps, sets, pushes, attributes) are a stack of "elements
 * left" counters, so a reply of any depth is tracked in constant memory per level.
 *
 * Commands are looked at only at their start: the first PEEK bytes (name and first key) are
 * copied to decide which fault applies; the rest streams. Every command that gets a reply is
 * one entry of a FIFO; each complete top-level reply (pushes excepted) pops one. That pairing
 * is what makes pipelining, MULTI/EXEC (one reply per command, QUEUED included) and blocking
 * commands (BLPOP just takes long) work without special cases, and what lets redis_error
 * answer a command itself in the right place: the local answer waits in the FIFO until every
 * reply before it has passed. Latency and hang close a gate on the client's input: the
 * command and everything after it wait in the socket's input buffer (counted against the
 * proxy's buffer: proxy/conn_relay.c stops reading past it) until the gate opens.
 *
 * Files: redis.c (here) frames and decides; redis_facts.c keeps what the engine knows and tells
 * it (totals, /stats, the record); redis_int.h is what they share.
 *
 * Pub/sub and MONITOR connections pass through: after SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE,
 * MONITOR or CLIENT REPLY OFF|SKIP the connection is forwarded as plain tcp (no framing, no
 * faults) for the rest of its life. RESP3 streamed strings and aggregates (`$?`, `*?`), which
 * Redis never sends, are refused as garbage. Garbage from either side closes the pair and is
 * counted.
 */
#include "proxy/protocols/redis.h"
#include "proxy/protocols/redis_int.h"
#include "faults/redis_fault.h"
#include "proxy/protocols/frame.h"
#include "proxy/proxy.h"
#include "proxy/protocol.h"
#include "common/log.h"
#include "record/record.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESP_LINE_MAX   65536u          /* a status/error line or an inline command (Redis: 64 KiB) */
#define RESP_BULK_MAX   (1ull << 32)    /* a bulk string's length */
#define RESP_AGG_MAX    (1ll << 31)     /* an aggregate's element count */
#define RESP_PEEK_MAX   8192u           /* bytes of a command read to find its name and key */
#define RESP_KEY_MAX    1024u           /* bytes of the first key kept for match_key */
#define RESP_FIFO_MAX   4096u           /* commands outstanding before the client is not read (16 B each) */

static void resp_sess_count(struct resp_sess *s, uint16_t idx, int call, int err)
{
    int i;
    for (i = 0; i < s->nby && s->by[i].idx != idx; i++) {}
    if (i == s->nby) {
        if (s->nby == 16) return;
        s->by[s->nby].idx = idx;
        s->by[s->nby].calls = s->by[s->nby].errors = 0;
        s->nby++;
    }
    s->by[i].calls += (uint32_t)call;
    s->by[i].errors += (uint32_t)err;
}

static uint16_t resp_name_idx(struct resp_totals *t, const char *name)
{
    if (!t) return 0;
    /* a small hash of the name to its row (pipelines repeat a few names millions of times) */
    unsigned h = 0;
    for (const char *p = name; *p; p++) h = h * 31u + (unsigned char)*p;
    h &= 255u;
    for (unsigned k = 0; k < 8; k++) {
        uint8_t r = t->hslot[(h + k) & 255u];
        if (!r) break;
        if (!strcmp(t->names[r - 1].name, name)) return (uint16_t)(r - 1);
    }
    for (int i = 0; i < t->nnames; i++)
        if (!strcmp(t->names[i].name, name)) return (uint16_t)i;
    if (t->nnames < RESP_NAMES_MAX - 1) {
        snprintf(t->names[t->nnames].name, RESP_NAME_MAX, "%s", name);
        for (unsigned k = 0; k < 8; k++)
            if (!t->hslot[(h + k) & 255u]) { t->hslot[(h + k) & 255u] = (uint8_t)(t->nnames + 1); break; }
        return (uint16_t)t->nnames++;
    }
    snprintf(t->names[RESP_NAMES_MAX - 1].name, RESP_NAME_MAX, "(other)");
    t->nnames = RESP_NAMES_MAX;
    return RESP_NAMES_MAX - 1;
}

/* ---- bytes out ---- */

static inline void resp_fwd(struct resp_sess *s, int dir, struct evbuffer *in, size_t n)
{
    frame_fwd(s->fs.c, dir, in, n, s->fs.tmp);
}

static void resp_inject(struct resp_sess *s, const char *data, size_t len)
{
    frame_inject(s->fs.c, s->fs.sink, s->fs.tmp, data, len);
}

static int resp_garbage(struct resp_sess *s, int dir, const char *why)
{
    return frame_garbage(&s->fs, dir, why);
}

/* ---- the FIFO ---- */

static void resp_push(struct resp_sess *s, uint8_t local, uint16_t name, char *error)
{
    if (s->qn == s->qcap) {
        s->q = frame_ring_grow(s->q, sizeof(*s->q), s->qhead, s->qn, &s->qcap, 16);
        s->qhead = 0;
    }
    s->q[(s->qhead + s->qn) % s->qcap] = (struct resp_entry){local, name, error};
    s->qn++;
    if (s->qn > s->peak_inflight) s->peak_inflight = s->qn;
    if (s->tot && s->qn > s->tot->peak_inflight) s->tot->peak_inflight = s->qn;
}

static struct resp_entry *resp_head(struct resp_sess *s) { return s->qn ? &s->q[s->qhead] : NULL; }

static void resp_pop(struct resp_sess *s)
{
    if (!s->qn) return;
    free(s->q[s->qhead].error);
    s->qhead = (s->qhead + 1) % s->qcap;
    s->qn--;
}

static int resp_down_between(const struct resp_sess *s)
{
    const struct resp_dir *d = &s->d[1];
    return d->depth == 0 && d->bulk_left == 0 && d->top == 0;
}

/* Answers the local entries at the head of the FIFO (their turn has come). */
static void resp_flush_local(struct resp_sess *s)
{
    struct resp_entry *h;
    while (!s->dead && resp_down_between(s) && (h = resp_head(s)) && h->local) {
        char line[1100];
        int n = snprintf(line, sizeof(line), "-%s\r\n", h->error ? h->error : "ERR injected by faultline");
        if (n > (int)sizeof(line) - 1) n = (int)sizeof(line) - 1;
        resp_inject(s, line, (size_t)n);
        s->errors_injected++;
        if (s->tot) {
            s->tot->errors_injected++;
            s->tot->names[h->name].injected++;
        }
        resp_pop(s);
    }
}

/* ---- faults ---- */

static struct fault *resp_decide(struct resp_sess *s, const char *name, const char *key)
{
    if (!s->fs.px) return NULL;
    struct fl_proxy *px = s->fs.px;
    for (int i = 0; i < px->nfaults; i++) {
        struct fault *f = px->faults[i];
        if (!(f->type->flags & FT_REDIS_ONLY) || !fault_is_active(f)) continue;
        if (!resp_match_ok(f->cfg, name, key)) continue;
        if (frame_roll(&s->fs, f)) return f;
    }
    return NULL;
}

static void resp_run(struct resp_sess *s, int dir, struct evbuffer *in);

static void resp_run_fs(struct frame_sess *fs, int dir, struct evbuffer *in) { resp_run(resp_of(fs), dir, in); }
static void resp_set_dead(struct frame_sess *fs) { resp_of(fs)->dead = 1; }
static const struct frame_ops resp_ops = {&protocol_redis, "redis_garbage", resp_run_fs, resp_set_dead};

/* struct protocol fault_ended: called for this protocol's own types only (FT_REDIS_ONLY), so
 * f->cfg is a resp_fcfg */
static void resp_fault_ended(struct fault *f)
{
    frame_fault_ended(f, &resp_ops, ((const struct resp_fcfg *)f->cfg)->on_end);
}

/* ---- parsing helpers ---- */

/* The integer after the type byte of a line (b is NUL-terminated). 0 or -1. */
static int resp_int(const char *b, int64_t *out)
{
    const char *p = b;
    int neg = 0;
    if (*p == '-') { neg = 1; p++; }
    if (!*p) return -1;
    int64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -v : v;
    return 0;
}

/* One bulk string "$len\r\n<body>\r\n" at b[o..n). Sets body and blen (blen cut at n).
 * Returns the offset after it, 0 = need more bytes, -1 = not a bulk string. */
static long resp_peek_bulk(const char *b, size_t n, size_t o, const char **body, size_t *blen, size_t *full)
{
    *body = b + n;     /* nothing of the body seen yet */
    *blen = 0;
    *full = 0;
    if (o >= n) return 0;
    if (b[o] != '$') return -1;
    const char *e = memchr(b + o, '\r', n - o);
    if (!e) return n - o > 32 ? -1 : 0;
    if ((size_t)(e - b) + 1 >= n) return 0;
    if (e[1] != '\n' || e - (b + o) > 20) return -1;
    char num[24];
    size_t nl = (size_t)(e - (b + o)) - 1;
    memcpy(num, b + o + 1, nl);
    num[nl] = 0;
    int64_t len;
    if (resp_int(num, &len) < 0 || len < 0 || (uint64_t)len > RESP_BULK_MAX) return -1;
    size_t start = (size_t)(e - b) + 2;
    *body = b + start;
    *full = (size_t)len;
    *blen = start + (size_t)len <= n ? (size_t)len : n - start;
    if (start + (size_t)len + 2 > n) return 0;
    return (long)(start + (size_t)len + 2);
}

static int resp_is_cmd(const char *name, const char *want) { return strcmp(name, want) == 0; }

/* The length of the complete value at p[0..n) (contiguous memory), or 0 when it is not all
 * there or when it needs the careful path's judgement (anything unusual: errors and limits are
 * decided there). Aggregates need no stack: each header adds its elements to the values still
 * expected (an attribute adds its pairs without taking a value's place). A command (client) is
 * an array of bulk strings only. Bounded: at most 64 aggregates and 4096 tokens per value. */
static size_t resp_scan(const char *p, size_t n, int client)
{
    size_t o = 0;
    int64_t left = 1;
    int aggs = 0, tokens = 0;
    while (left > 0) {
        if (o >= n || ++tokens > 4096) return 0;
        char t = p[o];
        if (o == 0 && t == '|') return 0;        /* a reply that starts with an attribute */
        const char *cr = memchr(p + o, '\r', n - o < RESP_LINE_MAX ? n - o : RESP_LINE_MAX);
        if (!cr || (size_t)(cr - p) + 1 >= n || cr[1] != '\n') return 0;
        size_t ll = (size_t)(cr - (p + o));
        size_t next = (size_t)(cr - p) + 2;
        if (client && (o == 0 ? t != '*' : t != '$')) return 0;
        switch (t) {
        case '+': case '-': case ':': case '_': case ',': case '#': case '(':
            if (ll == 0) return 0;
            left--;
            o = next;
            continue;
        default:
            break;
        }
        if (t != '$' && t != '!' && t != '=' && t != '*' && t != '~' && t != '>' && t != '%' && t != '|') return 0;
        /* a count: digits only, or -1 for a null bulk/array */
        if (ll < 2 || ll > 12) return 0;
        int64_t num = 0;
        if (p[o + 1] == '-') {
            if (ll != 3 || p[o + 2] != '1' || (t != '$' && t != '*')) return 0;
            num = -1;
        } else {
            for (size_t i = o + 1; i < o + ll; i++) {
                if (p[i] < '0' || p[i] > '9') return 0;
                num = num * 10 + (p[i] - '0');
            }
        }
        o = next;
        if (t == '$' || t == '!' || t == '=') {
            left--;
            if (num >= 0) {
                if ((uint64_t)num + 2 > n - o) return 0;
                o += (size_t)num + 2;
            }
            continue;
        }
        if (++aggs >= RESP_DEPTH_MAX) return 0;
        if (t == '|') {                          /* annotates the value that follows */
            left += num * 2;
            continue;
        }
        left += (t == '%' ? num * 2 : num > 0 ? num : 0) - 1;
    }
    return o;
}

/* A RESP2/RESP3 type byte (streamed `?` forms excepted; they are refused later). */
static inline int resp_type_ok(char t)
{
    switch (t) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(': case '$': case '!':
    case '=': case '*': case '~': case '>': case '%': case '|':
        return 1;
    default:
        return 0;
    }
}

/* What the start of a command says (resp_parse_multibulk, resp_parse_inline). */
struct resp_cmd {
    char name[RESP_NAME_MAX];    /* upper-cased; bytes that cannot be in a name are '?' */
    char key[RESP_KEY_MAX + 1];  /* the first argument, cut at RESP_KEY_MAX */
    char arg2[16];               /* the first argument upper-cased, cut (CLIENT REPLY ...) */
    int has_key;
    int replies;                 /* 0: Redis answers nothing (*0, *-1, an empty line) */
};

#define RESP_MORE 2   /* resp_cmd_head: the peek needs more bytes */

/* A multibulk command's count, name and first argument from b[0..n) (complete_peek: n is as
 * much as will ever be looked at). 1, RESP_MORE, or -1 (garbage: the session is closed). */
static inline int resp_parse_multibulk(struct resp_sess *s, const char *b, size_t n, int complete_peek,
                                       struct resp_cmd *cmd)
{
    const char *e = memchr(b, '\r', n);
    if (!e || (size_t)(e - b) + 1 >= n) return n > 32 ? resp_garbage(s, 0, "multibulk header too long") : RESP_MORE;
    if (e[1] != '\n') return resp_garbage(s, 0, "multibulk header without CRLF");
    char num[24];
    size_t nl = (size_t)(e - b) - 1;
    if (nl > 20) return resp_garbage(s, 0, "multibulk count too long");
    memcpy(num, b + 1, nl);
    num[nl] = 0;
    int64_t cnt;
    if (resp_int(num, &cnt) < 0 || cnt > 1024 * 1024 || cnt < -1)
        return resp_garbage(s, 0, "bad multibulk count");
    if (cnt <= 0) cmd->replies = 0;       /* Redis answers nothing to *0 / *-1 */
    size_t o = (size_t)(e - b) + 2;
    const char *body;
    size_t blen, full;
    if (cnt >= 1) {
        long r = resp_peek_bulk(b, n, o, &body, &blen, &full);
        if (r < 0) return resp_garbage(s, 0, "command element is not a bulk string");
        if (r == 0 && !(complete_peek && blen > 0)) return complete_peek ? resp_garbage(s, 0, "command name too long") : RESP_MORE;
        size_t k = blen < RESP_NAME_MAX - 1 ? blen : RESP_NAME_MAX - 1;
        for (size_t i = 0; i < k; i++) {
            unsigned char ch = (unsigned char)body[i];
            cmd->name[i] = (char)(isalnum(ch) || ch == '_' || ch == '|' || ch == '-' || ch == '.' ? toupper(ch) : '?');
        }
        cmd->name[k] = 0;
        if (r > 0 && cnt >= 2) {
            const char *kb;
            size_t kl, kfull;
            long r2 = resp_peek_bulk(b, n, (size_t)r, &kb, &kl, &kfull);
            if (r2 < 0) return resp_garbage(s, 0, "command element is not a bulk string");
            if (r2 == 0 && !complete_peek && kl < RESP_KEY_MAX) return RESP_MORE;
            size_t kk = kl < RESP_KEY_MAX ? kl : RESP_KEY_MAX;
            memcpy(cmd->key, kb, kk);
            cmd->key[kk] = 0;
            cmd->has_key = 1;
            for (size_t i = 0; i < kk && i < sizeof(cmd->arg2) - 1; i++) cmd->arg2[i] = (char)toupper((unsigned char)kb[i]);
            cmd->arg2[kk < sizeof(cmd->arg2) - 1 ? kk : sizeof(cmd->arg2) - 1] = 0;
        }
    }
    return 1;
}

/* An inline command (one line ending in \n, \r\n tolerated) at off, b[0..n) its first bytes:
 * its name and first argument, and in *inline_len the whole line's length. 1, RESP_MORE, 0
 * (the line's end is not there yet) or -1 (garbage: the session is closed). */
static inline int resp_parse_inline(struct resp_sess *s, struct evbuffer *in, const char *b, size_t n, size_t off,
                                    size_t avail, size_t *inline_len, struct resp_cmd *cmd)
{
    const char *nlp = memchr(b, '\n', n);
    if (!nlp && n < avail && n < RESP_PEEK_MAX) return RESP_MORE;
    if (!nlp) {
        struct evbuffer_ptr ptr;
        evbuffer_ptr_set(in, &ptr, off, EVBUFFER_PTR_SET);
        struct evbuffer_ptr e = evbuffer_search_eol(in, &ptr, NULL, EVBUFFER_EOL_LF);
        if (e.pos < 0) return avail > RESP_LINE_MAX ? resp_garbage(s, 0, "inline command too long") : 0;
        if ((size_t)e.pos - off > RESP_LINE_MAX) return resp_garbage(s, 0, "inline command too long");
        *inline_len = (size_t)e.pos - off + 1;
    } else {
        *inline_len = (size_t)(nlp - b) + 1;
    }
    size_t ll = nlp ? (size_t)(nlp - b) : n;
    size_t i = 0;
    while (i < ll && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r')) i++;
    size_t k = 0;
    while (i < ll && b[i] != ' ' && b[i] != '\t' && b[i] != '\r') {
        unsigned char ch = (unsigned char)b[i++];
        if (k < RESP_NAME_MAX - 1) cmd->name[k++] = (char)(isalnum(ch) || ch == '_' || ch == '-' ? toupper(ch) : '?');
    }
    cmd->name[k] = 0;
    if (!k) cmd->replies = 0;             /* an empty line: Redis answers nothing */
    while (i < ll && (b[i] == ' ' || b[i] == '\t')) i++;
    k = 0;
    while (i < ll && b[i] != ' ' && b[i] != '\t' && b[i] != '\r' && k < RESP_KEY_MAX) cmd->key[k++] = b[i++];
    cmd->key[k] = 0;
    cmd->has_key = k > 0;
    for (size_t j = 0; j < k && j < sizeof(cmd->arg2) - 1; j++) cmd->arg2[j] = (char)toupper((unsigned char)cmd->key[j]);
    cmd->arg2[k < sizeof(cmd->arg2) - 1 ? k : sizeof(cmd->arg2) - 1] = 0;
    return 1;
}

/* The command's fault, if one acts (not on commands queued inside MULTI): a latency or a hang
 * closes the gate (0: wait), an error answers it in its turn (1, or -1 if that closed the
 * session); 2 when none acted. */
static inline int resp_cmd_fault(struct resp_sess *s, const struct resp_cmd *cmd, uint16_t idx)
{
    struct resp_dir *d = &s->d[0];
    const char *name = cmd->name;
    int faults_apply = !s->in_multi || resp_is_cmd(name, "EXEC") || resp_is_cmd(name, "DISCARD") ||
                       resp_is_cmd(name, "MULTI");
    if (!s->fs.px || !s->fs.px->nfaults) faults_apply = 0;
    struct fault *f = faults_apply && s->fs.px && s->fs.px->nfaults ? resp_decide(s, name, cmd->has_key ? cmd->key : NULL) : NULL;
    if (!f) return 2;
    struct resp_fcfg *fc = f->cfg;
    if (fc->act == RESPA_LATENCY && s->fs.c) {   /* detached: no time passes, no gate */
        d->decided = 1;
        d->in_cmd = 0;
        frame_delay(&s->fs, dist_sample(&fc->lat, &fc->lat_s), 0);
        return 0;
    }
    if (fc->act == RESPA_HANG) {
        d->decided = 1;
        d->in_cmd = 0;
        frame_hold(&s->fs, f);
        return 0;
    }
    if (fc->act == RESPA_ERROR) {
        char *line;
        if (fc->moved) {
            line = malloc(400);
            if (!line) abort();
            snprintf(line, 400, "%s %u %s", fc->error, resp_key_slot(cmd->key, strlen(cmd->key)),
                     fc->moved_to ? fc->moved_to : "127.0.0.1:7000");
        } else {
            line = strdup(fc->error ? fc->error : "ERR injected by faultline");
            if (!line) abort();
        }
        d->decided = 0;
        d->discard = 1;
        resp_push(s, 1, idx, line);
        resp_flush_local(s);
        return s->dead ? -1 : 1;
    }
    return 2;
}

/* State the rest of the stream depends on, after a command that goes to the server (by first
 * letter: most commands are none of these). */
static inline void resp_cmd_state(struct resp_sess *s, const char *name, const char *arg2)
{
    switch (name[0]) {
    case 'M':
        if (resp_is_cmd(name, "MULTI")) s->in_multi = 1;
        else if (resp_is_cmd(name, "MONITOR")) s->raw_after = 1;
        break;
    case 'E': case 'D':
        if (resp_is_cmd(name, "EXEC") || resp_is_cmd(name, "DISCARD")) s->in_multi = 0;
        break;
    case 'S': case 'P':
        if (resp_is_cmd(name, "SUBSCRIBE") || resp_is_cmd(name, "PSUBSCRIBE") || resp_is_cmd(name, "SSUBSCRIBE"))
            s->raw_after = 1;
        break;
    case 'C':
        if (resp_is_cmd(name, "CLIENT") && !strncmp(arg2, "REPLY", 6)) s->raw_after = 1;
        break;
    case 'Q':
        if (resp_is_cmd(name, "QUIT")) s->fs.client_ended = 1;
        break;
    default:
        break;
    }
}

/* The start of a command at off (between commands, not gated), its first `want` bytes looked
 * at: parses it, decides its fault and sets the framing up. 1 = go on, 0 = wait (more bytes, or
 * gated), RESP_MORE = look at more bytes, -1 = dead. For inline commands the whole line is
 * consumed by the caller (*inline_len set); multibulk commands are framed by the loop. */
static int resp_cmd_head(struct resp_sess *s, struct evbuffer *in, const struct frame_view *v, size_t off,
                         size_t avail, size_t *inline_len, size_t want)
{
    struct resp_dir *d = &s->d[0];
    size_t n = avail < want ? avail : want;
    char bcopy[RESP_PEEK_MAX];
    const char *b;
    if (off + n <= v->len) {
        b = v->p + off;                          /* in place: it lies in the first chain */
    } else {
        struct evbuffer_ptr ptr;
        evbuffer_ptr_set(in, &ptr, off, EVBUFFER_PTR_SET);
        evbuffer_copyout_from(in, &ptr, bcopy, n);
        b = bcopy;
    }
    struct resp_cmd cmd;
    cmd.name[0] = cmd.key[0] = cmd.arg2[0] = 0;
    cmd.has_key = 0;
    cmd.replies = 1;
    *inline_len = 0;
    int multibulk = b[0] == '*';
    int rc = multibulk ? resp_parse_multibulk(s, b, n, n == RESP_PEEK_MAX, &cmd)
                       : resp_parse_inline(s, in, b, n, off, avail, inline_len, &cmd);
    if (rc != 1) return rc;
    if (multibulk) d->in_cmd = 1;
    if (!cmd.replies) {
        d->decided = 0;
        return 1;
    }
    uint16_t idx = resp_name_idx(s->tot, cmd.name);
    if (!d->decided) {
        s->commands++;
        resp_sess_count(s, idx, 1, 0);
        if (s->tot) {
            s->tot->commands++;
            s->tot->names[idx].calls++;
        }
        int frc = resp_cmd_fault(s, &cmd, idx);
        if (frc != 2) return frc;
    }
    d->decided = 0;
    resp_push(s, 0, idx, NULL);
    resp_cmd_state(s, cmd.name, cmd.arg2);
    return 1;
}

/* Most commands are short: look at 256 bytes first, at up to RESP_PEEK_MAX only if needed (a
 * pipelining client has many commands buffered; copying 8 KiB per command would dominate). */
static int resp_cmd_start(struct resp_sess *s, struct evbuffer *in, const struct frame_view *v, size_t off,
                          size_t avail, size_t *inline_len)
{
    int rc = resp_cmd_head(s, in, v, off, avail, inline_len, 256);
    if (rc == RESP_MORE) rc = resp_cmd_head(s, in, v, off, avail, inline_len, RESP_PEEK_MAX);
    return rc == RESP_MORE ? 0 : rc;
}

/* ---- the loop ---- */

/* A token finished an element: pops finished aggregates. 1 if a top-level value is complete. */
static int resp_elem_done(struct resp_dir *d)
{
    while (d->depth > 0) {
        struct resp_agg *a = &d->stack[d->depth - 1];
        if (--a->left > 0) return 0;
        int attr = a->attr;
        d->depth--;
        if (attr) return 0;          /* an attribute annotates the value that follows */
    }
    return 1;
}

/* A complete top-level value passed (its bytes are forwarded or discarded). */
static void resp_value_done(struct resp_sess *s, int dir)
{
    struct resp_dir *d = &s->d[dir];
    uint8_t top = d->top;
    d->top = 0;
    if (dir == 0) {
        d->in_cmd = 0;
        d->discard = 0;
        if (s->raw_after) s->raw = 1;
        return;
    }
    if (top == '>') {
        s->pushes++;
        if (s->tot) s->tot->pushes++;
        return;
    }
    struct resp_entry *h = resp_head(s);
    int err = top == '-' || top == '!';
    if (!h || h->local) {
        if (s->tot) s->tot->unsolicited++;
        return;
    }
    s->replies++;
    s->fs.responses++;                     /* close_after's requests (frame_read_done) */
    if (s->tot) {
        s->tot->replies++;
        if (err) {
            s->tot->errors_server++;
            s->tot->names[h->name].errors++;
        }
    }
    if (err) {
        s->errors_server++;
        resp_sess_count(s, h->name, 0, 1);
    }
    resp_pop(s);
}

/* Where resp_run stands in its input: framed bytes at the front still to forward (off), the
 * buffer's length and its first chain, re-read only when its front changes. */
struct resp_cur {
    size_t off, len;
    struct frame_view v;
    int vstale;
};

/* Forwards the framed bytes (a local answer or a drop goes after them). Inlined, as the macro it
 * was: the framing loop runs it per value. */
static inline __attribute__((always_inline)) void resp_cur_flush(struct resp_sess *s, int dir, struct evbuffer *in, struct resp_cur *k)
{
    if (!k->off) return;
    resp_fwd(s, dir, in, k->off);
    k->off = 0;
    k->len = evbuffer_get_length(in);
    k->vstale = 1;
}

/* n bytes of the current value are framed: passed on with the rest, or dropped (a command
 * answered locally). */
static inline __attribute__((always_inline)) void resp_cur_consume(struct resp_sess *s, int dir, struct evbuffer *in, struct resp_cur *k, size_t n)
{
    if (s->d[dir].discard) {
        resp_cur_flush(s, dir, in, k);
        evbuffer_drain(in, n);
        k->len -= n;
        k->vstale = 1;
    } else {
        k->off += n;
    }
}

enum resp_tok { RESP_TOK_NEXT = 0, RESP_TOK_VALUE, RESP_TOK_WAIT, RESP_TOK_DEAD };

/* The careful path: one token at k->off (a line: type byte, payload, CRLF), read in place when
 * it lies in the first chain (almost always: a read lands in one chain), copied out when it
 * straddles two. RESP_TOK_NEXT: framed, the value goes on; RESP_TOK_VALUE: a top-level value
 * ended; RESP_TOK_WAIT: the line is not all there; RESP_TOK_DEAD: garbage, the session closed. */
static inline enum resp_tok resp_token(struct resp_sess *s, int dir, struct evbuffer *in, struct resp_cur *k,
                                       size_t avail)
{
    struct resp_dir *d = &s->d[dir];
    char b[40];
    size_t ll = 0, cl;
    const char *lp = NULL;
    char t0;
    if (k->off < k->v.len) {
        const char *st = k->v.p + k->off;
        size_t room = k->v.len - k->off;
        t0 = st[0];
        if (!resp_type_ok(t0)) goto garbage_type;
        const char *cr = memchr(st, '\r', room < RESP_LINE_MAX + 1 ? room : RESP_LINE_MAX + 1);
        if (cr && (size_t)(cr - st) + 1 < room && cr[1] == '\n') {
            lp = st;
            ll = (size_t)(cr - st);
        }
    }
    if (lp) {
        cl = ll < sizeof(b) - 1 ? ll : sizeof(b) - 1;
        memcpy(b, lp, cl);
    } else {
        struct evbuffer_ptr ptr, e;
        size_t eol;
        evbuffer_ptr_set(in, &ptr, k->off, EVBUFFER_PTR_SET);
        evbuffer_copyout_from(in, &ptr, &t0, 1);
        if (!resp_type_ok(t0)) goto garbage_type;   /* say so now, not after a line that never ends */
        e = evbuffer_search_eol(in, &ptr, &eol, EVBUFFER_EOL_CRLF_STRICT);
        if (e.pos < 0) {
            if (avail > RESP_LINE_MAX) goto garbage_long;
            return RESP_TOK_WAIT;
        }
        ll = (size_t)e.pos - k->off;
        cl = ll < sizeof(b) - 1 ? ll : sizeof(b) - 1;
        if (ll && ll <= RESP_LINE_MAX) evbuffer_copyout_from(in, &ptr, b, cl);
    }
    if (ll == 0) { resp_cur_flush(s, dir, in, k); resp_garbage(s, dir, "empty line"); return RESP_TOK_DEAD; }
    if (ll > RESP_LINE_MAX) goto garbage_long;
    b[cl] = 0;
    uint8_t t = (uint8_t)b[0];
    if (d->depth == 0 && t != '|') d->top = t;
    int64_t num = 0;
    int done = 0;
    switch (t) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
        if (dir == 0) { resp_cur_flush(s, dir, in, k); resp_garbage(s, 0, "command element is not a bulk string"); return RESP_TOK_DEAD; }
        resp_cur_consume(s, dir, in, k, ll + 2);
        done = resp_elem_done(d);
        break;
    case '$': case '!': case '=':
        if ((dir == 0 && (t != '$' || d->depth == 0)) || ll > 21 || resp_int(b + 1, &num) < 0 ||
            (num < 0 && (num != -1 || t != '$')) || (num > 0 && (uint64_t)num > RESP_BULK_MAX)) {
            resp_cur_flush(s, dir, in, k);
            resp_garbage(s, dir, dir == 0 ? "bad bulk string in command" : "bad bulk length");
            return RESP_TOK_DEAD;
        }
        resp_cur_consume(s, dir, in, k, ll + 2);
        if (num < 0) done = resp_elem_done(d);
        else d->bulk_left = (uint64_t)num + 2;
        break;
    case '*': case '~': case '>': case '%': case '|':
        if ((dir == 0 && (t != '*' || d->depth > 0)) || ll > 21 || resp_int(b + 1, &num) < 0 ||
            (num < 0 && (num != -1 || t != '*')) || num > RESP_AGG_MAX) {
            resp_cur_flush(s, dir, in, k);
            resp_garbage(s, dir, dir == 0 ? "bad multibulk header" : "bad aggregate header");
            return RESP_TOK_DEAD;
        }
        resp_cur_consume(s, dir, in, k, ll + 2);
        if (num <= 0) {
            if (t != '|') done = resp_elem_done(d);   /* empty / null aggregate is a value */
        } else {
            if (d->depth >= RESP_DEPTH_MAX) {
                resp_cur_flush(s, dir, in, k);
                resp_garbage(s, dir, "aggregates nested too deep");
                return RESP_TOK_DEAD;
            }
            int64_t n2 = (t == '%' || t == '|') ? num * 2 : num;
            d->stack[d->depth++] = (struct resp_agg){n2, (uint8_t)(t == '|')};
        }
        break;
    default:
        goto garbage_type;
    }
    return done ? RESP_TOK_VALUE : RESP_TOK_NEXT;
garbage_type:
    resp_cur_flush(s, dir, in, k);
    resp_garbage(s, dir, "unknown RESP type");
    return RESP_TOK_DEAD;
garbage_long:
    resp_cur_flush(s, dir, in, k);
    resp_garbage(s, dir, "line too long");
    return RESP_TOK_DEAD;
}

/* Frames what waits in `in` (dir 0 = the client's input, 1 = the server's): commands and
 * replies that lie whole in the first chain pass in one step each; anything else token by token
 * (resp_token), bulk bodies `bulk_left` bytes at a time; the framed bytes go on in one forward
 * per read. */
static void resp_run(struct resp_sess *s, int dir, struct evbuffer *in)
{
    struct resp_dir *d = &s->d[dir];
    int rerun_client = 0;
    struct resp_cur k = {0, evbuffer_get_length(in), {NULL, 0}, 1};
    for (;;) {
        if (s->dead) return;
        size_t avail = k.len - k.off;
        if (s->raw) { k.off += avail; break; }
        if (d->bulk_left) {
            size_t n = avail < d->bulk_left ? avail : (size_t)d->bulk_left;
            if (!n) break;
            resp_cur_consume(s, dir, in, &k, n);
            d->bulk_left -= n;
            if (d->bulk_left == 0 && resp_elem_done(d)) goto value_done;
            continue;
        }
        if (!avail) break;
        if (dir == 0 && d->depth == 0 && !d->in_cmd) {
            if (s->fs.gate_until) break;
            if (s->qn >= RESP_FIFO_MAX) { s->fifo_full = 1; break; }
            if (frame_client_backlog(&s->fs)) break;
            size_t inl;
            if (k.vstale) { frame_view_get(in, &k.v); k.vstale = 0; }
            int rc = resp_cmd_start(s, in, &k.v, k.off, avail, &inl);
            if (rc < 0) return;
            if (rc == 0) break;
            if (!d->in_cmd) {       /* inline (or an empty command): the whole line goes now */
                if (!inl) continue;
                resp_cur_consume(s, dir, in, &k, inl);
                resp_value_done(s, 0);
                continue;
            }
            /* the whole command in the first chain: passed in one step */
            size_t whole = k.off < k.v.len ? resp_scan(k.v.p + k.off, k.v.len - k.off, 1) : 0;
            if (whole) {
                resp_cur_consume(s, dir, in, &k, whole);
                d->top = 0;
                goto value_done;
            }
        }
        if (k.vstale) { frame_view_get(in, &k.v); k.vstale = 0; }
        if (dir == 1 && d->depth == 0 && k.off < k.v.len) {
            /* a whole reply in the first chain: passed in one step */
            size_t whole = resp_scan(k.v.p + k.off, k.v.len - k.off, 0);
            if (whole) {
                d->top = (uint8_t)k.v.p[k.off];
                k.off += whole;
                goto value_done;
            }
        }
        enum resp_tok t = resp_token(s, dir, in, &k, avail);
        if (t == RESP_TOK_DEAD) return;
        if (t == RESP_TOK_WAIT) break;
        if (t == RESP_TOK_NEXT) continue;
    value_done:
        if (dir == 1) {
            resp_value_done(s, 1);
            struct resp_entry *h = resp_head(s);
            if (h && h->local) {
                resp_cur_flush(s, dir, in, &k);
                resp_flush_local(s);
            }
            if (s->fifo_full) { s->fifo_full = 0; rerun_client = 1; }
        } else {
            resp_value_done(s, 0);
        }
    }
    resp_cur_flush(s, dir, in, &k);
    if (rerun_client) frame_rerun_client(&s->fs);
}

/* ---- connection glue ---- */

void resp_conn_init(struct conn *c)
{
    struct resp_sess *s = frame_sess_new(sizeof(*s), &resp_ops);
    s->tot = resp_totals_for(c->px->spec.name);
    frame_sess_open(&s->fs, c, &s->tot->h);
}

void resp_on_read(struct conn *c, struct pipe *p, struct evbuffer *in)
{
    struct resp_sess *s = c->proto;
    int was_raw = s->raw;
    resp_run(s, p->dir, in);
    if (!was_raw && s->raw && s->tot) s->tot->passthrough++;
    frame_read_done(&s->fs, p, in);
}

int resp_on_eof(struct conn *c, struct pipe *p)
{
    struct resp_sess *s = c->proto;
    return frame_eof(&s->fs, p, s->dead);
}

static void resp_sess_release(struct resp_sess *s)
{
    for (size_t i = 0; i < s->qn; i++) free(s->q[(s->qhead + i) % s->qcap].error);
    free(s->q);
    frame_sess_release(&s->fs);
}

void resp_conn_free(struct conn *c)
{
    struct resp_sess *s = c->proto;
    if (!s) return;
    frame_sess_close(&s->fs);
    uint64_t inflight = resp_inflight(s);
    int held = s->fs.gate_until == INT64_MAX;
    if (c->closed_by == CLOSER_CLIENT && s->tot) {
        s->tot->abandoned_inflight += inflight;
        if (held) s->tot->abandoned_held++;
    }
    char by[16 * 48] = "";
    size_t o = 0;
    for (int i = 0; i < s->nby && s->tot && o < sizeof(by); i++)
        o += (size_t)snprintf(by + o, sizeof(by) - o, "%s%s:%u/%u", i ? "," : "", s->tot->names[s->by[i].idx].name,
                              s->by[i].calls, s->by[i].errors);
    log_info("redis_session",
             "id=%llu proxy=%s commands=%llu replies=%llu errors_server=%llu errors_injected=%llu pushes=%llu "
             "peak_inflight=%llu inflight_at_close=%llu held_at_close=%s passthrough=%s closed_by=%s by_command=%s",
             (unsigned long long)c->id, log_q(c->px->spec.name), (unsigned long long)s->commands,
             (unsigned long long)s->replies, (unsigned long long)s->errors_server,
             (unsigned long long)s->errors_injected, (unsigned long long)s->pushes,
             (unsigned long long)s->peak_inflight, (unsigned long long)inflight, held ? "yes" : "no",
             s->raw ? "yes" : "no", closer_str(c->closed_by), by[0] ? by : "-");
    resp_sess_release(s);
}

/* ---- detached (fuzzing) ---- */

struct resp_sess *resp_sess_new_detached(struct evbuffer *sink)
{
    struct resp_sess *s = frame_sess_new(sizeof(*s), &resp_ops);
    s->fs.sink = sink;
    return s;
}

void resp_sess_detached_faults(struct resp_sess *s, struct fl_proxy *px)
{
    s->fs.px = px;
}

int resp_feed(struct resp_sess *s, int dir, struct evbuffer *in)
{
    /* no time passes here: a latency gate (never set detached: the command just waits for the
     * next feed) and a hang, which ends (as with on_end = release) at the next feed from the
     * server */
    frame_feed_clock(&s->fs, dir);
    if (!s->dead) resp_run(s, dir & 1, in);
    return s->dead ? -1 : 0;
}

void resp_sess_free(struct resp_sess *s)
{
    if (s) resp_sess_release(s);
}

/* ---- the protocol (proxy/protocol.h) ---- */

const struct protocol protocol_redis = {
    .name = "redis",
    .flags = PROTO_KEEPS_INPUT,
    .fault_flag = FT_REDIS_ONLY,
    .conn_init = resp_conn_init,
    .conn_free = resp_conn_free,
    .on_read = resp_on_read,
    .on_eof = resp_on_eof,
    .on_drain = frame_on_drain,
    .idle_state = frame_idle_state,
    .fault_ended = resp_fault_ended,
    .stats_json = resp_stats_json,
    .conn_facts = resp_conn_facts,
    .totals_facts = resp_totals_facts,
};
