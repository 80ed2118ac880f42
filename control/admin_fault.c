/* admin_fault.c -- a fault as the admin API shows it (GET /faults, the fleet's registry, the
 * console): its spec as given, every attribute with its default, its counters, its state and the
 * time left before it ends by itself. Split from admin.c, which routes and answers. */
#include "faults/fault.h"
#include "faults/scope.h"
#include "proxy/proxy.h"
#include "control/admin.h"
#include "common/clock.h"

#include <jansson.h>
#include <stdint.h>

const char *adm_fault_state(const struct fault *f)
{
    if (f->killed) return "killed";
    return f->phase == FAULT_PENDING ? (f->enabled ? "pending" : "disabled")
           : f->phase == FAULT_ACTIVE ? "active" : "ended";
}

static void attr_to_json(void *ud, const char *k, const char *v) { json_object_set_new(ud, k, json_string(v)); }

/* Milliseconds until the fault ends by duration, ttl or max_fault_duration (as proxy/proxy.c
 * times it), or null: it never ends by itself, has ended, or is killed. */
static json_t *fault_left_json(const struct fault *f)
{
    if (f->killed || f->phase == FAULT_ENDED || !f->px) return json_null();
    int64_t start_at = f->loaded_us + f->start_us, end = INT64_MAX;
    if (f->duration_us) end = start_at + f->duration_us;
    if (f->ttl_us && f->loaded_us + f->ttl_us < end) end = f->loaded_us + f->ttl_us;
    int64_t cap = f->px->srv->g.max_fault_duration_us;
    if (cap && start_at + cap < end) end = start_at + cap;
    if (end == INT64_MAX) return json_null();
    int64_t left = end - fl_now_us();
    return json_integer(left > 0 ? left / 1000 : 0);
}

json_t *adm_fault_json(const struct fault *f)
{
    json_t *spec = json_object(), *attrs = json_object();
    for (int i = 0; i < f->nkv; i++) json_object_set_new(spec, f->kv[i].key, json_string(f->kv[i].value));
    fault_attrs(f, attr_to_json, attrs);
    const struct fault_counters *c = &f->c;
    json_t *cnt = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                            "conns_seen", (json_int_t)c->conns_seen, "conns_affected", (json_int_t)c->conns_affected,
                            "bytes_delayed", (json_int_t)c->bytes_delayed, "bytes_held", (json_int_t)c->bytes_held,
                            "bytes_dropped", (json_int_t)c->bytes_dropped, "closes", (json_int_t)c->closes,
                            "resets", (json_int_t)c->resets, "abandoned", (json_int_t)c->abandoned,
                            "refused", (json_int_t)c->refused, "requests_affected", (json_int_t)c->requests_affected);
    if (f->max_active) {   /* faults/scope.h */
        json_object_set_new(cnt, "active", json_integer((json_int_t)f->n_active));
        json_object_set_new(cnt, "capped", json_integer((json_int_t)f->capped));
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "name", f->name, "proxy", f->proxy, "type",
                          f->type->name, "state", adm_fault_state(f), "source", f->from_api ? "api" : "profile", "spec",
                          spec, "attributes", attrs, "counters", cnt);
    json_object_set_new(o, "left_ms", fault_left_json(f));
    /* the wall clock when it began acting (a page opened later draws it from there), or null */
    json_object_set_new(o, "active_since_ms", f->phase == FAULT_ACTIVE && f->active_since_us
                                                  ? json_integer((json_int_t)((fl_wall_us() - (fl_now_us() - f->active_since_us)) / 1000))
                                                  : json_null());
    return o;
}

