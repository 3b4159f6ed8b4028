// seqrisk dashboard: draws the plotly figures embedded as JSON, follows the live status stream,
// uploads and runs books, follows jobs. No inline script, no other origin.
"use strict";

function drawFigures() {
  document.querySelectorAll("[data-fig]").forEach(function (div) {
    var src = document.getElementById(div.getAttribute("data-fig"));
    if (!src || typeof Plotly === "undefined") return;
    var fig = JSON.parse(src.textContent);
    Plotly.newPlot(div, fig.data, fig.layout, {displaylogo: false, responsive: true});
  });
}

function pct(x) { return (typeof x === "number") ? (x * 100).toFixed(1) + "%" : ""; }

function applyStatus(rows) {
  rows.forEach(function (r) {
    document.querySelectorAll('[data-chain="' + r.chain + '"]').forEach(function (el) {
      var label = el.querySelector('[data-field="label"]');
      if (label) {
        var badge = document.createElement("span");
        badge.className = "badge " + (r.label || "none");
        badge.textContent = r.label || "not watched";
        label.replaceChildren(badge);
      }
      var p = el.querySelector('[data-field="p_down"]');
      if (p) p.textContent = r.removed ? "" : pct(r.p_down);
      el.setAttribute("data-label", r.label || "");
    });
  });
}

function followStatus() {
  if (!document.querySelector("[data-chain]") || typeof EventSource === "undefined") return;
  var state = document.getElementById("stream-state");
  var es = new EventSource("/api/v1/status/stream");
  function show(text) { if (state) state.textContent = text; }
  es.addEventListener("snapshot", function (e) { applyStatus(JSON.parse(e.data).chains); show("live"); });
  es.addEventListener("status", function (e) { applyStatus(JSON.parse(e.data).chains); show("live, updated " + new Date().toLocaleTimeString()); });
  es.onerror = function () { show("reconnecting"); };
  document.body.setAttribute("data-stream", "open");
}

function apiError(doc, fallback) {
  if (doc && doc.error) {
    var e = doc.error, msg = e.message;
    if (e.field) msg += " (field " + e.field + ")";
    if (e.limit) msg += " [limit " + e.limit + " = " + e.allowed + "]";
    return msg;
  }
  return fallback;
}

async function postJson(url, body) {
  var resp = await fetch(url, {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  var doc = null;
  try { doc = await resp.json(); } catch (err) { doc = null; }
  if (!resp.ok) throw new Error(apiError(doc, "HTTP " + resp.status));
  return doc;
}

function bookForm() {
  var form = document.getElementById("book-form");
  if (!form) return;
  var status = document.getElementById("book-status");
  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    var file = document.getElementById("book-file").files[0];
    if (!file) { status.textContent = "choose a book file"; return; }
    var button = document.getElementById("run");
    button.disabled = true;
    try {
      status.textContent = "uploading " + file.name;
      var upload = {name: file.name, content: await file.text()};
      var market = document.getElementById("market-file").files[0];
      if (market) upload.market_content = await market.text();
      var book = await postJson("/api/v1/books", upload);
      status.textContent = "book " + book.book.id + " (" + book.book.positions + " positions); queueing";
      var kind = document.getElementById("kind").value;
      var req = {book_id: book.book.id, paths: parseInt(document.getElementById("paths").value, 10),
                 seed: parseInt(document.getElementById("seed").value, 10),
                 horizon: document.getElementById("horizon").value};
      if (kind === "report") req.mitigations = document.getElementById("mitigations").checked;
      var job = await postJson("/api/v1/jobs/" + kind, req);
      window.location.assign("/jobs/" + job.job.id);
    } catch (err) {
      status.textContent = "refused: " + err.message;
      status.className = "bad";
      button.disabled = false;
    }
  });
}

function followJob() {
  var box = document.getElementById("job");
  if (!box) return;
  var id = box.getAttribute("data-job"), start = box.getAttribute("data-status");
  var cancel = document.getElementById("cancel");
  if (cancel) cancel.addEventListener("click", async function () {
    try { await postJson("/api/v1/jobs/" + id + "/cancel", {}); } catch (err) { alert(err.message); }
  });
  if (start !== "queued" && start !== "running") return;
  async function tick() {
    try {
      var resp = await fetch("/api/v1/jobs/" + id, {credentials: "same-origin"});
      var doc = await resp.json();
      var j = doc.job;
      document.getElementById("job-status").textContent = j.status;
      document.getElementById("job-stage").textContent = j.progress.stage || "";
      var bar = document.getElementById("job-progress");
      if (bar && j.progress.fraction !== null) bar.value = j.progress.fraction;
      if (j.status !== "queued" && j.status !== "running") { window.location.reload(); return; }
    } catch (err) { /* keep polling */ }
    setTimeout(tick, 1000);
  }
  setTimeout(tick, 500);
}

document.addEventListener("DOMContentLoaded", function () {
  drawFigures();
  followStatus();
  bookForm();
  followJob();
});
