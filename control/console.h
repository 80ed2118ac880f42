/* control/console.h -- the game-day console: a web page the admin listener serves at /console,
 * its login and sessions, and the run's verdicts it shows (docs/console.md).
 *
 * What: the page's files (control/console_assets/, compiled into the binary by the Makefile as
 * a generated C file: no CDN, works offline); POST /console/login, which trades the admin token
 * for a session: an HttpOnly, SameSite=Strict cookie holding a random id, and a CSRF value the
 * page keeps and sends as X-Faultline-CSRF on every API call; POST /console/logout; and
 * GET/POST/DELETE /verdicts, where `faultline run --admin` leaves the verdicts of the run it
 * drove for the console to show.
 * Why: the admin API refuses browsers (a web page must not drive a local fault injector); the
 * console is a browser. So a browser is let through only with both the cookie (which another
 * site's page never gets sent: SameSite=Strict) and the CSRF value (which another origin can
 * neither read nor set without a CORS preflight the API refuses), and every state change also
 * carries its own Origin. Anything else from a browser is refused as before.
 * What not: no accounts, no TLS (the listener is loopback or a name in admin_hosts; see
 * docs/security.md); the page only calls the documented API.
 */
#ifndef FL_CONSOLE_H
#define FL_CONSOLE_H
#include <stddef.h>

/* One file of the page, from the generated build/gen/console_assets.c. */
struct console_asset {
    const char *name;            /* file name under control/console_assets/ */
    const unsigned char *data;
    size_t len;
};
extern const struct console_asset console_assets[];   /* ends with {NULL, NULL, 0} */

#define CONSOLE_SESSIONS 64      /* sessions kept at once; a new login past that ends the oldest */
#define CONSOLE_SESSION_S 43200  /* a session's life: 12 h from its login */

/* ---- internal to control/ (the admin API's side) ---- */
#ifdef FL_ADMIN_INTERNAL
struct adm_req;
/* Before the gate: marks the request browser_ok when its path is under /console or it carries
 * X-Faultline-CSRF (control/guard.c then skips only the user-agent rule). */
void console_claim(struct adm_req *r);
/* /console, /console/FILE, /console/login, /console/logout: 1 if the path was the console's (a
 * reply was sent), 0 otherwise. After the gate, before the token. */
int console_route(struct adm_req *r);
/* A request carrying X-Faultline-CSRF: 1 with r->console and r->who set when its session
 * cookie and CSRF value match a live session (and, for a change, its Origin is the API's own);
 * -1 after a 403 naming the rule otherwise; 0 for a request without the header. */
int console_session(struct adm_req *r);
/* GET, POST, DELETE /verdicts: 1 if the path was /verdicts (a reply was sent), 0 otherwise. */
int adm_verdicts_route(struct adm_req *r);
/* Forgets every session and the verdicts (admin_stop). */
void console_reset(void);
#endif

#endif
