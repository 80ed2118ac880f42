// cockatiel_client.js -- real resilience libraries on the wire, for tests/verify/real_libs.sh:
// the npm packages cockatiel (Polly's model for node) and opossum wrap node's own fetch with
// their retry or circuit breaker policy, unchanged; retry_spacing and half_open judge what they
// send. The packages are found under $COCKATIEL_DIR/node_modules (real_libs.sh installs them).
//
//   node cockatiel_client.js URL RATE SECONDS GOFILE POLICY
//
// POLICY:
//   retry:half        retry(handleAll, {maxAttempts: 3, backoff: ExponentialBackoff with
//                     halfJitterGenerator, initialDelay 200}): pauses in [100, 200), [200, 400) ms
//   retry:decorr      the same with cockatiel's default generator (decorrelated jitter, Polly's V2)
//   retry:nojitter    ExponentialBackoff with noJitterGenerator, initialDelay 300: 300, 600 ms for
//                     every caller
//   retry:constant    ConstantBackoff(300): the same 300 ms every time
//   breaker:MS        circuitBreaker(handleAll, {halfOpenAfter: MS, breaker: ConsecutiveBreaker(5)})
//   opossum:MS        opossum's CircuitBreaker(attempt, {resetTimeout: MS, errorThresholdPercentage:
//                     50, volumeThreshold: 5, rollingCountTimeout: 2000}): one call in half-open
//   none              no policy
//
// Open loop: RATE calls per second for SECONDS, started once GOFILE exists; each call sends its
// own X-Request-Id (every attempt of a call the same). A 5xx answer is a failure to the policy.
// Prints "ready" once loaded, then one line: calls= ok= failed= broken=.
'use strict';
const fs = require('fs');
const path = require('path');
const dir = process.env.COCKATIEL_DIR;
const c = require(path.join(dir, 'node_modules', 'cockatiel'));

const [url, rate, seconds, gofile, policyName] = process.argv.slice(2);
const backoffs = {
    half: () => new c.ExponentialBackoff({ generator: c.halfJitterGenerator, initialDelay: 200 }),
    decorr: () => new c.ExponentialBackoff({ initialDelay: 200 }),
    nojitter: () => new c.ExponentialBackoff({ generator: c.noJitterGenerator, initialDelay: 300 }),
    constant: () => new c.ConstantBackoff(300),
};
let policy = c.noop;
const [kind, arg] = policyName.split(':');
if (kind === 'retry') policy = c.retry(c.handleAll, { maxAttempts: 3, backoff: backoffs[arg]() });
else if (kind === 'breaker')
    policy = c.circuitBreaker(c.handleAll, { halfOpenAfter: Number(arg), breaker: new c.ConsecutiveBreaker(5) });
else if (kind === 'opossum') {
    const Opossum = require(path.join(dir, 'node_modules', 'opossum'));
    const b = new Opossum((fn) => fn(), { resetTimeout: Number(arg), errorThresholdPercentage: 50, volumeThreshold: 5,
                                          rollingCountTimeout: 2000, timeout: false });
    policy = { execute: (fn) => b.fire(fn) };
} else if (kind !== 'none') throw new Error('unknown policy ' + policyName);

const stats = { calls: 0, ok: 0, failed: 0, broken: 0 };
async function attempt(id) {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), 5000);
    try {
        const r = await fetch(url, { headers: { 'X-Request-Id': id }, signal: ctl.signal });
        await r.arrayBuffer();
        if (r.status >= 500) throw new Error('HTTP ' + r.status);
    } finally {
        clearTimeout(t);
    }
}
async function call(i) {
    stats.calls++;
    const id = 'k' + process.pid + '-' + i;
    try {
        await policy.execute(() => attempt(id));
        stats.ok++;
    } catch (e) {
        if (e instanceof c.BrokenCircuitError || e.code === 'EOPENBREAKER') stats.broken++;
        else stats.failed++;
    }
}

console.log('ready');
(async () => {
    const deadline = Date.now() + 30000;
    while (!fs.existsSync(gofile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const n = Math.round(Number(rate) * Number(seconds)), t0 = Date.now(), pending = [];
    for (let i = 0; i < n; i++) {
        const due = t0 + (i * 1000) / Number(rate);
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        pending.push(call(i));
    }
    await Promise.all(pending);
    console.log(`calls=${stats.calls} ok=${stats.ok} failed=${stats.failed} broken=${stats.broken}`);
})();
