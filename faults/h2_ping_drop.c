/* h2_ping_drop.c -- while active, the PING frames an HTTP/2 client sends go unanswered (the proxy
 * answers them itself otherwise: PING is per connection, never forwarded).
 *
 * Exposes: keepalive detection. A gRPC client with keepalive (keepalive_time, keepalive_timeout)
 * must close the connection when its PING is not acknowledged in time and open a new one; one
 * without keeps sending calls into a connection it cannot tell is dead.
 *
 * No keys. Per connection: the probability is rolled once per connection; the match_* keys do
 * not apply. Unanswered PINGs are counted (/stats h2.pings_dropped). http2 and grpc proxies only.
 */
#include "faults/fault.h"
#include "faults/http_fault.h"

static void ping_plan(const struct fault *f, struct http_fault_plan *out)
{
    (void)f;
    out->act = HACT_PING_DROP;
}

static const struct fault_http_ops ping_ops = {.plan = ping_plan};

const struct fault_type fault_h2_ping_drop = {
    .name = "h2_ping_drop",
    .summary = "leave the PINGs of HTTP/2 clients unanswered while active",
    .default_dir = FDIR_DOWN,
    .http = &ping_ops,
    .flags = FT_H2_ONLY,
};
