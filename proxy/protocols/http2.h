/* http2.h -- mode = http2 and mode = grpc: the connection pair speaks HTTP/2 on both sides, so
 * that faults act per stream (proxy/protocols/http2*.c on nghttp2; grpc.c adds gRPC's message
 * framing). The core reaches them through protocol_http2 and protocol_grpc (proxy/protocol.h);
 * docs/http2.md and docs/grpc.md describe the behaviour.
 */
#ifndef FL_HTTP2_H
#define FL_HTTP2_H

struct protocol;

extern const struct protocol protocol_http2;
extern const struct protocol protocol_grpc;

#endif
