// The history view and the timeline of a run report. Page data arrives
// through chronikPage(n, rows) calls (inline, or from history-pages/*.js);
// see history_pages.go for the row layout.
(function () {
  "use strict";
  var meta = window.chronikMeta || {pageSize: 1000, pages: 0, fs: [], pageFiles: false};
  var fs = meta.fs || [];
  var nodes = meta.nodes || [];
  var first = meta.first;
  var firstOps = {};
  if (first && first.ops) for (var fi = 0; fi < first.ops.length; fi++) firstOps[first.ops[fi]] = true;
  var TYPES = ["invoke", "ok", "fail", "info"];
  var state = {page: -1, waiting: {}, hideInvokes: false};
  var root = document.documentElement;
  var body = document.getElementById("history-body");
  var status = document.getElementById("page-status");
  var pageInput = document.getElementById("page-input");

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;";
    });
  }
  function secs(ns) { return (ns / 1e9).toFixed(3); }
  function proc(p) { return p < 0 ? "nemesis" : String(p); }
  function setStatus(s) { if (status) status.textContent = s; }

  // Pages not embedded live in chunk files of meta.pagesPerFile pages.
  function chunkFileName(n) {
    var s = String(Math.floor(n / meta.pagesPerFile));
    while (s.length < 5) s = "0" + s;
    return meta.pageDir + "/c" + s + ".js";
  }

  // loadPage calls cb once page n's rows are available.
  function loadPage(n, cb) {
    if (window.chronikPages[n]) { cb(window.chronikPages[n]); return; }
    if (!meta.pageFiles) { setStatus("page " + (n + 1) + " is not part of this report"); return; }
    if (state.waiting[n]) { state.waiting[n].push(cb); return; }
    state.waiting[n] = [cb];
    setStatus("loading page " + (n + 1) + "…");
    var s = document.createElement("script");
    s.src = chunkFileName(n);
    s.onerror = function () {
      delete state.waiting[n];
      setStatus("could not load " + chunkFileName(n) + "; the raw history is in history.jsonl");
    };
    document.body.appendChild(s);
  }
  window.chronikPageLoaded = function (n) {
    var cbs = state.waiting[n];
    if (!cbs) return;
    delete state.waiting[n];
    setStatus("");
    for (var i = 0; i < cbs.length; i++) cbs[i](window.chronikPages[n]);
  };

  function renderTable(rows) {
    var out = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if (state.hideInvokes && r[3] === 0) continue;
      var pair = r[7] >= 0 ? '<a href="#op-' + r[7] + '">#' + r[7] + "</a>" : "";
      out.push('<tr id="op-' + r[0] + '" class="t-' + TYPES[r[3]] + '"><td><a href="#op-' + r[0] + '">' + r[0] +
        "</a></td><td>" + secs(r[1]) + "</td><td>" + proc(r[2]) + "</td><td>" + TYPES[r[3]] + "</td><td>" +
        esc(fs[r[4]] || "?") + "</td><td>" + esc(r[5]) + "</td><td>" + esc(r[6]) + "</td><td>" + pair + "</td>" +
        (nodes.length ? "<td>" + (r[10] >= 0 ? esc(nodes[r[10]]) : "") + "</td>" : "") + "</tr>");
    }
    body.innerHTML = out.join("");
  }

  // renderTimeline draws the page's operations as boxes, one column per
  // process, like Jepsen's timeline.html.
  // The timeline is drawn when it is on screen (or about to be): a page of
  // boxes costs layout time nobody needs until they scroll there.
  var timeline = {rows: null, visible: !window.IntersectionObserver, drawn: null};
  function renderTimeline(rows) {
    timeline.rows = rows;
    if (timeline.visible && timeline.drawn !== rows) drawTimeline(rows);
  }
  function drawTimeline(rows) {
    var view = document.getElementById("timeline-view");
    if (!view || rows.length === 0) return;
    timeline.drawn = rows;
    var t0 = rows[0][1], t1 = rows[rows.length - 1][1];
    if (t1 <= t0) t1 = t0 + 1;
    var procs = {}, list = [];
    for (var i = 0; i < rows.length; i++) {
      if (!(rows[i][2] in procs)) { procs[rows[i][2]] = true; list.push(rows[i][2]); }
    }
    list.sort(function (a, b) { return a - b; });
    var col = {};
    for (i = 0; i < list.length; i++) col[list[i]] = i;
    var width = Math.max(view.clientWidth || 900, 300);
    var cw = Math.max(26, Math.min(110, Math.floor((width - 50) / list.length)));
    var H = Math.max(420, Math.min(3200, rows.length * 2.4));
    var head = 20, left = 46;
    function y(t) { return head + (Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0) * H; }
    var html = ['<div class="tl-inner" style="height:' + (H + head + 14) + 'px;width:' + (left + cw * list.length + 4) + 'px"><div class="tl-head" style="width:' + (left + cw * list.length + 4) + 'px">'];
    for (i = 0; i < list.length; i++) {
      html.push('<span style="left:' + (left + i * cw) + "px;width:" + cw + 'px">' + proc(list[i]) + "</span>");
    }
    html.push("</div>");
    for (i = 0; i <= 8; i++) {
      var tt = t0 + (t1 - t0) * i / 8;
      html.push('<div class="tl-tick" style="top:' + y(tt) + 'px">' + (tt / 1e9).toFixed(2) + "s</div>");
    }
    for (i = 0; i < rows.length; i++) {
      var r = rows[i], start, end, typ, idx;
      if (r[3] === 0) {
        start = r[1]; end = r[8] >= 0 ? r[8] : t1; typ = r[8] >= 0 ? r[9] : 3; idx = r[0];
      } else if (r[7] < 0 || r[7] < rows[0][0]) {
        // A completion without an invoke on this page.
        start = r[7] >= 0 ? r[8] : r[1]; end = r[1]; typ = r[3]; idx = r[0];
      } else continue;
      var top = y(start), h = Math.max(2, y(end) - top);
      var cls = "op t" + typ + (r[2] < 0 ? " nem" : "") + (firstOps[idx] || firstOps[r[7]] ? " first" : "");
      var label = (fs[r[4]] || "?") + " " + r[5];
      var title = "#" + r[0] + " process " + proc(r[2]) + " " + (fs[r[4]] || "?") + " " + TYPES[typ] +
        " " + secs(start) + "s–" + secs(end) + "s\n" + r[5] + (r[6] ? "\nerror: " + r[6] : "");
      html.push('<a class="' + cls + '" href="#op-' + idx + '" title="' + esc(title) + '" style="left:' + (left + col[r[2]] * cw + 1) +
        "px;width:" + (cw - 3) + "px;top:" + top.toFixed(1) + "px;height:" + h.toFixed(1) + 'px">' + (h >= 12 ? esc(label) : "") + "</a>");
    }
    if (first && first.t >= t0 && first.t <= t1) {
      html.push('<div class="tl-first" style="top:' + y(first.t).toFixed(1) + 'px">first anomaly: ' + esc(first.name) + " at " + secs(first.t) + "s</div>");
    }
    html.push("</div>");
    view.innerHTML = html.join("");
    root.dataset.timelineDrawn = String(rows[0][0]);
  }

  function show(n, target) {
    if (meta.pages === 0 || !body) return;
    n = Math.max(0, Math.min(meta.pages - 1, n));
    loadPage(n, function (rows) {
      state.page = n;
      if (pageInput) pageInput.value = n + 1;
      renderTable(rows);
      renderTimeline(rows);
      root.dataset.historyPage = String(n);
      if (target !== undefined) {
        var el = document.getElementById("op-" + target);
        if (el) {
          var prev = document.querySelectorAll("tr.target");
          for (var i = 0; i < prev.length; i++) prev[i].classList.remove("target");
          el.classList.add("target");
          el.scrollIntoView({block: "center"});
          root.dataset.targetOp = String(target);
        }
      }
    });
  }

  // Parts of the page written to report-parts/ (see parts.go) load with a
  // script tag when they come near the screen or a link points into them.
  var parts = {waiting: {}};
  function loadPart(name, cb) {
    var holder = document.getElementById("part-" + name);
    if (!holder) { if (cb) cb(); return; }
    if (parts.waiting[name]) { if (cb) parts.waiting[name].push(cb); return; }
    parts.waiting[name] = cb ? [cb] : [];
    var s = document.createElement("script");
    s.src = holder.getAttribute("data-src");
    s.onerror = function () {
      delete parts.waiting[name];
      holder.insertAdjacentHTML("beforeend", '<p class="bad small">could not load ' + esc(s.src) + "; keep report-parts/ next to index.html</p>");
    };
    document.body.appendChild(s);
  }
  window.chronikPartLoaded = function (name) {
    var holder = document.getElementById("part-" + name);
    if (holder) holder.outerHTML = window.chronikParts[name];
    var cbs = parts.waiting[name] || [];
    delete parts.waiting[name];
    root.dataset.partsLoaded = (root.dataset.partsLoaded ? root.dataset.partsLoaded + " " : "") + name;
    for (var i = 0; i < cbs.length; i++) cbs[i]();
  };

  function route() {
    var m = /^#op-(\d+)$/.exec(location.hash);
    if (m) {
      var idx = parseInt(m[1], 10);
      show(Math.floor(idx / meta.pageSize), idx);
      return true;
    }
    if (location.hash === "#timeline-first" && first && first.ops && first.ops.length) {
      var last = Math.max.apply(null, first.ops);
      timeline.visible = true;
      show(Math.floor(last / meta.pageSize));
      var tl = document.getElementById("timeline");
      if (tl) tl.scrollIntoView();
      return true;
    }
    var id = decodeURIComponent(location.hash.slice(1));
    var part = meta.partAnchors && meta.partAnchors[id];
    if (part && !document.getElementById(id)) {
      loadPart(part, function () {
        var el = document.getElementById(id);
        if (el) el.scrollIntoView();
      });
      return false;
    }
    return false;
  }

  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest('a[href^="#op-"], a[href="#timeline-first"]') : null;
    if (a && a.getAttribute("href") === location.hash) { e.preventDefault(); route(); }
    var lp = e.target.closest ? e.target.closest("button[data-load-part]") : null;
    if (lp) loadPart(lp.getAttribute("data-load-part"));
    var b = e.target.closest ? e.target.closest("button[data-go]") : null;
    if (b) {
      var go = b.getAttribute("data-go");
      var n = go === "first" ? 0 : go === "last" ? meta.pages - 1 : go === "prev" ? state.page - 1 : state.page + 1;
      show(n);
    }
  });
  if (pageInput) pageInput.addEventListener("change", function () { show(parseInt(pageInput.value, 10) - 1); });
  var opInput = document.getElementById("op-input");
  if (opInput) opInput.addEventListener("change", function () { location.hash = "#op-" + parseInt(opInput.value, 10); });
  var hide = document.getElementById("hide-invokes");
  if (hide) hide.addEventListener("change", function () { state.hideInvokes = hide.checked; show(state.page); });
  window.addEventListener("hashchange", route);

  if (window.IntersectionObserver) {
    var tlView = document.getElementById("timeline-view");
    if (tlView) {
      new IntersectionObserver(function (es) {
        for (var i = 0; i < es.length; i++) {
          if (!es[i].isIntersecting) continue;
          timeline.visible = true;
          if (timeline.rows && timeline.drawn !== timeline.rows) drawTimeline(timeline.rows);
        }
      }, {rootMargin: "400px"}).observe(tlView);
    }
    var holders = document.querySelectorAll(".part[data-part]");
    if (holders.length) {
      var io = new IntersectionObserver(function (es) {
        for (var i = 0; i < es.length; i++) {
          if (es[i].isIntersecting) { io.unobserve(es[i].target); loadPart(es[i].target.getAttribute("data-part")); }
        }
      }, {rootMargin: "600px"});
      for (var h = 0; h < holders.length; h++) io.observe(holders[h]);
    }
  } else {
    var all = document.querySelectorAll(".part[data-part]");
    for (var k = 0; k < all.length; k++) loadPart(all[k].getAttribute("data-part"));
  }
  if (!route()) show(0);
  root.dataset.reportReady = "1";
  if (window.performance && performance.now) {
    root.dataset.readyMs = String(Math.round(performance.now()));
    // The load event comes after every SVG, inline page and image is in.
    window.addEventListener("load", function () { root.dataset.loadMs = String(Math.round(performance.now())); });
  }
})();
