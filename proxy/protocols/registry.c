/* registry.c -- every wire protocol, one line each (proxy/protocol.h). The first is the
 * default of a [proxy] without `mode`. */
#include "proxy/protocol.h"
#include "faults/fault.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

extern const struct protocol protocol_tcp, protocol_http, protocol_postgres, protocol_redis, protocol_http2,
    protocol_grpc, protocol_forward,
    protocol_dns;

const struct protocol *const protocols[] = {
    &protocol_tcp,
    &protocol_http,
    &protocol_postgres,
    &protocol_redis,
    &protocol_http2,
    &protocol_grpc,
    &protocol_forward,
    &protocol_dns,
    NULL,
};

const struct protocol *protocol_find(const char *name)
{
    for (int i = 0; protocols[i]; i++)
        if (strcasecmp(name, protocols[i]->name) == 0) return protocols[i];
    return NULL;
}

const char *protocol_names(void)
{
    static char text[256];
    if (text[0]) return text;
    size_t o = 0;
    for (int i = 0; protocols[i] && o < sizeof(text); i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", i == 0 ? "" : protocols[i + 1] ? ", " : " or ",
                              protocols[i]->name);
    return text;
}

const char *protocol_article(const struct protocol *p)
{
    return strchr("aeiouh", p->name[0]) ? "an" : "a";   /* "an http", "a postgres" */
}

const struct protocol *protocol_for_fault(const struct fault_type *t)
{
    if (!(t->flags & FT_PROTOCOL_ONLY)) return NULL;
    for (int i = 0; protocols[i]; i++)
        if (t->flags & protocols[i]->fault_flag) return protocols[i];
    return NULL;
}

int protocol_accepts(const struct protocol *p, const struct fault_type *t)
{
    if (t->flags & FT_PROTOCOL_ONLY) return (t->flags & p->fault_flag) != 0;
    return !p->accepts || p->accepts(t);
}

const char *protocol_refusal(const struct protocol *p, const struct fault_type *t, char *buf, size_t len)
{
    const struct protocol *need = protocol_for_fault(t);
    if (need && !(t->flags & p->fault_flag)) snprintf(buf, len, "needs %s %s proxy", protocol_article(need), need->name);
    else snprintf(buf, len, "does not act on %s %s proxy (%s)", protocol_article(p), p->name, p->refuses ? p->refuses : "refused");
    return buf;
}

int protocol_owns_fault(const struct protocol *p, const struct fault *f)
{
    return (f->type->flags & p->fault_flag) || (p->fault_inside && p->fault_inside(f));
}
