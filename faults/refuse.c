/* refuse.c -- while the fault is active the proxy's listener is closed, so new connections are
 * refused by the kernel (ECONNREFUSED); it reopens when the fault ends. Connections already
 * open are untouched.
 *
 * Exposes: missing circuit breakers (every call still tries, and fails fast), retry loops with
 * no backoff (a storm of connects), and startup code that dies when a dependency is down
 * instead of retrying.
 *
 * No keys; direction and probability do not apply (it acts on the listener, not on
 * connections). Refused connections never reach the proxy, so they are not counted.
 */
#include "fault.h"
#include "proxy.h"

static void refuse_activate(struct fault *f)
{
    if (!f->px) return;
    f->px->refusing++;
    proxy_update_listener(f->px);
}

static void refuse_deactivate(struct fault *f)
{
    if (!f->px || f->px->refusing <= 0) return;
    f->px->refusing--;
    proxy_update_listener(f->px);
}

const struct fault_type fault_refuse = {
    .name = "refuse",
    .summary = "close the proxy's listener while active: new connections get ECONNREFUSED",
    .default_dir = FDIR_BOTH,
    .on_activate = refuse_activate,
    .on_deactivate = refuse_deactivate,
    .flags = FT_CONN_LEVEL,
};
