// faultline's game-day console (docs/console.md). Plain JS, no framework, no network but this
// daemon's own admin API. Every value from the API is put in the page as text (textContent),
// never as HTML. The session: POST /console/login answers a CSRF value (kept in sessionStorage,
// so another origin cannot read it) and sets an HttpOnly cookie; every API call sends both.
'use strict';

const POLL_MS = 1000, HISTORY = 300, SPAN_MAX = 3600;
const st = {
  csrf: sessionStorage.getItem('fl_csrf') || '', who: '', fleet: false, prev: null, prevT: 0,
  hist: {}, bands: {}, open: {}, audit: [], stats: null, faults: [], busy: false, timer: null, tick: 0, runStart: 0,
};

const $ = (id) => document.getElementById(id);
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    if (c instanceof Node) { const td = document.createElement('td'); td.appendChild(c); tr.appendChild(td); }
    else if (c && typeof c === 'object') tr.appendChild(el('td', c.t, c.cls));
    else tr.appendChild(el('td', c));
  }
  return tr;
}
function fill(id, rows) {
  const tb = $(id).querySelector('tbody');
  tb.replaceChildren(...rows);
}
function fmtLeft(ms) {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round(ms / 1000);
  if (s >= 3600) return Math.floor(s / 3600) + 'h' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
  if (s >= 60) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
  return s + 's';
}
function fmtLat(ms) {
  if (ms === null || ms === undefined || !isFinite(ms)) return '—';
  return ms < 1 ? Math.round(ms * 1000) + ' µs' : ms.toFixed(1) + ' ms';
}
function fmtNum(v, d) { return v === null || v === undefined || !isFinite(v) ? '—' : v.toFixed(d); }
function fmtTime(ms) { return new Date(ms).toLocaleTimeString(); }

// ---- the API ----

class SessionGone extends Error {}

async function api(method, path, body) {
  const headers = { 'X-Faultline-CSRF': st.csrf };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin', cache: 'no-store',
  });
  if (r.status === 401 || r.status === 403) {
    const j = await r.clone().json().catch(() => ({}));
    if (/console_session|csrf/.test(j.error || '')) { showLogin(''); throw new SessionGone(j.error); }
  }
  return r;
}
async function apiJSON(method, path, body) {
  const r = await api(method, path, body);
  const j = r.status === 204 ? {} : await r.json().catch(() => ({}));
  return { status: r.status, j };
}

async function login(token) {
  const r = await fetch('/console/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin',
    body: JSON.stringify({ token }),
  });
  const j = await r.json().catch(() => ({}));
  if (r.status !== 200) throw new Error(j.error || ('HTTP ' + r.status));
  st.csrf = j.csrf;
  st.who = j.who;
  sessionStorage.setItem('fl_csrf', j.csrf);
  sessionStorage.setItem('fl_who', j.who);
  return j;
}

function showLogin(msg) {
  clearInterval(st.timer);
  st.timer = null;
  st.csrf = '';
  sessionStorage.removeItem('fl_csrf');
  $('main').hidden = true;
  $('actions').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = msg || '';
  $('status').textContent = 'not logged in';
}

function showMain() {
  $('login').hidden = true;
  $('main').hidden = false;
  $('actions').hidden = false;
  if (!st.timer) st.timer = setInterval(poll, POLL_MS);
  poll();
}

// ---- rendering (pure: each takes the API's JSON; tests call them with stubbed data) ----

function renderInstances(data) {
  const rows = [];
  for (const i of (data && data.instances) || []) {
    const labels = document.createElement('span');
    for (const [k, v] of Object.entries(i.labels || {})) labels.appendChild(el('span', k + '=' + v, 'label'));
    const faults = (i.faults || []).map((f) => f.name + ' (' + f.type + ' on ' + f.proxy + ', ' +
      (f.state && f.state !== 'active' ? f.state + ', ' : '') + fmtLeft(f.lease_left_ms) + ')').join(', ');
    const ago = i.last_seen_ms ? Math.max(0, Math.round((Date.now() - i.last_seen_ms) / 1000)) + 's ago' : '—';
    rows.push(row([i.id, labels, { t: i.state, cls: 'state-' + i.state }, ago, (i.proxies || []).join(', '),
      faults || '—']));
  }
  fill('instances', rows);
  $('instances-panel').hidden = false;
  $('scope').textContent = 'fleet · ' + rows.length + ' instance(s)';
  return rows.length;
}

