// fwdclient.js MODE PROXY_PORT URL [UNDICI_DIR] -- one GET through faultline's forward proxy on
// 127.0.0.1:PROXY_PORT with Node (tests/protocols/forward.sh). The CA comes from NODE_EXTRA_CA_CERTS.
//   undici    undici's ProxyAgent (the package installed under UNDICI_DIR): CONNECT for every URL
//   connect   by hand: http.request CONNECT host:port, then https.get over the tunnel's socket
//             (what an https.Agent for a proxy does)
//   plain     http.get of the absolute URL to the proxy (an http:// URL through HTTP_PROXY)
// Prints "ok status=N body=TEXT" (the body's first line) or "error CODE MESSAGE", exits 0.
const http = require("http");
const https = require("https");
const [mode, port, url, udir] = process.argv.slice(2);
const u = new URL(url);
const out = (l) => { console.log(l); process.exit(0); };
const fail = (e) => out(`error ${e.code || e.name} ${String(e.message).replace(/\n/g, " ")}`);
const done = (status, body) => out(`ok status=${status} body=${body.split("\n")[0]}`);
const collect = (res) => { let b = ""; res.on("data", (d) => b += d); res.on("end", () => done(res.statusCode, b)); };
setTimeout(() => out("error timeout no answer in 10 s"), 10000).unref();
if (mode === "undici") {
    const { ProxyAgent, request } = require(udir + "/node_modules/undici");
    request(url, { dispatcher: new ProxyAgent(`http://127.0.0.1:${port}`) })
        .then(async (r) => done(r.statusCode, await r.body.text())).catch(fail);
} else if (mode === "connect") {
    const target = `${u.hostname}:${u.port || 443}`;
    http.request({ host: "127.0.0.1", port: Number(port), method: "CONNECT", path: target, headers: { host: target } })
        .on("connect", (res, socket) => {
            if (res.statusCode !== 200) return out(`error CONNECT status ${res.statusCode}`);
            https.get({ host: u.hostname, port: u.port || 443, path: u.pathname, socket, servername: u.hostname, agent: false },
                collect).on("error", fail);
        }).on("error", fail).end();
} else {
    http.get({ host: "127.0.0.1", port: Number(port), path: url, headers: { host: u.host } }, collect).on("error", fail);
}
