// tests/control/toxiproxy_client.js -- drives faultline's admin API with the real npm package
// toxiproxy-node-client (run by tests/control/node_client.sh, which installs it).
//
// Env: ADMIN (http://127.0.0.1:PORT), ECHO (port of an echo upstream), CLIENT_DIR (where the
// package is installed). Prints "ok NAME" / "not ok NAME # why" lines; "# skip ..." for a toxic
// type whose faultline fault is not in this build. Every wait has a deadline.
"use strict";
const path = require("path");
const net = require("net");
const { Toxiproxy } = require(path.join(process.env.CLIENT_DIR, "node_modules", "toxiproxy-node-client"));

const ADMIN = process.env.ADMIN;
const ECHO = `127.0.0.1:${process.env.ECHO}`;
let failed = 0;
const ok = (n) => console.log(`ok ${n}`);
const notok = (n, why) => { console.log(`not ok ${n} # ${String(why).replace(/\n/g, " ")}`); failed++; };
const check = (n, cond, why) => (cond ? ok(n) : notok(n, why));

// One exchange on a fresh connection: connect, write `send`, optionally half-close, collect
// until close/error or `deadline` ms. Returns {bytes, chunks, ms, closedMs, error, endedByUs}.
function exchange(port, send, { halfClose = true, deadline = 5000 } = {}) {
    return new Promise((resolve) => {
        const t0 = Date.now();
        const r = { bytes: 0, chunks: 0, firstMs: -1, closedMs: -1, error: null, timedOut: false };
        const s = net.connect(port, "127.0.0.1");
        const timer = setTimeout(() => { r.timedOut = true; s.destroy(); }, deadline);
        s.on("connect", () => { s.write(send); if (halfClose) s.end(); });
        s.on("data", (d) => { if (r.firstMs < 0) r.firstMs = Date.now() - t0; r.bytes += d.length; r.chunks++; });
        s.on("error", (e) => { r.error = e.code || String(e); });
        s.on("close", () => { clearTimeout(timer); r.closedMs = Date.now() - t0; resolve(r); });
    });
}

const portOf = (listen) => Number(listen.split(":").pop());

// Connect, stay idle `idleMs` (is the connection still open then?), send, and time the reset.
function idleThenSend(port, idleMs, send) {
    return new Promise((resolve) => {
        const r = { openAfterIdle: false, bytes: 0, error: null, resetMs: -1 };
        let sentAt = 0, closed = false;
        const s = net.connect(port, "127.0.0.1");
        const timer = setTimeout(() => s.destroy(), idleMs + 4000);
        s.on("connect", () => setTimeout(() => {
            r.openAfterIdle = !closed;
            sentAt = Date.now();
            if (!closed) s.write(send);
        }, idleMs));
        s.on("data", (d) => { r.bytes += d.length; });
        s.on("error", (e) => { r.error = e.code || String(e); if (sentAt) r.resetMs = Date.now() - sentAt; });
        s.on("close", () => { closed = true; clearTimeout(timer); if (!sentAt) r.error = r.error || "closed while idle"; resolve(r); });
    });
}