function proxyRates(stats, prev, dt) {
  const out = {};
  for (const [name, p] of Object.entries((stats && stats.proxies) || {})) {
    const q = prev && prev.proxies && prev.proxies[name];
    const http = p.mode === 'http' || p.mode === 'http2' || p.mode === 'grpc';   // per request
    const o = { mode: p.mode, open: http ? p.http.inflight + ' req / ' + p.active : p.active, rate: null, err: null, lat: null };
    if (q && dt > 0) {
      o.rate = ((http ? p.http.requests - q.http.requests : p.accepted - q.accepted)) / dt;
      const e5 = http ? p.http.status['5xx'] - q.http.status['5xx'] : 0;
      o.err = (e5 + (p.upstream_failed - q.upstream_failed) + (http ? 0 : p.closed_by.fault - q.closed_by.fault)) / dt;
      const dn = p.http.responses - q.http.responses;
      if (http && dn > 0) o.lat = (p.http.response_us_total - q.http.response_us_total) / dn / 1000;
    }
    out[name] = o;
  }
  return out;
}

function renderProxies(stats, rates) {
  const rows = [];
  const sel = $('f-proxy'), chosen = sel.value;
  sel.replaceChildren();
  for (const [name, p] of Object.entries((stats && stats.proxies) || {})) {
    const r = rates[name] || {};
    rows.push(row([name, p.mode, p.listen + ' → ' + p.upstream, p.enabled ? 'yes' : 'no', { t: r.open, cls: 'num' },
      { t: fmtNum(r.rate, 1), cls: 'num' }, { t: fmtNum(r.err, 1), cls: 'num' },
      { t: fmtLat(r.lat), cls: 'num' }]));
    const o = el('option', name);
    o.value = name;
    sel.appendChild(o);
  }
  if (chosen) sel.value = chosen;
  fill('proxies', rows);
}

function renderFaults(faults) {
  const rows = [];
  for (const f of faults || []) {
    const rm = el('button', 'remove');
    rm.addEventListener('click', () => removeFault(f.proxy, f.name));
    const aff = (f.counters && (f.counters.conns_affected + f.counters.requests_affected)) || 0;
    rows.push(row([f.name, f.proxy, f.type, { t: f.state, cls: 'state-' + f.state },
      f.state === 'active' || f.state === 'pending' ? fmtLeft(f.left_ms) : '—', { t: aff, cls: 'num' }, f.source, rm]));
  }
  fill('faults', rows);
}

function renderAudit(entries) {
  const rows = [];
  for (const a of (entries || []).slice().reverse())
    rows.push(row([fmtTime(a.at_ms), a.who, a.via, a.what, a.status || '', a.inst + (a.remote ? ' ← ' + a.remote : '')]));
  fill('audit', rows);
}

function renderVerdicts(v) {
  if (!v || !Array.isArray(v.verdicts)) { $('verdicts-panel').hidden = true; return; }
  $('verdicts-panel').hidden = false;
  $('verdicts-run').textContent = v.run ? 'run ' + v.run : '';
  fill('verdicts', v.verdicts.map((x) => row([x.name, x.check, x.measured, x.bound,
    { t: x.verdict, cls: 'v-' + x.verdict }])));
}

