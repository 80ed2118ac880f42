// tests/control/console_fleet_cdp.js -- the console against a live fleet, in headless Chromium
// (tests/control/console_fleet.sh starts the fleet; tests/control/cdp_lib.js drives the browser).
//
//   node [--experimental-websocket] console_fleet_cdp.js WS_URL ADMIN_URL OUTDIR ADDED_MS KILL_CMD
//
// ADMIN_URL is one daemon of a 3-instance fleet on which a leased fault `lag` was added through
// the fleet at ADDED_MS (Unix ms), a few seconds before this page opens. Checks:
//   1. the Instances panel lists the 3 instances, up, with their labels and the leased fault;
//   2. the timeline starts at the run's start: the fault's band begins when the fault began
//      acting (ADDED_MS), not when the page opened, and the timeline reaches back past it;
//   3. KILL_CMD (a fleet kill from another controller, run here) shows on the page: the fault is
//      killed in the Faults panel, marked killed on every instance in the Instances panel, and
//      the kill is a marker on the timeline.
'use strict';
const { execSync } = require('child_process');
const cdp = require('./cdp_lib.js');
const [WS_URL, ADMIN, OUT, ADDED, KILL_CMD] = process.argv.slice(2);
const added = Number(ADDED);
const { check, until, evaluate, rowsText } = cdp;

async function main() {
  await cdp.connect(WS_URL);
  const opened = Date.now();
  const sid = await cdp.newPage(ADMIN + '/console');   // no token on these daemons: the page logs in by itself
  const rows = await until(sid, `(() => { const r = ${rowsText('instances')};
    return r.length === 3 && r.every((c) => c[2] === 'up' && /lag \\(latency on db/.test(c[5])) ? r : false; })()`, 15000);
  check('live_fleet_three_instances_up', rows, JSON.stringify(await evaluate(sid, rowsText('instances'))));
  const ids = rows ? rows.map((r) => r[0]).sort() : [];
  check('live_fleet_ids', JSON.stringify(ids) === '["inst1","inst2","inst3"]', JSON.stringify(ids));
  check('live_fleet_labels', rows && rows.every((r) => /service=checkout/.test(r[1]) && /zone=[ab]/.test(r[1])) &&
    rows.find((r) => r[0] === 'inst2')[1].includes('zone=b'), JSON.stringify(rows && rows.map((r) => r[1])));
  check('live_fleet_scope', /fleet · 3 instance/.test(await evaluate(sid, 'document.getElementById("scope").textContent')),
    await evaluate(sid, 'document.getElementById("scope").textContent'));

  // the timeline from the run's start: the band of `lag` begins when it began acting
  const band = await until(sid, `(st.bands['db/lag'] && st.bands['db/lag'][0]) ? st.bands['db/lag'][0] : false`);
  check('timeline_band_from_fault_start', band && band[0] >= added - 1500 && band[0] <= added + 1500 && opened - band[0] >= 2500,
    'band ' + JSON.stringify(band) + ' added ' + added + ' page opened ' + opened);
  const geo = await until(sid, `(() => { const s = document.querySelector('#timeline svg'); if (!s) return false;
    const r = Array.from(s.querySelectorAll('rect')); const now = Date.now();
    return r.length ? { runStart: st.runStart, rectX: Number(r[0].getAttribute('x')), now } : false; })()`);
  check('timeline_reaches_run_start', geo && geo.runStart > 0 && geo.runStart <= added && geo.rectX > 110,
    JSON.stringify(geo));

  // a fleet kill from another controller shows on this daemon's console
  let out = '';
  try { out = execSync(KILL_CMD, { encoding: 'utf8', timeout: 15000 }); } catch (e) { out = String(e.stdout || e); }
  check('fleet_kill_sent', /kill: 3 of 3 applied/.test(out), out);
  const killedHere = await until(sid, `(() => { const r = ${rowsText('faults')}.find((c) => c[0] === 'lag');
    return r && r[3] === 'killed'; })()`);
  check('fleet_kill_shows_in_faults_panel', killedHere, JSON.stringify(await evaluate(sid, rowsText('faults'))));
  const killedAll = await until(sid, `(() => { const r = ${rowsText('instances')};
    return r.length === 3 && r.every((c) => /lag \\(latency on db, killed/.test(c[5])); })()`, 8000);
  check('fleet_kill_shows_on_every_instance', killedAll, JSON.stringify(await evaluate(sid, rowsText('instances'))));
  const marker = await until(sid, `Array.from(document.querySelectorAll('#timeline svg text')).some((t) => /fleet kill/.test(t.textContent))`);
  check('fleet_kill_marker_on_timeline', marker, 'no fleet kill marker');
  await cdp.shot(sid, OUT + '/console-live-fleet.png');
  cdp.finish();
}
main().catch((e) => { cdp.notok('cdp', e.stack || e); cdp.finish(); });
