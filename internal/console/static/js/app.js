// The console's entry point: sign-in, live updates over server-sent events,
// routing between the views.

import { token, setToken, checkSession, events, request, AuthError } from "./api.js";
import { age, pushPoint } from "./util.js";
import * as fleet from "./fleet.js";
import * as streams from "./streams.js";
import * as objects from "./objects.js";
import * as scaling from "./scaling.js";

const VIEWS = { fleet, streams, objects, scaling };
const HISTORY = 300;

// S is the state the views draw: the sections the server sent and the
// histories kept for the charts.
const S = {
  fleet: null, config: null, scaling: null, objects: null, tick: null,
  offset: 0, // server clock minus this clock, ms
  view: "fleet",
  selected: null,
  hist: { load: {}, so: [], objects: {} },
  now() { return Date.now() + this.offset; },
};

// consoleStats measures how long applying an update takes (parse and
// render), for tests and for the curious.
const stats = { updates: 0, lastMs: 0, maxMs: 0, totalMs: 0, lastBytes: 0, renders: 0 };
window.consoleStats = stats;
window.consoleState = S;

let abort = null;

function $(id) { return document.getElementById(id); }

function showSignIn(msg) {
  if (abort) abort.abort();
  abort = null;
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = msg || "";
  $("token").focus();
}

async function boot() {
  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const tok = $("token").value.trim();
    $("signin-error").textContent = "";
    try {
      await checkSession(tok);
    } catch (e) {
      $("signin-error").textContent = e instanceof AuthError
        ? (e.status === 403 ? "Wrong admin token: the manager refused it." : "Enter the admin token.")
        : "Cannot reach the manager: " + e.message;
      return;
    }
    setToken(tok);
    $("token").value = "";
    start();
  });
  $("signout").addEventListener("click", () => { setToken(""); showSignIn(""); });
  for (const v of Object.values(VIEWS)) v.init(S, () => render(true));
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => render(true));

  const tok = token();
  if (!tok) return showSignIn("");
  try {
    await checkSession(tok);
  } catch (e) {
    if (e instanceof AuthError) setToken("");
    return showSignIn(e instanceof AuthError ? "Your token was refused; sign in again." : "Cannot reach the manager: " + e.message);
  }
  start();
}

function route() {
  const v = location.hash.slice(1);
  S.view = VIEWS[v] ? v : "fleet";
  for (const name of Object.keys(VIEWS)) $("view-" + name).hidden = name !== S.view;
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === S.view));
  render(true);
}

function start() {
  $("signin").hidden = true;
  $("app").hidden = false;
  route();
  loadHistory();
  connect();
}

async function loadHistory() {
  try {
    const h = await request("GET", "api/history");
    for (const [k, pts] of Object.entries(h.load)) S.hist.load[k] = merge(pts, S.hist.load[k]);
    S.hist.so = merge(h.so_rate, S.hist.so);
    for (const [k, pts] of Object.entries(h.objects)) S.hist.objects[k] = merge(pts, S.hist.objects[k]);
    drawCharts();
  } catch (e) {
    if (e instanceof AuthError) showSignIn("Your token was refused; sign in again.");
  }
}

// merge puts server history before the points received live.
function merge(old, live) {
  live = live || [];
  const first = live.length ? live[0][0] : Infinity;
  return old.filter((p) => p[0] < first).concat(live).slice(-HISTORY);
}

async function connect() {
  if (abort) abort.abort();
  const ctrl = new AbortController();
  abort = ctrl;
  let wait = 500;
  while (!ctrl.signal.aborted) {
    try {
      await events(ctrl.signal, () => { setLive(true); wait = 500; }, apply);
    } catch (e) {
      if (ctrl.signal.aborted) return;
      if (e instanceof AuthError) {
        setToken("");
        showSignIn(e.status === 403 ? "Wrong admin token: the manager refused it." : "Sign in again.");
        return;
      }
    }
    setLive(false);
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 5000);
  }
}

function setLive(on) {
  const el = $("live");
  el.className = "live " + (on ? "on" : "off");
  el.textContent = on ? "live" : "reconnecting…";
}

// apply merges one update and redraws what it changed.
function apply(text) {
  const t0 = performance.now();
  const msg = JSON.parse(text);
  for (const k of ["fleet", "config", "scaling", "objects"]) if (msg[k]) S[k] = msg[k];
  if (msg.tick) {
    S.tick = msg.tick;
    S.offset = msg.tick.at - Date.now();
    for (const [k, v] of Object.entries(msg.tick.load)) {
      S.hist.load[k] = S.hist.load[k] || [];
      pushPoint(S.hist.load[k], msg.tick.at, v, HISTORY);
    }
    pushPoint(S.hist.so, msg.tick.at, msg.tick.so_rate, HISTORY);
    if (S.objects) {
      for (const o of S.objects.objects) {
        S.hist.objects[o.key] = S.hist.objects[o.key] || [];
        pushPoint(S.hist.objects[o.key], msg.tick.at, o.rate, 120);
      }
    }
    const b = $("banner");
    b.hidden = !msg.tick.error;
    b.textContent = msg.tick.error || "";
  }
  const changed = !!(msg.fleet || msg.config || msg.scaling || msg.objects);
  render(changed);
  const ms = performance.now() - t0;
  stats.updates++;
  stats.lastMs = ms;
  stats.maxMs = Math.max(stats.maxMs, ms);
  stats.totalMs += ms;
  stats.lastBytes = text.length;
}

// render redraws the current view when its data changed (or when forced),
// then the charts and the ages, which move every second.
function render(changed) {
  if ($("app").hidden) return;
  if (changed) {
    VIEWS[S.view].render(S, () => render(true));
    stats.renders++;
  }
  drawCharts();
  updateAges();
}

function drawCharts() {
  if (S.view === "objects" && S.objects) objects.drawCharts(S);
  if (S.view === "scaling") scaling.drawCharts(S);
}

// updateAges writes the age of every [data-age] time (ms, 0 for never).
function updateAges() {
  const now = S.now();
  const view = $("view-" + S.view);
  view.querySelectorAll("[data-age]").forEach((el) => {
    const t = Number(el.dataset.age);
    const report = el.dataset.live !== undefined; // a node's last report
    const text = t > 0 ? age(now - t) + (report ? " ago" : "") : report ? "never" : "–";
    if (el.textContent !== text) el.textContent = text;
    if (el.dataset.live === "true") el.classList.toggle("stale", !(t > 0) || now - t > 30000);
  });
}

boot();
