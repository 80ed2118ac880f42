// tests/control/console_cdp.js -- drives headless Chromium through the DevTools protocol (CDP)
// over Node's own WebSocket (no npm package, tests/control/cdp_lib.js): the console test of
// tests/control/console_browser.sh.
//
//   node [--experimental-websocket] console_cdp.js WS_URL ADMIN_URL TOKEN EVIL_URL OUTDIR
//
// Prints "ok NAME" / "not ok NAME # why" lines. What it does, in one real browser:
//   1. loads ADMIN_URL/console, logs in through the form with TOKEN, sees the proxies with the
//      live rate and latency of an http proxy, and the verdicts a run posted;
//   2. adds a fault through the console's form and sees it listed, active, with its time left;
//   3. presses "Kill all faults" (a real mouse click) and sees every fault killed (page and API);
//   4. checks the session cookie's flags (HttpOnly, SameSite=Strict, Path=/; not in document.cookie);
//   5. opens EVIL_URL (another origin and site) whose script tries to read the API, to POST with
//      the cookie (fetch no-cors, a form), and to send a guessed CSRF header: all refused, and
//      the faults are still killed;
//   6. with /fleet/instances stubbed (fetch wrapped before the page's script runs) answering the
//      fleet contract's 200, the Instances panel lists the instances and Kill calls /fleet/kill.
'use strict';
const cdp = require('./cdp_lib.js');
const { send, evaluate, until, newPage, rowsText, check, ok, notok, sleep } = cdp;
const [WS_URL, ADMIN, TOKEN, EVIL, OUT] = process.argv.slice(2);

