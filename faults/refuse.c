/* refuse.c -- while the fault is active the proxy's listener is closed, so new connections are
 * refused by the kernel (ECONNREFUSED); it reopens when the fault ends. Connections already
 * open are untouched.
 *
 * Exposes: missing circuit breakers (every call still tries, and fails fast), retry loops with
 * no backoff (a storm of connects), and startup code that dies when a dependency is down
 * instead of retrying.
 *
 * No keys; direction and probability do not apply (it acts on the listener, not on
 * connections).
 *
 * Counting: a refused connection never reaches the proxy -- the kernel answers its SYN with a
 * RST. To count them anyway (counter `refused`, on the fault and on its proxy), the fault opens
 * a packet socket while it is active, with a kernel (classic BPF) filter that passes only
 * incoming TCP SYNs (not SYN-ACKs) to the listen port: one per refused attempt, since a refused
 * SYN is not retransmitted. It is bound to the loopback interface when the proxy listens on a
 * loopback address, to every interface otherwise (then a SYN to the same port on another local
 * address counts too). This needs CAP_NET_RAW; without it, or for a unix-socket listener, the
 * refusals happen but are not counted (logged once per activation: event=refuse_uncounted).
 * The socket's state lives in the fault's cfg: the type has no settings, and a changed fault is
 * a new fault with its own activation.
 */
#include "faults/fault.h"
#include "faults/host.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>

extern const struct fault_type fault_refuse;

struct refuse_rt {
    int fd;                       /* packet socket while active, else -1 (0 before the first use) */
    int open;
    int refusing;                 /* this fault holds its proxy's listener closed */
    struct event *ev;
};

static void refuse_init(void *cfg) { ((struct refuse_rt *)cfg)->fd = -1; }

/* The first active refuse fault of a proxy also counts into the proxy's counter (two refuse
 * faults at once refuse each connection once). */
static int refuse_counts_proxy(const struct fault *f)
{
    int n = 0;
    struct fault *const *fs = fault_host->siblings(f, &n);
    for (int i = 0; fs && i < n; i++) {
        const struct fault *o = fs[i];
        if (o->type == &fault_refuse && ((const struct refuse_rt *)o->cfg)->open) return o == f;
    }
    return 0;
}

static void refuse_drain(struct fault *f)
{
    struct refuse_rt *rt = f->cfg;
    char b[64];
    for (int i = 0; rt->open && i < 4096; i++) {
        if (recv(rt->fd, b, sizeof(b), MSG_DONTWAIT | MSG_TRUNC) < 0) break;
        f->c.refused++;
        if (refuse_counts_proxy(f)) fault_host->count_refused(f);
    }
}

static void refuse_seen_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    refuse_drain(arg);
}

/* Opens the counting socket. Returns 0, or -1 with the reason in err. */
static int refuse_count_open(struct fault *f, char *err, size_t errlen)
{
    struct refuse_rt *rt = f->cfg;
    const struct fl_addr *a = fault_host->listen_addr(f);
    if (a->kind != ADDR_INET) { snprintf(err, errlen, "a unix-socket listener"); return -1; }
    int port, loop;
    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
        port = ntohs(in->sin_port);
        loop = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
        port = ntohs(in6->sin6_port);
        loop = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    /* SOCK_DGRAM: the filter sees the packet from its network header on */
    struct sock_filter code[] = {
        /*  0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PKTTYPE)),
        /*  1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 22, 0),   /* sent, not received */
        /*  2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
        /*  3 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
        /*  4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 1, 0),
        /*  5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x60, 10, 18),
        /* IPv4 */
        /*  6 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
        /*  7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 16),
        /*  8 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
        /*  9 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 14, 0),           /* a fragment */
        /* 10 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),                         /* X = IP header length */
        /* 11 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)port, 0, 11),
        /* 13 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13),
        /* 14 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),                      /* SYN, ACK */
        /* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 7, 8),
        /* IPv6 (no extension headers) */
        /* 16 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),
        /* 17 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 6),
        /* 18 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 40 + 2),
        /* 19 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)port, 0, 4),
        /* 20 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 40 + 13),
        /* 21 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
        /* 22 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),
        /* 23 */ BPF_STMT(BPF_RET | BPF_K, 64),
        /* 24 */ BPF_STMT(BPF_RET | BPF_K, 0),
    };
    struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
    /* protocol 0 receives nothing until bind: no unfiltered packet gets queued before the filter */
    int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { snprintf(err, errlen, "packet socket: %s", strerror(errno)); return -1; }
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
    if (loop) sll.sll_ifindex = (int)if_nametoindex("lo");
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
        bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        snprintf(err, errlen, "packet socket: %s", strerror(errno));
        close(fd);
        return -1;
    }
    rt->ev = event_new(fault_base, fd, EV_READ | EV_PERSIST, refuse_seen_cb, f);
    if (!rt->ev) { close(fd); snprintf(err, errlen, "out of memory"); return -1; }
    event_add(rt->ev, NULL);
    rt->fd = fd;
    rt->open = 1;
    return 0;
}

static void refuse_count_close(struct fault *f)
{
    struct refuse_rt *rt = f->cfg;
    if (!rt->open) return;
    refuse_drain(f);   /* SYNs that arrived while the listener was closed */
    event_free(rt->ev);
    rt->ev = NULL;
    close(rt->fd);
    rt->fd = -1;
    rt->open = 0;
}

static void refuse_activate(struct fault *f)
{
    struct refuse_rt *rt = f->cfg;
    if (!f->px) return;
    char err[200];
    if (refuse_count_open(f, err, sizeof(err)) < 0)
        log_warn("refuse_uncounted", "fault=%s proxy=%s reason=%s", log_q(f->name), log_q(f->proxy), log_q(err));
    rt->refusing = 1;
    fault_host->refusing(f, 1);
}

static void refuse_deactivate(struct fault *f)
{
    struct refuse_rt *rt = f->cfg;
    if (!f->px || !rt->refusing) return;
    rt->refusing = 0;
    refuse_count_close(f);   /* before the listener reopens: nothing accepted is counted */
    fault_host->refusing(f, 0);
}

static void refuse_cfg_free(void *cfg)
{
    struct refuse_rt *rt = cfg;
    if (!rt->open) return;
    event_free(rt->ev);
    close(rt->fd);
    rt->open = 0;
}

const struct fault_type fault_refuse = {
    .name = "refuse",
    .summary = "close the proxy's listener while active: new connections get ECONNREFUSED",
    .default_dir = FDIR_BOTH,
    .cfg_size = sizeof(struct refuse_rt),
    .init = refuse_init,
    .cfg_free = refuse_cfg_free,
    .on_activate = refuse_activate,
    .on_deactivate = refuse_deactivate,
    .flags = FT_CONN_LEVEL,
};
