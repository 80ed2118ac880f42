// tests/peers/grpc_peer.js -- a gRPC server and client on @grpc/grpc-js for the grpc tests, with
// no generated code: messages are raw bytes (identity serializers), the service is test.Echo.
// GRPC_JS names the directory holding node_modules/@grpc/grpc-js (tests/protocols/grpc_lib.bash).
//
//   node grpc_peer.js server [--dep ADDR] [--propagate yes|no|fixed:MS]    prints "listening PORT"
//     /test.Echo/Unary         the request back; metadata sleep-ms: answer after that long,
//                              fail: answer with that status code instead
//     /test.Echo/ServerStream  the request is "N" or "N,MS": N messages "m<i>" MS ms apart
//     /test.Echo/Bidi          each message back as it comes
//     /test.Echo/Chain         calls /test.Echo/Unary on --dep with the caller's deadline
//                              (propagate yes, the default), without one (no), or a fixed one
//                              (fixed:MS), and answers with what it got
//   node grpc_peer.js call ADDR METHOD [options]    one line per call, then "done ok=N err=M"
//     --deadline-ms N   a deadline per call (none by default: the bad client)
//     --n N             calls, one after the other (default 1)
//     --par P           ... P at a time (default 1)
//     --msg TEXT        the request (default "ping")
//     --meta K=V        request metadata (repeatable)
//     --retry           a retry policy (UNAVAILABLE, up to 4 attempts, 50 ms backoff)
//     --throttle MAX:R  with --retry, gRPC's retry throttling (retryThrottling {maxTokens MAX,
//                       tokenRatio R}: a failure takes a token, a success gives R back, no
//                       retry while the tokens are at or below MAX/2): a retry budget
//     --keepalive MS    keepalive pings every MS (timeout MS/2)
//     --every MS        pause between calls
//     --stream          a server-streaming call (METHOD ServerStream): prints each message
//     --tls CA          TLS (ALPN h2), the server's certificate checked against the PEM file CA
//     --bidi K          a bidirectional call (METHOD Bidi): K messages "m<i>" written at once, then
//                       the end; prints each message back
//     --breaker N,MS    a circuit breaker: after N failures in a row it opens for MS ms (calls fail
//                       at once, "breaker open", nothing sent), then one probe call: OK closes
//                       it, a failure opens it again (use with --par 1)
// Each call's line: "call i code=C ms=T msgs=K detail=..." (code 0 = OK).
'use strict';
const path = require('path');
const grpc = require(path.join(process.env.GRPC_JS || '.', 'node_modules', '@grpc', 'grpc-js'));
const id = (x) => x;
const args = process.argv.slice(2);

function opt(name, def) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
}
function metas() {
  const m = new grpc.Metadata();
  for (let i = 0; i < args.length; i++) if (args[i] === '--meta') { const [k, v] = args[i + 1].split('='); m.add(k, v); }
  return m;
}
const def = (name, rq, rs) => ({ path: '/test.Echo/' + name, requestStream: rq, responseStream: rs,
  requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id });
const SERVICE = { Unary: def('Unary', false, false), ServerStream: def('ServerStream', false, true),
  Bidi: def('Bidi', true, true), Chain: def('Chain', false, false) };

function server() {
  const dep = opt('--dep');
  const prop = opt('--propagate', 'yes');
  const depClient = dep ? new grpc.Client(dep, grpc.credentials.createInsecure()) : null;
  const srv = new grpc.Server();
  srv.addService(SERVICE, {
    Unary(call, cb) {
      const sleep = +(call.metadata.get('sleep-ms')[0] || 0);
      const fail = call.metadata.get('fail')[0];
      const answer = () => (fail ? cb({ code: +fail, details: 'failed on request' }) : cb(null, call.request));
      if (sleep) setTimeout(answer, sleep); else answer();
    },
    ServerStream(call) {
      const [n, ms] = call.request.toString().split(',').map(Number);
      let i = 0;
      const next = () => {
        if (call.cancelled) return;
        if (i >= n) return call.end();
        call.write(Buffer.from('m' + i++));
        if (ms) setTimeout(next, ms); else setImmediate(next);
      };
      next();
    },
    Bidi(call) {
      call.on('data', (m) => call.write(m));
      call.on('end', () => call.end());
    },
    Chain(call, cb) {
      const o = {};
      const d = call.getDeadline();
      if (prop === 'yes' && d !== Infinity) o.deadline = d;
      else if (prop.startsWith('fixed:')) o.deadline = Date.now() + +prop.slice(6);
      depClient.makeUnaryRequest('/test.Echo/Unary', id, id, call.request, new grpc.Metadata(), o, (err, rs) =>
        err ? cb({ code: err.code, details: 'dependency: ' + err.details }) : cb(null, rs));
    },
  });
  srv.bindAsync('127.0.0.1:' + opt('--port', '0'), grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) { console.error(err); process.exit(1); }
    srv.start && srv.start();
    console.log('listening ' + port);
  });
}

