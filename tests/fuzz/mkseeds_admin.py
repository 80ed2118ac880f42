#!/usr/bin/env python3
"""tests/fuzz/mkseeds_admin.py -- writes the seed corpus of fuzz_admin (tests/fuzz/corpus/fuzz_admin).
Byte 0 = index into TARGETS of tests/fuzz/fuzz_admin.c (the rest is the body); a byte 0 of
224 or more = a free request: byte 1 the method, then the path up to a newline, then the body."""
import os, sys
T = ["POST /faults", "PATCH /faults/f1", "PATCH /faults/hf", "POST /proxies", "POST /proxies/p1",
     "PATCH /proxies/h1", "POST /proxies/p1/toxics", "POST /proxies/h1/toxics", "POST /proxies/p1/toxics/f1",
     "POST /proxies/p1/toxics/lat", "POST /populate", "POST /profile", "POST /reset", "POST /kill"]
def t(name, body):
    return bytes([T.index(name)]) + body.encode()
seeds = {
    "fault_create": t("POST /faults", '{"name":"n1","proxy":"p1","type":"latency","delay":"100ms","jitter":5,"probability":0.5}'),
    "fault_create_http": t("POST /faults", '{"name":"n2","proxy":"h1","type":"http_error","status":503,"match_path":"/v1/*","header":"Retry-After: 5"}'),
    "fault_create_window": t("POST /faults", '{"name":"n3","proxy":"p1","type":"hang","after":"1s","duration":"2s","every":"10s","on_end":"release","enabled":false}'),
    "fault_patch": t("PATCH /faults/f1", '{"delay":"1s","jitter":null,"enabled":true}'),
    "fault_patch_http": t("PATCH /faults/hf", '{"status":429,"body":"slow down","match_method":"P*"}'),
    "fault_rename": t("PATCH /faults/f1", '{"name":"other"}'),
    "proxy_create": t("POST /proxies", '{"name":"new","listen":"localhost:0","upstream":"127.0.0.1:9","enabled":false}'),
    "proxy_create_mode": t("POST /proxies", '{"name":"pg","listen":":0","upstream":"db.local:5432","mode":"postgres","enabled":true}'),
    "proxy_update": t("POST /proxies/p1", '{"enabled":true,"listen":"127.0.0.1:0","upstream":"[::1]:9"}'),
    "proxy_update2": t("PATCH /proxies/h1", '{"enabled":false,"upstream":"unix:/tmp/x.sock"}'),
    "toxic_latency": t("POST /proxies/p1/toxics", '{"name":"l","type":"latency","stream":"upstream","toxicity":0.5,"attributes":{"latency":100,"jitter":10}}'),
    "toxic_slicer": t("POST /proxies/p1/toxics", '{"type":"slicer","attributes":{"average_size":10,"size_variation":5,"delay":100}}'),
    "toxic_timeout": t("POST /proxies/p1/toxics", '{"type":"timeout","stream":"downstream","attributes":{"timeout":0}}'),
    "toxic_native": t("POST /proxies/h1/toxics", '{"name":"h","type":"hang","attributes":{"forward":"no","on_end":"reset","match_path":"/a"}}'),
    "toxic_bandwidth": t("POST /proxies/p1/toxics", '{"type":"bandwidth","attributes":{"rate":1000}}'),
    "toxic_update": t("POST /proxies/p1/toxics/f1", '{"toxicity":0.1,"attributes":{"latency":5}}'),
    "toxic_update2": t("POST /proxies/p1/toxics/lat", '{"attributes":{"rate":10}}'),
    "populate": t("POST /populate", '[{"name":"p1","listen":"127.0.0.1:0","upstream":"127.0.0.1:10"},{"name":"a","upstream":"127.0.0.1:11","enabled":false}]'),
    "populate_dup": t("POST /populate", '[{"name":"a","upstream":"x:1"},{"name":"a","upstream":"x:2"}]'),
    "profile": t("POST /profile", "[proxy q]\nlisten = 127.0.0.1:0\nupstream = 127.0.0.1:9\n[fault g]\nproxy = q\ntype = drop\nafter_bytes = 1KiB\n"),
    "reset": t("POST /reset", ""),
    "kill": t("POST /kill", ""),
    "bad_utf8": t("POST /faults", '{"name":"\xff\xfe","proxy":"p1"}'),
    "deep": t("POST /faults", "[" * 3000),
    "free_get_faults": bytes([224, 0]) + b"faults/f1\n",
    "free_delete_toxic": bytes([224, 4]) + b"proxies/p1/toxics/f1\n",
    "free_delete_proxy": bytes([224, 4]) + b"proxies/h1\n",
    "free_pct": bytes([224, 0]) + b"proxies/%70%31/toxics\n",
    "free_stats": bytes([224, 0]) + b"stats\n",
    "free_metrics": bytes([224, 0]) + b"metrics\n",
    # raw requests (selector >= 240): request line, headers and body exactly as written
    "raw_host_evil": bytes([240]) + b"GET /healthz HTTP/1.1\r\nHost: evil.example:8474\r\n\r\n",
    "raw_host_listed": bytes([240]) + b"GET /faults HTTP/1.1\r\nHost: a.fuzz.test\r\n\r\n",
    "raw_host_v6": bytes([240]) + b"GET /proxies HTTP/1.1\r\nHost: [::1]:1\r\nSec-Fetch-Site: none\r\n\r\n",
    "raw_origin": bytes([241]) + b"POST /faults HTTP/1.1\r\nHost: 127.0.0.1:1\r\nOrigin: http://127.0.0.1:1\r\n"
                 b"Content-Type: text/plain\r\nContent-Length: 48\r\n\r\n"
                 b'{"name":"o","proxy":"p1","type":"latency","delay":"1ms"}',
    "raw_origin_evil": bytes([242]) + b"POST /kill HTTP/1.1\r\nHost: localhost\r\nOrigin: null\r\nContent-Length: 0\r\n\r\n",
    "raw_sec_fetch": bytes([243]) + b"DELETE /proxies/p1 HTTP/1.1\r\nHost: fuzz\r\nSec-Fetch-Site: cross-site\r\n\r\n",
    "raw_ua": bytes([244]) + b"GET /version HTTP/1.0\r\nUser-Agent: Mozilla/5.0\r\n\r\n",
    "raw_auth": bytes([245]) + b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\n\r\n",
    "raw_pipelined": bytes([246]) + b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                     b"POST /proxies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 72\r\n\r\n"
                     b'{"name":"u","listen":"unix:/tmp/fuzz_admin.d/u.sock","upstream":"127.0.0.1:9"}',
    "raw_listen_denied": bytes([247]) + b"POST /proxies HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60\r\n\r\n"
                         b'{"name":"w","listen":"0.0.0.0:80","upstream":"10.0.0.1:5432"}',
    "raw_chunked": bytes([248]) + b"POST /populate HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"2\r\n[]\r\n0\r\n\r\n",
}
d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "fuzz_admin")
os.makedirs(d, exist_ok=True)
for k, v in seeds.items():
    if isinstance(v, str): v = v.encode()
    open(os.path.join(d, k), "wb").write(v)
print(len(seeds), "seeds in", d)