async function click(sid, selector) {
  const box = await evaluate(sid, `(() => { const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
    return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()`);
  for (const type of ['mouseMoved', 'mousePressed', 'mouseReleased'])
    await send('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 }, sid);
}
async function apiGet(path) {
  const r = await fetch(ADMIN + path, { headers: { Authorization: 'Bearer ' + TOKEN } });
  return r.json();
}
const shot = (sid, name) => cdp.shot(sid, OUT + '/' + name + '.png');

async function consoleFlow() {
  const sid = await newPage(ADMIN + '/console');
  check('login_form_shown', await until(sid, '!document.getElementById("login").hidden'), 'the login form never showed');
  await evaluate(sid, `document.getElementById('token').value = ${JSON.stringify(TOKEN)};
    document.getElementById('login-form').requestSubmit(); true`);
  const proxies = await until(sid, `(() => { const r = ${rowsText('proxies')}; return r.length ? r : false; })()`);
  check('logged_in_sees_proxies', proxies && proxies.some((r) => r[0] === 'db'), 'proxies: ' + JSON.stringify(proxies));
  const web = await until(sid, `(() => { const r = ${rowsText('proxies')}.find((c) => c[0] === 'web');
    return r && parseFloat(r[5]) > 0 && /[0-9] (ms|µs)$/.test(r[7]) ? r : false; })()`);
  check('live_rate_and_latency_of_http_proxy', web, JSON.stringify(await evaluate(sid, rowsText('proxies'))));
  const verdicts = await until(sid, `(() => { const r = ${rowsText('verdicts')};
    return !document.getElementById('verdicts-panel').hidden && r.length === 1 ? r : false; })()`);
  check('verdicts_panel', verdicts && verdicts[0][0] === 'db-slo' && verdicts[0][4] === 'FAIL', JSON.stringify(verdicts));
  check('single_daemon_view_without_fleet', await evaluate(sid, 'document.getElementById("instances-panel").hidden'),
    'the Instances panel shows while /fleet/instances answers 404');
  // add a fault through the console's form
  await evaluate(sid, `(() => { const $ = (i) => document.getElementById(i);
    $('f-name').value = 'console-slow'; $('f-proxy').value = 'db'; $('f-type').value = 'latency';
    $('f-keys').value = 'delay=50ms ttl=10m'; $('add-form').requestSubmit(); return true; })()`);
  const listed = await until(sid, `(() => { const r = ${rowsText('faults')}.find((c) => c[0] === 'console-slow');
    return r && r[3] === 'active' ? r : false; })()`);
  check('fault_added_through_console_is_listed', listed, 'no active console-slow row: ' + listed);
  check('fault_time_left_shown', listed && /^(9m|10m)/.test(listed[4]), 'time left: ' + (listed && listed[4]));
  const viaApi = await apiGet('/faults');
  check('fault_exists_in_api', viaApi.some((f) => f.name === 'console-slow' && f.source === 'api'), JSON.stringify(viaApi).slice(0, 300));
  // the audit list names the console and the token's name
  const audit = await until(sid, `(() => { const r = ${rowsText('audit')}.find((c) => /POST \\/faults fault=console-slow/.test(c[3]));
    return r || false; })()`);
  check('audit_row_in_console', audit && audit[1] === 'gameday' && audit[2] === 'console', JSON.stringify(audit));
  await shot(sid, 'console-active');
  // the kill button, pressed with the mouse
  await click(sid, '#kill');
  const killed = await until(sid, `(() => { const r = ${rowsText('faults')}; return r.length && r.every((c) => c[3] === 'killed'); })()`);
  check('kill_button_kills_every_fault_in_page', killed, JSON.stringify(await evaluate(sid, rowsText('faults'))));
  const after = await apiGet('/faults');
  check('kill_button_kills_every_fault_in_api', after.length >= 2 && after.every((f) => f.state === 'killed'),
    JSON.stringify(after.map((f) => [f.name, f.state])));
  const tl = await until(sid, `document.querySelectorAll('#timeline svg polyline').length > 0 &&
    Array.from(document.querySelectorAll('#timeline svg text')).some((t) => /kill/.test(t.textContent))`);
  check('timeline_svg_with_kill_marker', tl, 'no polyline or kill marker in the timeline');
  await shot(sid, 'console-killed');
  // the session cookie
  const { cookies } = await send('Network.getCookies', { urls: [ADMIN + '/'] }, sid);
  const c = cookies.find((k) => /^fl_console/.test(k.name));
  check('cookie_httponly_samesite_strict', c && c.httpOnly && c.sameSite === 'Strict' && c.path === '/',
    JSON.stringify(cookies));
  check('cookie_not_readable_by_script', !/fl_console/.test(await evaluate(sid, 'document.cookie')), 'document.cookie shows it');
  return sid;
}

// a page on another origin (another site: localhost vs 127.0.0.1) trying its best
async function crossSite() {
  const before = await apiGet('/faults');
  const sid = await newPage(EVIL + '/evil.html');
  const res = await until(sid, 'window.__done ? window.__results : false', 15000);
  check('evil_page_ran', res, 'the evil page did not finish');
  if (!res) return;
  check('cross_origin_read_refused', res.read === 'blocked', 'read: ' + res.read);
  check('cross_origin_read_with_guessed_csrf_refused', res.readCsrf === 'blocked', 'readCsrf: ' + res.readCsrf);
  await sleep(500);   // the no-cors POST and the form land
  const after = await apiGet('/faults');
  check('cross_site_post_with_cookie_changed_nothing', !after.some((f) => f.name === 'evil') &&
    after.every((f) => f.state === 'killed') && after.length === before.length,
    JSON.stringify(after.map((f) => [f.name, f.state])));
}

// the fleet's 200 (its contract), stubbed into the page's fetch before the console's script runs
const FLEET_STUB = `(() => {
  const real = window.fetch.bind(window);
  window.__fleetCalls = [];
  const json = (o) => new Response(JSON.stringify(o), {status: 200, headers: {'Content-Type': 'application/json'}});
  window.fetch = (url, opt) => {
    const p = String(url);
    if (p.endsWith('/fleet/instances')) return Promise.resolve(json({instances: [
      {id: 'checkout-a-1', labels: {service: 'checkout', zone: 'a'}, state: 'up', last_seen_ms: Date.now() - 800,
       proxies: ['db'], faults: [{name: 'lat', proxy: 'db', type: 'latency', lease_left_ms: 42000}]},
      {id: 'checkout-b-1', labels: {service: 'checkout', zone: 'b'}, state: 'up', last_seen_ms: Date.now() - 300,
       proxies: ['db'], faults: []},
      {id: 'checkout-b-2', labels: {service: 'checkout', zone: 'b'}, state: 'gone', last_seen_ms: Date.now() - 9000,
       proxies: ['db'], faults: []}]}));
    if (p.endsWith('/fleet/kill') || p.endsWith('/fleet/resume')) {
      window.__fleetCalls.push(p.replace(/^.*\\/fleet\\//, '') + ' ' + ((opt && opt.headers && opt.headers['X-Faultline-CSRF']) ? 'csrf' : 'nocsrf'));
      return Promise.resolve(json({applied: 2, of: 2, ms: 37}));
    }
    return real(url, opt);
  };
})();`;
async function fleetStub() {
  const sid = await newPage(ADMIN + '/console', FLEET_STUB);
  await until(sid, '!document.getElementById("login").hidden');   // a new tab: its own session
  await evaluate(sid, `document.getElementById('token').value = ${JSON.stringify(TOKEN)};
    document.getElementById('login-form').requestSubmit(); true`);
  const rows = await until(sid, `(() => { const r = ${rowsText('instances')}; return r.length === 3 ? r : false; })()`);
  check('fleet_stub_instances_listed', rows && rows[0][0] === 'checkout-a-1' && /service=checkout/.test(rows[0][1]) &&
    /zone=a/.test(rows[0][1]) && rows[2][2] === 'gone', JSON.stringify(rows));
  check('fleet_stub_lease_left_shown', rows && /lat \(latency on db, 42s\)/.test(rows[0][5]), rows && rows[0][5]);
  await click(sid, '#kill');
  const res = await until(sid, `(() => { const t = document.getElementById('fleet-result').textContent;
    return /applied 2 of 2 in 37 ms/.test(t) ? [t, window.__fleetCalls] : false; })()`);
  check('fleet_stub_kill_calls_fleet_kill_with_csrf', res && res[1][0] === 'kill csrf', JSON.stringify(res));
  await shot(sid, 'console-fleet');
}

async function main() {
  await cdp.connect(WS_URL);
  for (const [name, fn] of [['console', consoleFlow], ['cross_site', crossSite], ['fleet_stub', fleetStub]]) {
    try { await fn(); } catch (e) { notok(name + '_ran', e.stack || e); }
  }
  cdp.finish();
}
main().catch((e) => { notok('cdp', e.stack || e); process.exit(1); });
