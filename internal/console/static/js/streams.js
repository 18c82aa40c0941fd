// Streams view: every stream with its origin, the edges carrying it and
// subscriber counts.

import { esc, setHTML } from "./util.js";

const MAX_ROWS = 2000;

export function init(S, rerender) {
  document.getElementById("stream-filter").addEventListener("input", () => rerender());
}

export function render(S) {
  if (!S.fleet) return;
  const q = document.getElementById("stream-filter").value.trim().toLowerCase();
  const all = S.fleet.streams;
  let subs = 0, edges = 0;
  for (const s of all) { subs += s.subscribers; edges += s.edges.length; }
  setHTML(document.getElementById("streams-summary"),
    `<div class="tile"><b>${all.length}</b><span>streams</span></div>` +
    `<div class="tile"><b>${edges}</b><span>edge relays</span></div>` +
    `<div class="tile"><b>${subs}</b><span>subscribers</span></div>`);
  const match = q
    ? all.filter((s) => `${s.scope}/${s.name}`.toLowerCase().includes(q) ||
      s.origins.some((o) => o.node.toLowerCase().includes(q)) || s.edges.some((e) => e.node.toLowerCase().includes(q)))
    : all;
  const shown = match.slice(0, MAX_ROWS);
  const rows = shown.map((s) => {
    const key = `${s.scope}/${s.name}`;
    const origin = s.origins.length
      ? s.origins.map((o) => `<span class="chip mono">${esc(o.node)}${o.subscribers ? ` · ${o.subscribers}` : ""}</span>`).join("")
      : `<span class="muted">none</span>`;
    const edgesHTML = s.edges.map((e) => `<span class="chip mono" data-edge="${esc(e.node)}">${esc(e.node)} · ${e.subscribers}</span>`).join("") ||
      `<span class="muted">–</span>`;
    return `<tr data-stream="${esc(key)}"><td class="mono">${esc(key)}</td><td>${origin}</td><td>${edgesHTML}</td>` +
      `<td class="num subs">${s.subscribers}</td><td class="opt nowrap" data-age="${s.started}"></td></tr>`;
  }).join("");
  const changed = setHTML(document.querySelector("#streams-table tbody"),
    rows || `<tr><td colspan="5" class="muted">${all.length ? "No stream matches." : "No stream is live."}</td></tr>`);
  setHTML(document.getElementById("streams-more"),
    match.length > shown.length ? `Showing ${shown.length} of ${match.length} streams; filter to see the others.` : "");
  return changed;
}