async function main() {
    const tp = new Toxiproxy(ADMIN);
    const v = await tp.getVersion();
    check("client_get_version", /version/.test(v), v);

    const proxy = await tp.createProxy({ name: "echo", listen: "localhost:0", upstream: ECHO });
    const port = portOf(proxy.listen);
    check("client_create_proxy", proxy.name === "echo" && proxy.enabled === true && port > 0, JSON.stringify(proxy.toJson()));
    let r = await exchange(port, Buffer.alloc(1000, 97));
    check("client_proxy_passes_bytes", r.bytes === 1000 && !r.error, JSON.stringify(r));

    const all = await tp.getAll();
    check("client_get_all", Object.keys(all).includes("echo"), Object.keys(all).join(","));
    const got = await tp.get("echo");
    check("client_get_proxy", got.listen === proxy.listen, got.listen);

    // each mapped toxic type: add, observe, remove, observe normal again
    const cases = [
        {
            type: "latency", attributes: { latency: 400, jitter: 0 }, send: Buffer.alloc(100, 1),
            effect: (r) => r.firstMs >= 380 && r.bytes === 100, what: "first byte after >= 380 ms",
        },
        {
            type: "bandwidth", attributes: { rate: 100 }, send: Buffer.alloc(150000, 2),
            effect: (r) => r.bytes === 150000 && r.closedMs >= 1000, what: "150 kB at 100 KB/s takes >= 1 s",
        },
        {
            type: "slow_close", attributes: { delay: 800 }, send: Buffer.alloc(100, 3),
            effect: (r) => r.bytes === 100 && r.closedMs >= 750, what: "close arrives >= 750 ms late",
        },
        {
            // no half-close: an upstream close ends a timeout toxic at once (in Toxiproxy too)
            type: "timeout", attributes: { timeout: 600 }, send: Buffer.alloc(100, 4), halfClose: false,
            effect: (r) => r.bytes === 0 && r.closedMs >= 550 && !r.timedOut, what: "no data, closed after ~600 ms",
        },
        {
            type: "reset_peer", attributes: { timeout: 0 }, send: Buffer.alloc(100, 5),
            effect: (r) => r.bytes === 0 && r.error === "ECONNRESET", what: "connection reset, no data",
        },
        {
            type: "slicer", attributes: { average_size: 10, size_variation: 5, delay: 5000 }, send: Buffer.alloc(300, 6),
            effect: (r) => r.bytes === 300 && r.chunks >= 5, what: "300 bytes arrive in >= 5 slices",
        },
        {
            type: "limit_data", attributes: { bytes: 100 }, send: Buffer.alloc(1000, 7),
            effect: (r) => r.bytes === 100, what: "exactly 100 bytes, then closed",
        },
    ];
    for (const c of cases) {
        let toxic;
        try {
            toxic = await proxy.addToxic({ type: c.type, attributes: c.attributes, stream: "downstream", toxicity: 1 });
        } catch (e) {
            // the client hides the body: ask again to tell "type not built" from a real failure
            const body = await fetch(`${ADMIN}/proxies/echo/toxics`, {
                method: "POST", body: JSON.stringify({ name: "probe", type: c.type, attributes: c.attributes }),
            }).then((x) => x.json()).catch(() => ({}));
            if (/^invalid toxic type/.test(body.error || "")) {
                console.log(`# skip toxic_${c.type}: faultline's ${c.type} fault is not in this build`);
                continue;
            }
            notok(`toxic_${c.type}_add`, `${e.message}: ${JSON.stringify(body)}`);
            continue;
        }
        check(`toxic_${c.type}_add`, toxic.name === `${c.type}_downstream` && toxic.type === c.type &&
              toxic.stream === "downstream" && toxic.toxicity === 1, JSON.stringify(toxic.toJson()));
        const want = Object.entries(c.attributes).every(([k, v]) => toxic.attributes[k] === v);
        check(`toxic_${c.type}_attributes_round_trip`, want, JSON.stringify(toxic.attributes));
        r = await exchange(port, c.send, { deadline: 6000, halfClose: c.halfClose !== false });
        check(`toxic_${c.type}_effect`, c.effect(r), `${c.what}: ${JSON.stringify(r)}`);
        const shown = await proxy.getToxic(toxic.name);
        check(`toxic_${c.type}_get`, shown.type === c.type, JSON.stringify(shown.toJson()));
        await toxic.remove();
        r = await exchange(port, c.send, { deadline: 6000 });
        check(`toxic_${c.type}_removed_normal_again`, r.bytes === c.send.length && !r.error && r.closedMs < 1500, JSON.stringify(r));
    }

    // reset_peer as Toxiproxy's (toxics/reset_peer.go): nothing happens until data comes; the
    // first data starts `timeout` and nothing of it goes on; timeout 0 resets on that data at once
    for (const timeout of [0, 500]) {
        const t = await proxy.addToxic({ type: "reset_peer", attributes: { timeout }, stream: "downstream", toxicity: 1 });
        const rr = await idleThenSend(port, 700, Buffer.alloc(50, 8));
        check(`reset_peer_${timeout}_idle_open`, rr.openAfterIdle, JSON.stringify(rr));
        check(`reset_peer_${timeout}_reset_on_data`, rr.openAfterIdle && rr.error === "ECONNRESET" && rr.bytes === 0 &&
              rr.resetMs >= Math.max(0, timeout - 50) && rr.resetMs < timeout + 450, JSON.stringify(rr));
        await t.remove();
    }

    // toxic update through the client
    const lat = await proxy.addToxic({ name: "lat", type: "latency", attributes: { latency: 1000 }, stream: "downstream", toxicity: 1 });
    const upd = await lat.update({ attributes: { latency: 50 }, toxicity: 1 });
    check("toxic_update", upd.attributes.latency === 50, JSON.stringify(upd.toJson()));
    r = await exchange(port, Buffer.alloc(10, 1));
    check("toxic_update_acts", r.firstMs >= 40 && r.firstMs < 900, JSON.stringify(r));

    // disable: the proxy is down (refused); reset: enabled again, no toxics
    const down = await proxy.update({ enabled: false, listen: proxy.listen, upstream: ECHO });
    check("proxy_disable", down.enabled === false, JSON.stringify(down.toJson()));
    r = await exchange(port, Buffer.alloc(10, 1));
    check("disabled_proxy_refuses", r.error === "ECONNREFUSED", JSON.stringify(r));
    await tp.reset();
    const after = await tp.get("echo");
    check("reset_enables", after.enabled === true, JSON.stringify(after.toJson()));
    const res = await fetch(`${ADMIN}/proxies/echo/toxics`).then((x) => x.json());
    check("reset_removes_toxics", Array.isArray(res) && res.length === 0, JSON.stringify(res));
    r = await exchange(port, Buffer.alloc(100, 1));
    check("reset_proxy_fast", r.bytes === 100 && r.firstMs < 900, JSON.stringify(r));

    // populate
    const pop = await tp.populate([
        { name: "echo", listen: proxy.listen, upstream: ECHO },
        { name: "second", listen: "localhost:0", upstream: ECHO },
    ]);
    check("populate", Object.keys(pop).sort().join(",") === "echo,second" && pop.echo.listen === proxy.listen, JSON.stringify(Object.keys(pop)));
    r = await exchange(portOf(pop.second.listen), Buffer.alloc(100, 1));
    check("populated_proxy_serves", r.bytes === 100 && !r.error, JSON.stringify(r));

    // errors surface as client errors
    try { await tp.get("nope"); notok("get_unknown_proxy_throws", "no error"); }
    catch (e) { check("get_unknown_proxy_throws", /404/.test(e.message), e.message); }
    try { await tp.createProxy({ name: "echo", listen: "localhost:0", upstream: ECHO }); notok("create_duplicate_throws", "no error"); }
    catch (e) { check("create_duplicate_throws", /409/.test(e.message), e.message); }

    await pop.second.remove();
    const left = await tp.getAll();
    check("proxy_remove", Object.keys(left).join(",") === "echo", Object.keys(left).join(","));
}

main().then(() => process.exit(failed ? 1 : 0), (e) => { notok("client_run", e && e.stack); process.exit(1); });
