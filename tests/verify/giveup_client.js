// giveup_client.js -- a pooled keep-alive HTTP client with a timeout for tests/verify/giveup.sh:
// Node's own http.Agent({keepAlive: true}), the pool under most Node HTTP libraries.
//
//   node giveup_client.js URL DURATION_S [TIMEOUT_S] [GO_FILE]
//
// Calls GET URL for DURATION_S seconds, one at a time on the agent's keep-alive sockets, 0.2 s
// apart. A call with no answer within TIMEOUT_S (default 1) is given up on: the request is
// destroyed, which closes its socket (the agent opens a new one for the next call). With
// GO_FILE it prints "ready" and starts when the file exists (at most 60 s). Prints one line:
// calls= ok= timeouts= other=.
'use strict';
const fs = require('fs');
const http = require('http');
const [url, dur, to, go] = [process.argv[2], +process.argv[3], +(process.argv[4] || 1), process.argv[5]];
const agent = new http.Agent({keepAlive: true, maxSockets: 1});
let calls = 0, ok = 0, timeouts = 0, other = 0, t0 = 0;

function next() {
    if (Date.now() - t0 >= dur * 1000) {
        agent.destroy();
        console.log(`calls=${calls} ok=${ok} timeouts=${timeouts} other=${other}`);
        return;
    }
    calls++;
    let done = false;
    const finish = (kind) => {
        if (done) return;
        done = true;
        if (kind === 'ok') ok++; else if (kind === 'timeout') timeouts++; else other++;
        setTimeout(next, 200);
    };
    const req = http.get(url, {agent, timeout: to * 1000}, (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode === 200 ? 'ok' : 'other'));
    });
    req.on('timeout', () => { req.destroy(); finish('timeout'); });
    req.on('error', () => finish('other'));
}

function start() { t0 = Date.now(); next(); }
if (go) {
    console.log('ready');
    const deadline = Date.now() + 60000;
    const wait = () => (fs.existsSync(go) || Date.now() > deadline ? start() : setTimeout(wait, 20));
    wait();
} else {
    start();
}
