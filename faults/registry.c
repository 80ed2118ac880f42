/* registry.c -- every fault type, by name. Adding a type: one extern and one line below. */
#include "faults/fault.h"

#include <string.h>

extern const struct fault_type fault_http_error, fault_slow_body, fault_truncate;
extern const struct fault_type fault_pg_error, fault_pg_latency, fault_pg_hang, fault_pg_drop;
extern const struct fault_type fault_redis_error, fault_redis_latency, fault_redis_hang;
extern const struct fault_type fault_dns_error, fault_dns_delay, fault_dns_drop, fault_dns_truncate, fault_dns_flip;
extern const struct fault_type fault_loss, fault_corrupt, fault_close_after, fault_stale_idle,
    fault_connect_delay;
extern const struct fault_type fault_latency, fault_hang, fault_bandwidth, fault_slicer, fault_timeout, fault_drop,
    fault_reset, fault_refuse, fault_blackhole, fault_slow_close, fault_limit_data;
extern const struct fault_type fault_tls_hang, fault_tls_alert, fault_tls_slow, fault_tls_bad_cert, fault_tls_cut;
extern const struct fault_type fault_h2_rst_stream, fault_h2_goaway, fault_h2_max_streams, fault_h2_flow_stall,
    fault_h2_ping_drop, fault_grpc_error, fault_grpc_cut;

const struct fault_type *const fault_types[] = {
    &fault_latency,
    &fault_hang,
    &fault_http_error,
    &fault_slow_body,
    &fault_truncate,
    &fault_pg_error,
    &fault_pg_latency,
    &fault_pg_hang,
    &fault_pg_drop,
    &fault_redis_error,
    &fault_redis_latency,
    &fault_redis_hang,
    &fault_dns_error,
    &fault_dns_delay,
    &fault_dns_drop,
    &fault_dns_truncate,
    &fault_dns_flip,
    &fault_h2_rst_stream,
    &fault_h2_goaway,
    &fault_h2_max_streams,
    &fault_h2_flow_stall,
    &fault_h2_ping_drop,
    &fault_grpc_error,
    &fault_grpc_cut,
    &fault_bandwidth,
    &fault_slicer,
    &fault_timeout,
    &fault_drop,
    &fault_reset,
    &fault_refuse,
    &fault_blackhole,
    &fault_slow_close,
    &fault_limit_data,
    &fault_loss,
    &fault_corrupt,
    &fault_close_after,
    &fault_stale_idle,
    &fault_connect_delay,
    &fault_tls_hang,
    &fault_tls_alert,
    &fault_tls_slow,
    &fault_tls_bad_cert,
    &fault_tls_cut,
    NULL,
};

const struct fault_type *fault_type_find(const char *name)
{
    for (int i = 0; fault_types[i]; i++)
        if (strcmp(fault_types[i]->name, name) == 0) return fault_types[i];
    return NULL;
}
