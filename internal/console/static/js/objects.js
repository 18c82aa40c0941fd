// Shared objects view: objects per application and scope, their version,
// change rate, clients per node and attributes; charts of changes per
// second for the cluster and per object.

import { esc, num, bytes, setHTML } from "./util.js";
import { request } from "./api.js";
import { drawChart, sparkline } from "./charts.js";

const MAX_SPARKS = 200;
let detail = null; // the selected object's detail, as fetched
let fetching = false;

export function init(S, rerender) {
  document.getElementById("so-list").addEventListener("click", (ev) => {
    const tr = ev.target.closest("tr[data-object]");
    if (!tr) return;
    S.selected = tr.dataset.object;
    detail = null;
    rerender();
    refresh(S, rerender);
  });
  document.getElementById("so-detail").addEventListener("click", (ev) => {
    if (ev.target.closest("[data-close]")) {
      S.selected = null;
      detail = null;
      rerender();
    }
  });
}

// refresh fetches the selected object's attributes.
async function refresh(S, rerender) {
  const key = S.selected;
  if (!key || fetching) return;
  fetching = true;
  try {
    detail = await request("GET", "api/object?key=" + encodeURIComponent(key));
  } catch (e) {
    detail = { key, error: e.message };
  } finally {
    fetching = false;
  }
  if (S.selected === key) rerender();
}

export function render(S, rerender) {
  const so = S.objects;
  if (!so) return;
  setHTML(document.getElementById("so-status"), esc(so.status || (so.enabled ? `${so.objects.length} objects` : "")));
  const byApp = new Map();
  for (const o of so.objects) {
    if (!byApp.has(o.app)) byApp.set(o.app, new Map());
    const scopes = byApp.get(o.app);
    if (!scopes.has(o.scope)) scopes.set(o.scope, []);
    scopes.get(o.scope).push(o);
  }
  let html = "";
  for (const [app, scopes] of byApp) {
    html += `<div class="app-block card" data-app="${esc(app)}"><h3>${esc(app)} <span class="scope-name">application</span></h3>`;
    for (const [scope, objs] of scopes) {
      html += `<div class="scope"><div class="muted small">scope <span class="mono">${esc(scope)}</span></div>
      <div class="scroll"><table class="grid objects"><thead><tr><th>Object</th><th class="opt">Kind</th><th class="num">Version</th>
      <th class="num">Changes/s</th><th class="opt">Last 2 min</th><th class="num opt">Attributes</th><th>Clients per node</th></tr></thead><tbody>`;
      for (const o of objs) {
        const clients = o.nodes.map((n) => `<span class="chip mono" data-so-node="${esc(n.node)}">${esc(n.node)}${n.clients >= 0 ? " · " + n.clients : ""}</span>`).join("") ||
          `<span class="muted">none</span>`;
        html += `<tr class="clickable${S.selected === o.key ? " selected" : ""}" data-object="${esc(o.key)}">
          <td class="mono">${esc(o.name)}</td>
          <td class="opt"><span class="badge ${o.persistent ? "persistent" : "transient"}">${o.persistent ? "persistent" : "transient"}</span></td>
          <td class="num version">${o.version}</td><td class="num rate">${num(o.rate)}</td>
          <td class="opt"><canvas class="spark" data-spark="${esc(o.key)}"></canvas></td>
          <td class="num opt">${o.attrs}</td><td>${clients}</td></tr>`;
      }
      html += `</tbody></table></div></div>`;
    }
    html += `</div>`;
  }
  if (!html) html = `<p class="muted">No shared object in JetStream yet. Objects appear when clients use them (try a node's BallControl demo page).</p>`;
  const changed = setHTML(document.getElementById("so-list"), html);

  const aside = document.getElementById("so-detail");
  const sel = S.selected && so.objects.find((o) => o.key === S.selected);
  if (!S.selected) {
    aside.hidden = true;
  } else {
    aside.hidden = false;
    if (sel && detail && !detail.error && detail.version !== sel.version) refresh(S, rerender);
    setHTML(aside, detailHTML(S.selected, sel, detail));
  }
  drawCharts(S, changed);
  return changed;
}

function detailHTML(key, o, d) {
  let html = `<div class="toolbar"><h3 style="flex:1;margin:0">${esc(key)}</h3><button class="small ghost" data-close>Close</button></div>`;
  if (!o) return html + `<p class="muted">This object is gone (dropped after its last client left).</p>`;
  html += `<dl class="kv">
    <dt>Version</dt><dd class="version">${o.version}</dd>
    <dt>Changes/s</dt><dd class="rate">${num(o.rate)}</dd>
    <dt>Log position</dt><dd>${o.seq}</dd>
    <dt>Size</dt><dd>${bytes(o.size)} in ${o.attrs} attributes</dd>
    <dt>Last written by</dt><dd class="mono">${esc(o.last_node || "–")}</dd>
    <dt>Clients</dt><dd>${o.nodes.map((n) => `<span class="chip mono">${esc(n.node)}${n.clients >= 0 ? " · " + n.clients : " (present)"}</span>`).join("") || "none"}</dd>
    ${o.errors ? `<dt>Undecodable records</dt><dd class="error">${o.errors}</dd>` : ""}
  </dl>
  <div class="chart-title">Changes per second</div><canvas id="so-detail-chart" class="chart" style="height:140px"></canvas>
  <h3>Attributes</h3>`;
  if (!d) return html + `<p class="muted">Loading…</p>`;
  if (d.error) return html + `<p class="error">${esc(d.error)}</p>`;
  if (!d.attributes.length) return html + `<p class="muted">No attributes.</p>`;
  html += `<table class="grid attrs"><thead><tr><th>Key</th><th>Type</th><th>Value</th></tr></thead><tbody>` +
    d.attributes.map((a) => `<tr data-attr="${esc(a.key)}"><td class="mono">${esc(a.key)}</td><td>${esc(a.type)}</td><td class="value">${esc(a.value)}</td></tr>`).join("") +
    `</tbody></table>`;
  if (d.version !== o.version) html += `<p class="muted small">Values as of version ${d.version}.</p>`;
  return html;
}

// drawCharts redraws the cluster chart, the sparklines and the selected
// object's chart.
export function drawCharts(S) {
  const now = S.now();
  const total = S.objects ? S.objects.rate : 0;
  document.getElementById("so-total").textContent = num(total) + " /s";
  drawChart(document.getElementById("so-chart"), [{ points: S.hist.so, label: "cluster" }], { now, span: 300000, unit: "" });
  const sparks = document.querySelectorAll("#so-list canvas[data-spark]");
  for (let i = 0; i < sparks.length && i < MAX_SPARKS; i++) {
    sparkline(sparks[i], S.hist.objects[sparks[i].dataset.spark] || [], now);
  }
  const c = document.getElementById("so-detail-chart");
  if (c && S.selected) drawChart(c, [{ points: S.hist.objects[S.selected] || [], label: S.selected }], { now, span: 120000 });
}
