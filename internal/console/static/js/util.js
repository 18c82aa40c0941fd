// Small helpers shared by the views.

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

// esc escapes text for HTML.
export function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
}

// age formats a duration in milliseconds as "4s", "3m 20s", "2h 5m", "3d".
export function age(ms) {
  if (!(ms >= 0)) return "–";
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + (s % 60) + "s";
  const h = Math.floor(m / 60);
  if (h < 48) return h + "h " + (m % 60) + "m";
  return Math.floor(h / 24) + "d";
}

// num formats a number with at most d decimals.
export function num(v, d = 1) {
  if (v == null || Number.isNaN(v)) return "–";
  return Number(v).toLocaleString("en-US", { maximumFractionDigits: d });
}

// bytes formats a byte count.
export function bytes(v) {
  if (!(v > 0)) return "0 B";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return num(v, v < 10 ? 1 : 0) + " " + u[i];
}

// clock formats a Unix ms time as a local time of day.
export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

// dateTime formats a Unix ms time with its date.
export function dateTime(ms) {
  const d = new Date(ms);
  return d.toLocaleDateString([], { month: "short", day: "numeric" }) + " " + clock(ms);
}

// setHTML replaces el's content only when it changed, so unchanged views
// cost a string comparison.
export function setHTML(el, html) {
  if (el._html === html) return false;
  el._html = html;
  el.innerHTML = html;
  return true;
}

// loadBar draws a load bar: fill for load/capacity, a mark at the threshold.
export function loadBar(load, capacity, threshold, unit) {
  const pct = capacity > 0 ? (100 * load) / capacity : 0;
  const cls = pct > threshold ? "over" : pct > threshold * 0.8 ? "hot" : "";
  const title = capacity > 0
    ? `${load} ${unit} of ${capacity} (${num(pct)}%), alarm at ${threshold}%`
    : `${load} ${unit}, no capacity`;
  return `<div class="load" title="${esc(title)}"><div class="bar"><i class="${cls}" style="width:${Math.min(pct, 100)}%"></i>` +
    `<s style="left:${Math.min(threshold, 100)}%"></s></div><small>${load}/${capacity || "–"}</small></div>`;
}

// ring appends a point to a history array, keeping the last max points.
export function pushPoint(arr, t, v, max = 300) {
  if (arr.length && arr[arr.length - 1][0] >= t) return;
  arr.push([t, v]);
  if (arr.length > max) arr.splice(0, arr.length - max);
}
