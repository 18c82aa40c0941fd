// Line charts on <canvas>, no library: time on x (the last span ms up to
// now), values on y, an optional threshold line.

const COLORS = ["#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#5d4037", "#455a64"];

export function color(i) {
  return COLORS[i % COLORS.length];
}

// fit sizes the canvas's backing store to its CSS size and returns the
// context scaled to CSS pixels, or null when the canvas is not shown.
function fit(canvas) {
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (!w || !h) return null;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtTick(v) {
  if (v >= 1000) return (v / 1000).toFixed(v % 1000 ? 1 : 0) + "k";
  return String(Math.round(v * 100) / 100);
}

// drawChart draws series ([{points: [[t, v]], color, label}]) over the
// last opts.span ms before opts.now. opts.threshold draws a dashed line
// labelled opts.thresholdLabel; opts.unit is appended to y labels.
export function drawChart(canvas, series, opts) {
  const f = fit(canvas);
  if (!f) return;
  const { ctx, w, h } = f;
  const span = opts.span || 300000;
  const now = opts.now || Date.now();
  const t0 = now - span;
  const padL = 42, padR = 10, padT = 10, padB = 20;
  const pw = w - padL - padR, ph = h - padT - padB;
  let max = 0;
  for (const s of series) for (const [t, v] of s.points) if (t >= t0 && v > max) max = v;
  max *= 1.05;
  if (opts.threshold != null) max = Math.max(max, opts.threshold * 1.15);
  max = Math.max(max, opts.yMax || 0);
  max = opts.step ? Math.ceil(max / opts.step) * opts.step : niceMax(max);
  const x = (t) => padL + ((t - t0) / span) * pw;
  const y = (v) => padT + ph - (Math.min(v, max) / max) * ph;

  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#e3e8ee";
  ctx.fillStyle = "#66758a";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const yy = Math.round(y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(padL, yy);
    ctx.lineTo(w - padR, yy);
    ctx.stroke();
    ctx.fillText(fmtTick(v) + (opts.unit || ""), padL - 6, yy);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  // A time label about every 70 px, at a round step.
  const want = span / Math.max(1, Math.floor(pw / 70));
  const step = [5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000].find((s) => s >= want) || 600000;
  for (let t = now; t >= t0; t -= step) {
    const ago = Math.round((now - t) / 1000);
    const label = ago === 0 ? "now" : ago < 60 ? `-${ago}s` : ago % 60 ? `-${Math.floor(ago / 60)}m${ago % 60}s` : `-${ago / 60}m`;
    ctx.fillText(label, Math.min(Math.max(x(t), padL + 12), w - padR - 12), h - padB + 5);
  }

  series.forEach((s, i) => {
    const pts = s.points.filter(([t]) => t >= t0 - 2000);
    if (!pts.length) return;
    const c = s.color || color(i);
    ctx.strokeStyle = c;
    ctx.lineWidth = 1.8;
    ctx.lineJoin = "round";
    ctx.beginPath();
    pts.forEach(([t, v], j) => (j ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
    ctx.stroke();
    if (series.length === 1) {
      ctx.lineTo(x(pts[pts.length - 1][0]), y(0));
      ctx.lineTo(x(pts[0][0]), y(0));
      ctx.closePath();
      ctx.globalAlpha = 0.12;
      ctx.fillStyle = c;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
  });

  if (opts.threshold != null) {
    const yy = Math.round(y(opts.threshold)) + 0.5;
    ctx.strokeStyle = "#c62828";
    ctx.lineWidth = 1.5;
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.moveTo(padL, yy);
    ctx.lineTo(w - padR, yy);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#c62828";
    ctx.textAlign = "right";
    ctx.textBaseline = "bottom";
    ctx.fillText(opts.thresholdLabel || `alarm ${opts.threshold}`, w - padR - 2, yy - 2);
  }

  if (series.length > 1) {
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    let lx = padL + 6;
    series.forEach((s, i) => {
      ctx.fillStyle = s.color || color(i);
      ctx.fillRect(lx, padT + 3, 10, 3);
      ctx.fillStyle = "#1d2633";
      ctx.fillText(s.label, lx + 14, padT - 2);
      lx += 22 + ctx.measureText(s.label).width;
    });
  }
}

// sparkline draws one small series without axes.
export function sparkline(canvas, points, now, span = 120000) {
  const f = fit(canvas);
  if (!f) return;
  const { ctx, w, h } = f;
  const t0 = now - span;
  const pts = points.filter(([t]) => t >= t0);
  let max = 1;
  for (const [, v] of pts) if (v > max) max = v;
  ctx.strokeStyle = "#1565c0";
  ctx.lineWidth = 1.3;
  ctx.beginPath();
  pts.forEach(([t, v], j) => {
    const xx = ((t - t0) / span) * (w - 2) + 1;
    const yy = h - 2 - (v / max) * (h - 4);
    j ? ctx.lineTo(xx, yy) : ctx.moveTo(xx, yy);
  });
  ctx.stroke();
}
