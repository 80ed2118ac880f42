// tests/peers/h2up.js -- an HTTP/2 upstream for the http2 tests (node's own http2 module):
//   node h2up.js [--tls CERT KEY] [--max-streams N]   prints "listening PORT" once bound
// Cleartext is prior knowledge (h2c), TLS offers ALPN h2. Routes (the path, then ?query):
//   /echo          the request body back (status 200)
//   /big?n=N       N bytes of 'x'
//   /slow?ms=N     answers after N ms
//   /status?code=N that status
//   /trailers      a body then trailers (x-trailer: yes)
//   /count         how many requests and streams this server saw, and its open sessions
//   /headers       the request's header names, one a line (what reached the upstream)
//   anything else  "hello <path>\n" (or ?n=N bytes of 'x') with x-upstream: h2up
// Each answer carries x-stream-id (the server side's stream id).
'use strict';
const http2 = require('http2');
const fs = require('fs');
const args = process.argv.slice(2);
let opts = { settings: {} };
let tls = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--tls') { tls = true; opts.cert = fs.readFileSync(args[++i]); opts.key = fs.readFileSync(args[++i]); }
  else if (args[i] === '--max-streams') opts.settings.maxConcurrentStreams = +args[++i];
}
let requests = 0, sessions = 0, open = 0, resets = 0;
const srv = tls ? http2.createSecureServer(opts) : http2.createServer(opts);
srv.on('session', (s) => { sessions++; open++; s.on('close', () => open--); });
srv.on('stream', (st, h) => {
  requests++;
  st.on('error', () => {});
  st.on('aborted', () => resets++);
  const u = new URL(h[':path'], 'http://x');
  const send = (code, body, extra) => {
    if (st.destroyed || st.closed) return;
    st.respond(Object.assign({ ':status': code, 'x-stream-id': String(st.id), 'x-upstream': 'h2up' }, extra || {}));
    st.end(body);
  };
  const chunks = [];
  st.on('data', (c) => chunks.push(c));
  st.on('end', () => {
    const body = Buffer.concat(chunks);
    switch (u.pathname) {
    case '/echo': return send(200, body);
    case '/big': return send(200, Buffer.alloc(+(u.searchParams.get('n') || 1000), 'x'));
    case '/slow': return setTimeout(() => send(200, 'slow\n'), +(u.searchParams.get('ms') || 1000));
    case '/status': return send(+(u.searchParams.get('code') || 200), 'status\n');
    case '/count': return send(200, JSON.stringify({ requests, sessions, open, resets }) + '\n');
    case '/headers': return send(200, Object.keys(h).join('\n') + '\n');
    case '/trailers':
      if (st.destroyed) return;
      st.respond({ ':status': 200 }, { waitForTrailers: true });
      st.on('wantTrailers', () => st.sendTrailers({ 'x-trailer': 'yes' }));
      return st.end('with trailers\n');
    default:
      if (u.searchParams.get('n')) return send(200, Buffer.alloc(+u.searchParams.get('n'), 'x'));
      return send(200, 'hello ' + u.pathname + '\n');
    }
  });
});
srv.listen(0, '127.0.0.1', () => console.log('listening ' + srv.address().port));
