// Scaling view: load per group and role against the alarm threshold, the
// alarms and policy limits (editable through the REST API), and the
// timeline of scaling events with their reasons.

import { esc, setHTML, dateTime } from "./util.js";
import { actions } from "./api.js";
import { drawChart, color } from "./charts.js";
import { toast } from "./ui.js";

export function init(S) {
  document.getElementById("alarms-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const b = ev.submitter;
    if (!b || !b.dataset.role) return;
    const role = b.dataset.role;
    const input = document.getElementById("alarm-" + role);
    b.disabled = true;
    try {
      const a = await actions.setAlarm(role, Number(input.value));
      toast(`${role} alarm threshold set to ${a.threshold}%`);
      input.dataset.dirty = "";
    } catch (e) {
      toast(`Alarm not changed: ${e.message}`, true);
    } finally {
      b.disabled = false;
    }
  });
  document.getElementById("alarms-form").addEventListener("input", (ev) => { ev.target.dataset.dirty = "1"; });
  const pol = document.getElementById("policies");
  pol.addEventListener("input", (ev) => { ev.target.dataset.dirty = "1"; });
  pol.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const name = form.dataset.policy;
    const b = ev.submitter;
    if (b) b.disabled = true;
    try {
      // Change only min and max: read the whole policy, edit, write back.
      const env = await actions.policy(name);
      for (const region of env.policy.targets.region) {
        for (const t of region.target) {
          const min = form.querySelector(`input[data-region="${CSS.escape(region.name)}"][data-role="${CSS.escape(t.role)}"][data-limit="min"]`);
          const max = form.querySelector(`input[data-region="${CSS.escape(region.name)}"][data-role="${CSS.escape(t.role)}"][data-limit="max"]`);
          if (min) t.minLimit = Number(min.value);
          if (max) t.maxLimit = Number(max.value);
        }
      }
      await actions.updatePolicy(name, env);
      form.querySelectorAll("input").forEach((i) => { i.dataset.dirty = ""; });
      toast(`Policy ${name} saved`);
    } catch (e) {
      toast(`Policy ${name} not saved: ${e.message}`, true);
    } finally {
      if (b) b.disabled = false;
    }
  });
}

// editing reports whether the user is changing inputs inside el, which a
// re-render must not clobber.
function editing(el) {
  return el.contains(document.activeElement) || el.querySelector("input[data-dirty='1']");
}

export function render(S) {
  const cfg = S.config;
  const fleet = S.fleet;
  if (!cfg || !fleet) return;
  const keys = [];
  for (const g of fleet.groups) for (const r of g.roles) keys.push({ key: `${g.name}/${r.role}`, group: g.name, role: r.role });
  setHTML(document.getElementById("load-charts"), keys.map((k) => `
    <div class="card"><div class="chart-title">${esc(k.group)} · ${esc(k.role)} <span class="big" data-load="${esc(k.key)}"></span></div>
    <canvas class="chart" data-chart="${esc(k.key)}" data-role="${esc(k.role)}"></canvas></div>`).join("") ||
    `<p class="muted">No group.</p>`);

  const af = document.getElementById("alarms-form");
  if (!editing(af)) {
    setHTML(af, Object.entries(cfg.alarms).map(([role, th]) => `
      <label for="alarm-${esc(role)}">${esc(role)}</label>
      <span><input id="alarm-${esc(role)}" type="number" min="1" max="100" required value="${th}"> %</span>
      <button class="small" data-role="${esc(role)}">Save</button>`).join(""));
  }

  const pol = document.getElementById("policies");
  if (!editing(pol)) {
    setHTML(pol, cfg.policies.map((p) => `
      <form class="policy" data-policy="${esc(p.name)}">
        <div class="muted small">policy <b>${esc(p.name)}</b></div>
        <div class="scroll"><table class="grid"><thead><tr><th>Region</th><th>Role</th><th>Min</th><th>Max</th></tr></thead><tbody>
        ${p.regions.map((r) => r.targets.map((t) => `<tr><td>${esc(r.name)}</td><td>${esc(t.role)}</td>
          <td><input type="number" min="0" max="1024" value="${t.min}" data-region="${esc(r.name)}" data-role="${esc(t.role)}" data-limit="min" aria-label="${esc(r.name + " " + t.role)} min"></td>
          <td><input type="number" min="0" max="1024" value="${t.max}" data-region="${esc(r.name)}" data-role="${esc(t.role)}" data-limit="max" aria-label="${esc(r.name + " " + t.role)} max"></td></tr>`).join("")).join("")}
        </tbody></table></div>
        <button class="small primary" type="submit">Save ${esc(p.name)}</button>
      </form>`).join("") || `<p class="muted">No scale policy.</p>`);
  }

  const evs = S.scaling ? S.scaling.events : [];
  setHTML(document.getElementById("timeline"), evs.map((e) => `
    <li class="${esc(e.action)}" data-event="${e.id}">
      <span class="when">${esc(dateTime(e.at))}</span>
      <span class="badge ${esc(e.action)}">${esc(e.action.replace("_", " "))}</span>
      <b>${esc(e.group)}</b> · ${esc(e.role)}${e.node ? ` · <span class="mono">${esc(e.node)}</span>` : ""}
      <div class="reason">${esc(e.reason)}</div>
    </li>`).join("") || `<li class="muted">No scaling event yet.</li>`);
  drawCharts(S);
}

export function drawCharts(S) {
  if (!S.config || !S.tick) return;
  const now = S.now();
  document.querySelectorAll("#load-charts canvas[data-chart]").forEach((c, i) => {
    const key = c.dataset.chart;
    const th = S.config.alarms[c.dataset.role] ?? 60;
    drawChart(c, [{ points: S.hist.load[key] || [], label: key, color: color(i) }],
      { now, span: 300000, threshold: th, thresholdLabel: `alarm ${th}%`, unit: "%", yMax: 100, step: 25 });
    const label = document.querySelector(`[data-load="${CSS.escape(key)}"]`);
    const v = S.tick.load[key];
    if (label) label.textContent = v == null ? "" : `${Math.round(v * 10) / 10}%`;
  });
}
