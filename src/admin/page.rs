//! The status page at `/`: one self-contained HTML page (inline CSS and
//! JavaScript, no external assets, no build step). Its script fetches
//! `status` (relative, so the page also works behind a path prefix) every
//! few seconds and draws, per pipeline, its state, lag, throughput,
//! checkpoint, tables and copy requests, and an SVG chart of the last 15
//! minutes from the `/status` history: records applied per second
//! (`polyline.rate`) and lag in seconds (`polyline.lag`), each on its own
//! scale. Every name and text from the process is set with `textContent`,
//! never parsed as HTML.

/// The page.
pub const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>logferry</title>
<style>
:root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --mute:#667085; --line:#e4e7ec; --rate:#2563eb; --lag:#ea580c;
        --ok:#15803d; --warn:#b45309; --bad:#b91c1c; --info:#1d4ed8; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; align-items:baseline; gap:16px; padding:14px 24px; background:#111827; color:#f9fafb; }
header h1 { margin:0; font-size:18px; letter-spacing:.3px; }
header .meta { color:#9ca3af; font-size:12px; }
header .updated { margin-left:auto; color:#9ca3af; font-size:12px; }
main { padding:20px 24px; display:grid; gap:18px; max-width:1200px; }
.banner { padding:10px 14px; border-radius:6px; background:#fef2f2; color:var(--bad); border:1px solid #fecaca; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px 18px; }
.card h2 { margin:0; font-size:17px; display:flex; align-items:center; gap:10px; }
.state { font-size:12px; font-weight:600; padding:2px 9px; border-radius:999px; color:#fff; text-transform:uppercase; letter-spacing:.4px; }
.state.streaming { background:var(--ok); } .state.copying, .state.starting { background:var(--info); }
.state.retrying { background:var(--warn); } .state.failed { background:var(--bad); } .state.stopped { background:var(--mute); }
.summary { color:var(--mute); margin:4px 0 12px; }
.figures { display:grid; grid-template-columns:repeat(auto-fit,minmax(140px,1fr)); gap:10px; margin-bottom:12px; }
.figure { border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
.figure .k { color:var(--mute); font-size:11px; text-transform:uppercase; letter-spacing:.4px; }
.figure .v { font-size:17px; font-weight:600; font-variant-numeric:tabular-nums; overflow-wrap:anywhere; }
.figure .s { color:var(--mute); font-size:12px; overflow-wrap:anywhere; }
svg.chart { width:100%; height:190px; display:block; }
svg.chart .grid { stroke:var(--line); stroke-width:1; }
svg.chart text { font-size:11px; fill:var(--mute); }
svg.chart polyline { fill:none; stroke-width:2; stroke-linejoin:round; }
svg.chart polyline.rate { stroke:var(--rate); } svg.chart polyline.lag { stroke:var(--lag); }
.legend { display:flex; gap:16px; font-size:12px; color:var(--mute); margin:2px 0 10px; }
.legend i { display:inline-block; width:14px; height:3px; vertical-align:middle; margin-right:5px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--mute); font-weight:600; font-size:11px; text-transform:uppercase; letter-spacing:.4px; }
td.num { font-variant-numeric:tabular-nums; }
.muted { color:var(--mute); }
</style>
</head>
<body>
<header><h1>logferry</h1><span class="meta" id="meta"></span><span class="updated" id="updated">loading…</span></header>
<main id="main"><div class="muted">Loading the status of this process…</div></main>
<script>
"use strict";
const REFRESH_MS = 3000;
const SPAN_MS = 15 * 60 * 1000;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function num(n, digits) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 0 : digits });
}
function secs(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return num(s * 1000) + " ms";
  if (s < 100) return num(s, 1) + " s";
  if (s < 6000) return Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
  if (s < 172800) return Math.floor(s / 3600) + " h " + Math.floor(s / 60 % 60) + " min";
  return num(s / 86400, 1) + " days";
}
// Short forms for the chart's axes.
function secsShort(s) {
  if (s === 0) return "0";
  if (s < 1) return num(s * 1000) + "ms";
  if (s < 120) return num(s, 1) + "s";
  if (s < 7200) return num(s / 60, 1) + "m";
  if (s < 172800) return num(s / 3600, 1) + "h";
  return num(s / 86400, 1) + "d";
}
function ago(ms) {
  const s = Math.round(ms / 1000);
  if (s === 0) return "now";
  return "−" + (s < 60 ? s + " s" : num(s / 60, 1) + " min");
}
function bytes(b) {
  if (b === null || b === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
  return num(b, i ? 1 : 0) + " " + units[i];
}
function figure(k, v, sub) {
  const f = el("div", "figure");
  f.append(el("div", "k", k), el("div", "v", v));
  if (sub) f.append(el("div", "s", sub));
  return f;
}
function nice(max) {
  if (!(max > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(max)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

// The chart: applied records/s and lag over the last 15 minutes (or since
// the first sample, at least a minute), each on its own scale.
function chart(p, now) {
  const W = 1000, H = 190, L = 58, R = 62, T = 12, B = 24;
  const s = svg("svg", { class: "chart", viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
    "aria-label": "records applied per second and lag of pipeline " + p.name + " over the last 15 minutes" });
  const pts = (p.history || []).filter(h => h.t >= now - SPAN_MS);
  const span = Math.min(SPAN_MS, Math.max(60000, pts.length ? now - pts[0].t : 0));
  const rateMax = nice(Math.max(0, ...pts.map(h => h.applied_per_s)));
  const lagMax = nice(Math.max(0, ...pts.map(h => h.lag_s)));
  const x = t => L + (W - L - R) * (t - (now - span)) / span;
  const y = (v, max) => T + (H - T - B) * (1 - Math.min(v, max) / max);
  for (let i = 0; i <= 4; i++) {
    const gy = T + (H - T - B) * i / 4;
    s.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: gy, y2: gy }));
    s.append(svg("text", { x: L - 6, y: gy + 4, "text-anchor": "end" }, num(rateMax * (4 - i) / 4, 1)));
    s.append(svg("text", { x: W - R + 6, y: gy + 4 }, secsShort(lagMax * (4 - i) / 4)));
  }
  for (let i = 0; i <= 3; i++) {
    const back = span * (3 - i) / 3;
    s.append(svg("text", { x: x(now - back), y: H - 6, "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle" }, ago(back)));
  }
  if (pts.length < 2) {
    s.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "waiting" },
      "collecting samples (one every " + (window.lastStatus ? window.lastStatus.sample_interval_seconds : 5) + " s)…"));
  }
  const line = (cls, f, max) => svg("polyline", { class: cls, "data-points": pts.length,
    points: pts.map(h => x(h.t).toFixed(1) + "," + y(f(h), max).toFixed(1)).join(" ") });
  s.append(line("lag", h => h.lag_s, lagMax), line("rate", h => h.applied_per_s, rateMax));
  return s;
}

