// tests/control/cdp_lib.js -- a small DevTools-protocol (CDP) client for headless Chromium over
// Node's own WebSocket (or the npm package ws on a node without one: tests/control/
// lib_chrome.bash), with the TAP-style reporting the console tests print ("ok NAME" /
// "not ok NAME # why"); tests/control/console_cdp.js and console_fleet_cdp.js use it:
//
//   const cdp = require('./cdp_lib.js');
//   await cdp.connect(WS_URL);
//   const sid = await cdp.newPage(URL, PRELOAD_SCRIPT_OR_undefined);
//   await cdp.until(sid, 'EXPRESSION', ms)   // polls until the page's expression is truthy
//   cdp.check(NAME, cond, why); ... cdp.finish();
'use strict';
const fs = require('fs');
// node's own WebSocket, or the npm package ws where node has none (CDP_WS_DIR: lib_chrome.bash)
const WebSocketImpl = process.env.CDP_WS_DIR
  ? require(require.resolve('ws', { paths: [process.env.CDP_WS_DIR] }))
  : globalThis.WebSocket;

let ws, nextId = 1, fails = 0;
const pending = new Map();
const ok = (n) => console.log('ok ' + n);
const notok = (n, why) => { fails++; console.log('not ok ' + n + ' # ' + String(why).replace(/\n/g, ' ').slice(0, 400)); };
const check = (n, cond, why) => (cond ? ok(n) : notok(n, why));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function send(method, params = {}, sessionId) {
  const id = nextId++;
  const msg = { id, method, params };
  if (sessionId) msg.sessionId = sessionId;
  ws.send(JSON.stringify(msg));
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    setTimeout(() => { if (pending.delete(id)) reject(new Error('CDP timeout: ' + method)); }, 20000);
  });
}
async function connect(url) {
  ws = new WebSocketImpl(url);
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error('cannot connect to ' + url)); });
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.id && pending.has(m.id)) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) p.reject(new Error(m.method + ': ' + JSON.stringify(m.error))); else p.resolve(m.result);
    }
  };
}
async function evaluate(sid, expr) {
  const r = await send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true }, sid);
  if (r.exceptionDetails) throw new Error('page: ' + JSON.stringify(r.exceptionDetails).slice(0, 300));
  return r.result.value;
}
async function until(sid, expr, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await evaluate(sid, expr); if (last) return last; } catch (e) { last = e.message; }
    await sleep(150);
  }
  return false;
}
async function newPage(url, preload) {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  await send('Page.enable', {}, sessionId);
  await send('Runtime.enable', {}, sessionId);
  await send('Network.enable', {}, sessionId);
  if (preload) await send('Page.addScriptToEvaluateOnNewDocument', { source: preload }, sessionId);
  await send('Page.navigate', { url }, sessionId);
  await until(sessionId, 'document.readyState === "complete"');
  return sessionId;
}
async function shot(sid, path) {
  try {
    const r = await send('Page.captureScreenshot', { format: 'png' }, sid);
    fs.writeFileSync(path, Buffer.from(r.data, 'base64'));
  } catch (e) { /* a screenshot is for people only */ }
}
// the text of every cell of table #id's body, row by row (a page expression)
const rowsText = (id) => `Array.from(document.querySelectorAll('#${id} tbody tr')).map((tr) => Array.from(tr.cells).map((c) => c.textContent))`;
function finish() {
  if (ws) ws.close();
  process.exit(fails ? 1 : 0);
}

module.exports = { connect, send, evaluate, until, newPage, shot, rowsText, check, ok, notok, sleep, finish };