// The run's timeline from the run's start (the daemon's started_ms in /stats; at least a minute
// wide, at most SPAN_MAX seconds): per proxy, its rate (blue) and errors (red) per second since
// the page opened (HISTORY samples); faults' active windows as red bands from when each began
// acting (active_since_ms in /faults, so a page opened later shows a fault from its start);
// kills and resumes (the audit log) as dashed lines.
const NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
function renderTimeline(now) {
  const names = Object.keys(st.hist);
  const W = 960, L = 110, R = 10, PH = 70, top = 8, H = top + Math.max(1, names.length) * (PH + 10) + 24;
  // the window: from the run's start (or the first sample, or the first band), at least a minute
  const first = Math.min(now, st.runStart || now, ...names.map((n) => (st.hist[n][0] || { t: now }).t),
    ...Object.values(st.bands).map((l) => (l[0] ? l[0][0] : now)));
  const span = Math.min(SPAN_MAX * 1000, Math.max(60000, now - first + 2000));
  const t0 = now - span, x = (t) => L + (W - L - R) * (t - t0) / span;
  const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'timeline' });
  let nb = 0;
  for (const [key, list] of Object.entries(st.bands)) {
    for (const b of list) {
      const a = Math.max(b[0], t0), e = b[1] || now;
      if (e < t0) continue;
      s.appendChild(svg('rect', { x: x(a), y: top, width: Math.max(1, x(e) - x(a)), height: H - top - 24,
        fill: '#c62828', 'fill-opacity': 0.12 }));
      s.appendChild(svg('text', { x: x(a) + 2, y: H - 28 - 11 * (nb++ % 4), 'font-size': 10, fill: '#c62828',
        'text-anchor': x(a) > W - 120 ? 'end' : 'start' }, key));
    }
  }
  names.forEach((name, i) => {
    const y0 = top + i * (PH + 10), pts = st.hist[name].filter((p) => p.t >= t0);
    s.appendChild(svg('text', { x: 4, y: y0 + 14, 'font-size': 12 }, name));
    s.appendChild(svg('line', { x1: L, x2: W - R, y1: y0 + PH, y2: y0 + PH, stroke: '#bbb' }));
    const max = Math.max(1, ...pts.map((p) => Math.max(p.rate || 0, p.err || 0)));
    s.appendChild(svg('text', { x: 4, y: y0 + 30, 'font-size': 10, fill: '#666' }, 'max ' + max.toFixed(1) + '/s'));
    for (const [field, color] of [['rate', '#1565c0'], ['err', '#c62828']]) {
      const d = pts.filter((p) => p[field] !== null).map((p) => x(p.t).toFixed(1) + ',' +
        (y0 + PH - (PH - 4) * p[field] / max).toFixed(1)).join(' ');
      if (d) s.appendChild(svg('polyline', { points: d, fill: 'none', stroke: color, 'stroke-width': 1.5 }));
    }
  });
  for (const a of st.audit) {
    if (a.at_ms < t0 || !/\/(kill|resume)$|^fleet (kill|resume)\b/.test(a.path || a.what || '')) continue;
    s.appendChild(svg('line', { x1: x(a.at_ms), x2: x(a.at_ms), y1: top, y2: H - 24, stroke: '#333',
      'stroke-dasharray': '4 3' }));
    s.appendChild(svg('text', { x: x(a.at_ms) + 3, y: top + 10, 'font-size': 10,
      'text-anchor': x(a.at_ms) > W - 120 ? 'end' : 'start' }, (a.path || a.what).replace(/^.*\//, '') + ' (' + a.who + ')'));
  }
  for (let m = 0; m <= 5; m++) {
    const ago = Math.round(span * (5 - m) / 5 / 1000);
    s.appendChild(svg('text', { x: x(now - ago * 1000) - 12, y: H - 6, 'font-size': 10, fill: '#666' },
      m === 5 ? 'now' : '-' + (ago >= 60 && ago % 60 === 0 ? ago / 60 + 'm' : ago + 's')));
  }
  $('timeline').replaceChildren(s);
}

// ---- polling ----

function track(now, rates, faults) {
  for (const [name, r] of Object.entries(rates)) {
    const h = st.hist[name] || (st.hist[name] = []);
    h.push({ t: now, rate: r.rate, err: r.err });
    while (h.length > HISTORY) h.shift();
  }
  const activeNow = new Set();
  for (const f of faults) {
    const key = f.proxy + '/' + f.name;
    if (f.state !== 'active') continue;
    activeNow.add(key);
    if (!st.open[key]) { st.open[key] = [f.active_since_ms || now, 0]; (st.bands[key] = st.bands[key] || []).push(st.open[key]); }
  }
  for (const key of Object.keys(st.open)) if (!activeNow.has(key)) { st.open[key][1] = now; delete st.open[key]; }
}

async function poll() {
  if (st.busy || !st.csrf) return;
  st.busy = true;
  try {
    const now = Date.now();
    const [stats, faults, audit, fleet] = await Promise.all([
      apiJSON('GET', '/stats'), apiJSON('GET', '/faults'), apiJSON('GET', '/audit?n=100'),
      apiJSON('GET', '/fleet/instances')]);
    st.fleet = fleet.status === 200;
    if (st.fleet) renderInstances(fleet.j);
    else { $('instances-panel').hidden = true; $('scope').textContent = 'instance ' + (audit.j.inst || ''); }
    const rates = proxyRates(stats.j, st.prev, st.prev ? (now - st.prevT) / 1000 : 0);
    st.prev = stats.j;
    if (stats.j.started_ms) st.runStart = stats.j.started_ms;
    st.prevT = now;
    st.faults = Array.isArray(faults.j) ? faults.j : [];
    st.audit = audit.j.entries || [];
    track(now, rates, st.faults);
    renderProxies(stats.j, rates);
    renderFaults(st.faults);
    renderAudit(st.audit);
    renderTimeline(now);
    if (st.tick++ % 5 === 0) {
      const v = await apiJSON('GET', '/verdicts');
      renderVerdicts(v.status === 200 ? v.j : null);
    }
    const active = st.faults.filter((f) => f.state === 'active').length;
    $('status').textContent = (sessionStorage.getItem('fl_who') || st.who) + ' · ' + st.faults.length + ' fault(s), ' +
      active + ' active, ' + (stats.j.killed || 0) + ' killed' + (stats.j.run ? ' · run ' + stats.j.run : '');
  } catch (e) {
    if (!(e instanceof SessionGone)) $('status').textContent = 'API unreachable: ' + e.message;
  } finally {
    st.busy = false;
  }
}

// ---- actions ----

async function addFault(ev) {
  ev.preventDefault();
  const body = { name: $('f-name').value.trim(), proxy: $('f-proxy').value, type: $('f-type').value.trim() };
  for (const kv of $('f-keys').value.trim().split(/\s+/).filter(Boolean)) {
    const i = kv.indexOf('=');
    if (i <= 0) { $('add-error').textContent = 'keys are key=value: ' + kv; return; }
    body[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const r = await apiJSON('POST', '/faults', body);
  $('add-error').textContent = r.status === 201 ? '' : (r.j.error || 'HTTP ' + r.status);
  if (r.status === 201) $('f-name').value = '';
  poll();
}

async function removeFault(proxy, name) {
  await api('DELETE', '/faults/' + encodeURIComponent(proxy) + '/' + encodeURIComponent(name));
  poll();
}

async function killOrResume(what) {
  const path = st.fleet ? '/fleet/' + what : '/' + what;
  const r = await apiJSON('POST', path, st.fleet ? {} : undefined);
  $('fleet-result').textContent = st.fleet && r.status === 200
    ? what + ': applied ' + r.j.applied + ' of ' + r.j.of + ' in ' + r.j.ms + ' ms' : '';
  poll();
}

function init() {
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await login($('token').value); $('token').value = ''; showMain(); }
    catch (e) { $('login-error').textContent = e.message; }
  });
  $('add-form').addEventListener('submit', (ev) => addFault(ev).catch(() => {}));
  $('kill').addEventListener('click', () => killOrResume('kill').catch(() => {}));
  $('resume').addEventListener('click', () => killOrResume('resume').catch(() => {}));
  $('logout').addEventListener('click', async () => {
    await api('POST', '/console/logout').catch(() => {});
    showLogin('logged out');
  });
  if (st.csrf) { showMain(); return; }
  // an API without a token (loopback only) needs none: log in at once
  fetch('/console/login', { credentials: 'same-origin', cache: 'no-store' }).then((r) => r.json())
    .then((j) => (j.token_required ? showLogin('') : login('').then(showMain)))
    .catch((e) => showLogin(e.message));
}

window.flConsole = { renderInstances, renderFaults, renderProxies, proxyRates, renderAudit, renderVerdicts, fmtLeft, fmtLat };
document.addEventListener('DOMContentLoaded', init);
