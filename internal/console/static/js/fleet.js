// Fleet view: groups, their load per role, and their nodes with actions.

import { esc, num, bytes, setHTML, loadBar } from "./util.js";
import { actions } from "./api.js";
import { dialog, confirmAction, toast } from "./ui.js";

export function init(S) {
  document.getElementById("create-group").addEventListener("click", () => createGroup(S));
  document.getElementById("fleet-groups").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    const { action, node, group, state } = b.dataset;
    if (action === "launch-origin") {
      confirmAction("Launch an origin", `Launch a new origin in group ${group}?`, "Launch",
        () => actions.launchOrigin(group), `Origin launch requested in ${group}`);
    } else if (action === "sunset") {
      confirmAction("Sunset node", `Drain ${node}? It gets no new clients, is replaced, and is terminated once empty.`,
        "Sunset", () => actions.sunset([node]), `${node} is draining`);
    } else if (action === "terminate") {
      const force = state !== "INSERVICE";
      confirmAction("Terminate node",
        `Terminate ${node} now${force ? " (forced: it is " + state + ")" : ""}? Its clients are cut off.`,
        "Terminate", () => actions.terminate(node, force), `${node} is terminating`);
    }
  });
}

function createGroup(S) {
  const cfg = S.config || { launch_configs: [], policies: [] };
  const regions = (S.fleet && S.fleet.groups[0] && S.fleet.groups[0].regions.join(",")) || "local";
  const opts = (list) => list.map((x) => `<option>${esc(x.name)}</option>`).join("");
  dialog("Create group", `
    <div class="field"><label for="g-name">Name (empty: generated)</label>
      <input id="g-name" name="name" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,127}" placeholder="group-…"></div>
    <div class="field"><label for="g-regions">Regions (comma separated)</label>
      <input id="g-regions" name="regions" required value="${esc(regions)}"></div>
    <div class="field"><label for="g-lc">Launch configuration</label>
      <select id="g-lc" name="launchConfig" required>${opts(cfg.launch_configs)}</select></div>
    <div class="field"><label for="g-policy">Scale policy</label>
      <select id="g-policy" name="scalePolicy" required>${opts(cfg.policies)}</select></div>`,
  "Create", async (f) => {
    const g = await actions.createGroup({
      name: f.name.trim(),
      regions: f.regions.split(",").map((r) => r.trim()).filter(Boolean),
      launchConfig: f.launchConfig,
      scalePolicy: f.scalePolicy,
    });
    toast(`Group ${g.name} created`);
  });
}

// render draws the summary and the groups. Ages are filled by app.js.
export function render(S) {
  const fleet = S.fleet;
  if (!fleet) return;
  const alarms = (S.config && S.config.alarms) || {};
  const nodes = fleet.nodes;
  const inService = nodes.filter((n) => n.state === "INSERVICE").length;
  let subs = 0, pubs = 0, conns = 0;
  for (const n of nodes) { subs += n.subscribers; pubs += n.publishers; conns += n.connections; }
  setHTML(document.getElementById("fleet-summary"), [
    tile(fleet.groups.length, "groups"),
    tile(`${inService}/${nodes.length}`, "nodes in service"),
    tile(fleet.streams.length, "streams"),
    tile(pubs, "publishers"),
    tile(subs, "subscribers"),
    tile(conns, "connections"),
  ].join(""));

  const byGroup = new Map();
  for (const n of nodes) {
    if (!byGroup.has(n.group)) byGroup.set(n.group, []);
    byGroup.get(n.group).push(n);
  }
  const html = fleet.groups.map((g) => groupHTML(g, byGroup.get(g.name) || [], alarms)).join("") ||
    `<p class="muted">No node group yet. Create one to launch nodes.</p>`;
  return setHTML(document.getElementById("fleet-groups"), html);
}

function tile(v, label) {
  return `<div class="tile"><b>${esc(v)}</b><span>${esc(label)}</span></div>`;
}

function groupHTML(g, nodes, alarms) {
  const roles = g.roles.map((r) => `
    <div class="role-chip" data-role="${esc(r.role)}">
      <div><span class="name">${esc(r.role)}</span> · ${num(r.percent)}% of capacity · alarm ${r.threshold}%</div>
      ${loadBar(r.load, r.capacity, r.threshold, r.unit)}
      <div class="muted small">${r.active} active, ${r.in_service} in service, ${r.nodes} total · min ${r.min}, max ${r.max}</div>
    </div>`).join("");
  const rows = nodes.map((n) => nodeRow(n, alarms[n.role] ?? 60)).join("");
  return `
  <section class="group card" data-group="${esc(g.name)}">
    <div class="group-head">
      <h3>${esc(g.name)}</h3><span class="badge ${esc(g.state)}">${esc(g.state)}</span>
      <span class="muted small">policy ${esc(g.scale_policy)} · launch ${esc(g.launch_config)} · ${esc(g.regions.join(", "))}</span>
      <span class="spacer"></span>
      <button class="small" data-action="launch-origin" data-group="${esc(g.name)}" ${g.state === "deleting" ? "disabled" : ""}>Launch origin</button>
    </div>
    <div class="roles">${roles}</div>
    <div class="scroll">
    <table class="grid nodes">
      <thead><tr><th>Node</th><th>Role</th><th>State</th><th class="opt">Address</th><th>Load / capacity</th>
        <th class="num opt">Conns</th><th class="num opt">Streams</th><th class="num opt">CPU</th><th class="num opt">Memory</th>
        <th>Last report</th><th></th></tr></thead>
      <tbody>${rows || `<tr><td colspan="11" class="muted">No nodes.</td></tr>`}</tbody>
    </table>
    </div>
  </section>`;
}

function nodeRow(n, threshold) {
  const unit = n.role === "edge" ? "subscribers" : n.role === "origin" ? "publishers" : "connections";
  const live = n.state === "INSERVICE" || n.state === "FAULT";
  return `<tr data-node="${esc(n.id)}" data-state="${esc(n.state)}" data-draining="${n.draining}">
    <td class="mono nowrap" title="${esc(n.region)}">${esc(n.id)}</td>
    <td><span class="badge ${esc(n.role)}">${esc(n.role)}</span></td>
    <td class="nowrap"><span class="badge ${esc(n.state)}">${esc(n.state)}</span>${n.draining ? ` <span class="badge draining">draining</span>` : ""}</td>
    <td class="mono opt">${esc(n.address)}</td>
    <td>${loadBar(n.load, n.capacity, threshold, unit)}</td>
    <td class="num opt">${n.connections}</td>
    <td class="num opt">${n.streams}</td>
    <td class="num opt">${num(n.cpu * 100, 0)}%</td>
    <td class="num opt">${bytes(n.memory_bytes)}</td>
    <td class="nowrap" data-age="${n.last_report}" data-live="${live}"></td>
    <td class="nowrap">
      <button class="small" data-action="sunset" data-node="${esc(n.id)}" ${n.draining || n.state === "TERMINATING" ? "disabled" : ""}>Sunset</button>
      <button class="small danger" data-action="terminate" data-node="${esc(n.id)}" data-state="${esc(n.state)}" ${n.state === "TERMINATING" ? "disabled" : ""}>Terminate</button>
    </td>
  </tr>`;
}