function client() {
  const addr = args[1], method = args[2];
  const n = +opt('--n', 1), par = +opt('--par', 1), dl = opt('--deadline-ms'), every = +opt('--every', 0);
  const msg = Buffer.from(opt('--msg', 'ping'));
  const o = {};
  if (args.includes('--retry')) {
    o['grpc.enable_retries'] = 1;
    const sc = { methodConfig: [{ name: [{ service: 'test.Echo' }],
      retryPolicy: { maxAttempts: 4, initialBackoff: '0.05s', maxBackoff: '0.2s', backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE'] } }] };
    const th = opt('--throttle');
    if (th) { const [mx, r] = th.split(':'); sc.retryThrottling = { maxTokens: +mx, tokenRatio: +r }; }
    o['grpc.service_config'] = JSON.stringify(sc);
  } else {
    o['grpc.enable_retries'] = 0;
  }
  const ka = opt('--keepalive');
  if (ka) { o['grpc.keepalive_time_ms'] = +ka; o['grpc.keepalive_timeout_ms'] = Math.max(100, ka / 2);
    o['grpc.keepalive_permit_without_calls'] = 1; o['grpc.http2.max_pings_without_data'] = 0; }
  const ca = opt('--tls');
  const creds = ca ? grpc.credentials.createSsl(require('fs').readFileSync(ca)) : grpc.credentials.createInsecure();
  const c = new grpc.Client(addr, creds, o);
  let started = 0, finished = 0, ok = 0, bad = 0;
  const brk = opt('--breaker');
  const [bN, bMs] = brk ? brk.split(',').map(Number) : [0, 0];
  let fails = 0, openUntil = 0, probing = false;
  const breaker = (code) => {
    if (!brk) return;
    if (code === 0) { fails = 0; probing = false; return; }
    if (probing || ++fails >= bN) { openUntil = Date.now() + bMs; fails = 0; probing = false; }
  };
  const one = (i, done) => {
    const t0 = Date.now();
    const co = {};
    if (dl) co.deadline = Date.now() + +dl;
    if (brk && openUntil) {
      if (Date.now() < openUntil) {   // failed here, after the loop's turn (never synchronously)
        setTimeout(() => { bad++; console.log(`call ${i} code=14 ms=0 msgs=0 detail="breaker open"`); done(); }, 0);
        return;
      }
      openUntil = 0;
      probing = true;
    }
    const end = (code, msgs, detail) => {
      breaker(code);
      if (code === 0) ok++; else bad++;
      console.log(`call ${i} code=${code} ms=${Date.now() - t0} msgs=${msgs} detail=${JSON.stringify(detail || '')}`);
      done();
    };
    if (opt('--bidi')) {
      const st = c.makeBidiStreamRequest('/test.Echo/' + method, id, id, metas(), co);
      let k = 0;
      st.on('data', (m) => { k++; console.log(`msg ${i} ${m.toString()} ms=${Date.now() - t0}`); });
      st.on('error', (e) => end(e.code, k, e.details));
      st.on('status', (s) => { if (s.code === 0) end(0, k, ''); });
      for (let j = 0; j < +opt('--bidi'); j++) st.write(Buffer.from('m' + j));
      st.end();
      return;
    }
    if (args.includes('--stream')) {
      const st = c.makeServerStreamRequest('/test.Echo/' + method, id, id, msg, metas(), co);
      let k = 0;
      st.on('data', (m) => { k++; console.log(`msg ${i} ${m.toString()} ms=${Date.now() - t0}`); });
      st.on('error', (e) => end(e.code, k, e.details));
      st.on('end', () => setImmediate(() => { if (st.__ended) return; }));
      st.on('status', (s) => { if (s.code === 0) end(0, k, ''); });
      return;
    }
    c.makeUnaryRequest('/test.Echo/' + method, id, id, msg, metas(), co, (err, rs) =>
      err ? end(err.code, 0, err.details) : end(0, 1, rs.toString()));
  };
  const launch = () => {
    while (started < n && started - finished < par) {
      const i = started++;
      one(i, () => {
        finished++;
        if (finished === n) { console.log(`done ok=${ok} err=${bad}`); c.close(); setTimeout(() => process.exit(0), 50); }
        else if (every) setTimeout(launch, every); else launch();
      });
    }
  };
  launch();
}

if (args[0] === 'server') server();
else if (args[0] === 'call') client();
else { console.error('usage: grpc_peer.js server|call ...'); process.exit(2); }