function tables(p) {
  const t = el("table");
  const head = el("tr");
  for (const h of ["Table", "State", "Copy", "Applied"]) head.append(el("th", "", h));
  t.append(head);
  for (const tb of p.tables) {
    const r = el("tr");
    const applied = Object.entries(tb.applied || {}).map(([op, n]) => op + " " + num(n)).join(", ");
    r.append(el("td", "", tb.table), el("td", "", tb.state), el("td", "", tb.copy ? tb.copy.text : "–"), el("td", "num", applied || "–"));
    t.append(r);
  }
  return t;
}

function requests(p) {
  const t = el("table");
  const head = el("tr");
  for (const h of ["Copy request", "Table", "Keys", "State"]) head.append(el("th", "", h));
  t.append(head);
  for (const q of p.copy_requests) {
    const r = el("tr");
    const st = q.state + (q.rows !== null ? " (" + num(q.rows) + " rows" + (q.applied ? ", applied" : "") + ")" : "") + (q.error ? ": " + q.error : "");
    r.append(el("td", "num", "#" + q.id), el("td", "", q.table), el("td", "num", q.keys === null ? "whole table" : num(q.keys)), el("td", "", st));
    t.append(r);
  }
  return t;
}

function card(p, now) {
  const c = el("section", "card pipeline");
  c.dataset.pipeline = p.name;
  const h = el("h2");
  h.append(el("span", "name", p.name), el("span", "state " + p.state, p.state));
  c.append(h, el("div", "summary", p.summary));
  const f = el("div", "figures");
  const cp = p.checkpoint;
  const through = p.applied_through_unix_ms ? new Date(p.applied_through_unix_ms).toISOString() : null;
  f.append(
    figure("Lag", secs(p.lag_seconds)),
    figure("Applied / s", num(p.records_per_second, 1), "last minute"),
    figure("Applied", num(p.records_applied), num(p.records_received) + " received"),
    figure("Dead letters", num(p.dead_letters)),
    figure("Checkpoint", cp ? "seq " + num(cp.seq) : "none yet",
      cp ? (cp.position ? cp.position + " · " : "") + (cp.age_seconds !== null ? secs(cp.age_seconds) + " ago" : "") : null),
    figure("Behind (source)", bytes(p.behind_bytes)),
    figure("Applied through", through ? through.slice(11, 19) : "–", through ? through.slice(0, 10) + " UTC" : null));
  if (p.spool_bytes !== null) f.append(figure("Spool", bytes(p.spool_bytes), p.spool_full ? "full: the source waits" : null));
  c.append(f);
  const legend = el("div", "legend");
  const key = (color, text) => { const s = el("span"); const i = el("i"); i.style.background = color; s.append(i, document.createTextNode(text)); return s; };
  legend.append(key("var(--rate)", "records applied / s (left)"), key("var(--lag)", "lag (right)"));
  c.append(legend, chart(p, now));
  if (p.tables.length) c.append(tables(p));
  if (p.copy_requests.length) c.append(requests(p));
  return c;
}

function render(s) {
  window.lastStatus = s;
  const main = document.getElementById("main");
  main.replaceChildren(...s.pipelines.map(p => card(p, s.now_unix_ms)));
  document.getElementById("meta").textContent =
    "v" + s.version + " · pid " + s.pid + " · up " + secs((s.now_unix_ms - s.started_unix_ms) / 1000);
  document.getElementById("updated").textContent = "updated " + new Date(s.now_unix_ms).toISOString().slice(11, 19) + " UTC";
  document.title = "logferry: " + s.pipelines.map(p => p.name + " " + p.state).join(", ");
}

async function refresh() {
  try {
    const r = await fetch("status", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
  } catch (e) {
    const main = document.getElementById("main");
    const old = main.querySelector(".banner");
    const b = old || el("div", "banner");
    b.textContent = "Cannot reach logferry (" + e.message + "); the figures below are from the last answer.";
    if (!old) main.prepend(b);
  }
}
refresh();
setInterval(refresh, REFRESH_MS);
</script>
</body>
</html>
"##;
