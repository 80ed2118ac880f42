// bulkhead_service.js -- a node service that bounds its calls to one dependency with a real
// library, cockatiel's bulkhead (resilience4j's and Polly's Bulkhead for node), for
// tests/verify/shed_libs.sh. GET /checkout runs the dependency call (node's fetch) inside
// bulkhead(SLOTS, QUEUE) and answers 200, 502 when the dependency failed, or 503 at once when
// the bulkhead rejects it (BulkheadRejectedError: every slot busy and the queue full).
//
//   COCKATIEL_DIR=DIR node bulkhead_service.js PORT DEP_URL SLOTS QUEUE
//
//   QUEUE 0     a load shedder: the excess is rejected at once
//   QUEUE 1000  the excess waits in the bulkhead's queue behind the slow calls
// Prints "listening PORT" when ready.
'use strict';
const http = require('http');
const path = require('path');
const c = require(path.join(process.env.COCKATIEL_DIR, 'node_modules', 'cockatiel'));

const [port, dep, slots, queue] = process.argv.slice(2);
const bh = c.bulkhead(Number(slots), Number(queue));

async function callDep() {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), 10000);
    try {
        const r = await fetch(dep, { signal: ctl.signal });
        await r.arrayBuffer();
        if (r.status >= 500) throw new Error('HTTP ' + r.status);
    } finally {
        clearTimeout(t);
    }
}

const srv = http.createServer(async (req, res) => {
    req.resume();
    let status = 200, body = 'ok\n';
    try {
        await bh.execute(callDep);
    } catch (e) {
        if (e instanceof c.BulkheadRejectedError) { status = 503; body = 'busy\n'; }
        else { status = 502; body = 'dependency failed\n'; }
    }
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
});
srv.keepAliveTimeout = 30000;
srv.listen(Number(port), '127.0.0.1', () => console.log('listening ' + port));
