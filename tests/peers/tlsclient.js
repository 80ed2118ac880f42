// tlsclient.js PORT HOST PATH [noverify] [TIMEOUT_MS] -- one HTTPS GET through faultline with Node's
// https (tests/protocols/tls_faults.sh, tests/verify/tls_verify.sh): the CA comes from
// NODE_EXTRA_CA_CERTS; `noverify` is rejectUnauthorized: false (the bug tls_verify catches).
// Connects to 127.0.0.1:PORT with SNI HOST. Prints one line, exits 0:
//     ok status=N bytes=N ms=T
//     error CODE ms=T MESSAGE          (CODE: Node's error code, e.g. CERT_HAS_EXPIRED)
const https = require("https");
const [port, host, path, mode, tmo] = process.argv.slice(2);
const t0 = Date.now();
let done = false;
const end = (line) => { if (!done) { done = true; console.log(line); } };
const req = https.get({host: "127.0.0.1", port: Number(port), servername: host, path,
                       headers: {host, connection: "close"}, agent: false,
                       rejectUnauthorized: mode !== "noverify"}, (res) => {
    let n = 0;
    res.on("data", (d) => { n += d.length; });
    res.on("end", () => end(`ok status=${res.statusCode} bytes=${n} ms=${Date.now() - t0}`));
    res.on("aborted", () => end(`error aborted ms=${Date.now() - t0} response aborted after ${n} bytes`));
    res.on("error", (e) => end(`error ${e.code || e.name} ms=${Date.now() - t0} ${e.message}`));
});
req.on("error", (e) => end(`error ${e.code || e.name} ms=${Date.now() - t0} ${e.message}`));
if (tmo) req.setTimeout(Number(tmo), () => { end(`error timeout ms=${Date.now() - t0} no answer in ${tmo} ms`); req.destroy(); });
