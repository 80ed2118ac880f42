/* tcp.c -- mode = tcp: bytes relayed as they are, no framing.
 *
 * Nothing to implement: with no per-connection state (c->proto stays NULL) proxy/conn_relay.c relays
 * both directions on its fast path -- one recv() and one send() per read while no fault acts --
 * and every fault of the proxy is a stage of the direction's chain (faults/chain.h). The only
 * thing tcp asks of the core is the direct connect: conn.c makes the upstream socket itself for
 * a literal address (see "the upstream connect" in proxy/conn.c).
 */
#include "proxy/protocol.h"

const struct protocol protocol_tcp = {
    .name = "tcp",
    .flags = PROTO_DIRECT_CONNECT,
};
