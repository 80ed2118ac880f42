/* admin_toxi_int.h -- what the two files of the Toxiproxy face share (control/admin_toxi.c: proxies,
 * toxics, routing; control/admin_toxi_pop.c: /populate, -config, /version and /metrics of
 * toxiproxy-server). Internal to control/admin_toxi*.c. */
#ifndef FL_ADMIN_TOXI_INT_H
#define FL_ADMIN_TOXI_INT_H
#define FL_ADMIN_INTERNAL
#include "control/admin.h"
#include "proxy/proxy.h"
#include "proxy/protocol.h"

/* A proxy as Toxiproxy shows it (with its toxics). New reference. */
json_t *toxi_proxy_json(const struct fl_proxy *px);
/* A proxy spec from a Toxiproxy proxy object. at is "" or " at proxy N" (populate). 0, or -1
 * after a 400/403 reply (the reach policy applies unless r->trusted). */
int toxi_spec_from_json(struct adm_req *r, json_t *o, const char *at, struct proxy_spec *sp);
/* A fault built from a Toxiproxy toxic object for proxy pxname of protocol proto (not attached:
 * the caller owns it), or NULL after a 400 reply naming `at`. */
struct fault *toxi_fault_from_json(struct adm_req *r, json_t *j, const char *pxname, const struct protocol *proto,
                                   const char *at);
/* The bound port written back into a spec that asked for port 0. */
void toxi_fix_port(struct fl_proxy *px);
void toxi_remove_all_faults(struct fl_proxy *px);

/* POST /populate (admin_toxi_pop.c); GET /version's object. */
void toxi_populate(struct adm_req *r);
json_t *toxi_version_json(void);
#endif
