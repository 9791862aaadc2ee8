// ofa2-zoo front explorer: draws the front from the JSON in #front-data as SVG. Every string
// from the data goes into the page as text (textContent / setAttribute), never as markup.
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var W = 900, H = 520, M = { l: 66, r: 22, t: 16, b: 52 };
  var data = JSON.parse(document.getElementById("front-data").textContent);
  var X = data.axes.x, Y = data.axes.y;
  var members = data.members;
  var packaged = members.filter(function (m) { return m.packaged; });
  var refs = data.references || [];
  var prev = data.previous;
  var yBetter = Y.direction === "min" ? function (a, b) { return a < b; } : function (a, b) { return a > b; };
  var state = { logX: false, selected: null, hover: null, best: null, bestPackaged: null, budget: null };
  var svg = document.getElementById("plot");
  var tooltip = document.getElementById("tooltip");
  var wrap = document.getElementById("plot-wrap");
  var slider = document.getElementById("budget");
  var scale = null;
  var layers = {};

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function sv(tag, attrs, parent) {
    var node = document.createElementNS(SVGNS, tag);
    setAttrs(node, attrs);
    if (parent) parent.appendChild(node);
    return node;
  }
  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function num(v, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    if (v === 0) return "0";
    if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en-US");
    return String(Number(v.toPrecision(digits || 4)));
  }
  function withUnit(v, unit, digits) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    return num(v, digits) + (unit === "%" ? " %" : unit ? " " + unit : "");
  }
  function objLabel(key) { var o = data.objectives[key]; return o ? o.label : key; }
  function objUnit(key) { var o = data.objectives[key]; return o ? o.unit : ""; }
  function xOf(m) { return m.objectives[X.key]; }
  function yOf(m) { return m.objectives[Y.key]; }
  function memberTitle(m) {
    return m.packaged ? m.packaged.name : "front point #" + m.index + " (not packaged)";
  }

  // ------------------------------------------------------------------ scales
  function extent(values) {
    var lo = Infinity, hi = -Infinity;
    values.forEach(function (v) { if (v !== null && v !== undefined && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (lo === Infinity) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= Math.abs(lo) * 0.05 || 0.5; hi += Math.abs(hi) * 0.05 || 0.5; }
    return [lo, hi];
  }
  function allX() {
    var v = members.map(xOf);
    (data.population || []).forEach(function (p) { v.push(p.x); });
    if (prev) prev.points.forEach(function (p) { v.push(p.x); });
    refs.forEach(function (r) { v.push(r.x, r.x_high, r.published.x); });
    return v;
  }
  function allY() {
    var v = members.map(yOf);
    (data.population || []).forEach(function (p) { v.push(p.y); });
    if (prev) prev.points.forEach(function (p) { v.push(p.y); });
    refs.forEach(function (r) { v.push(r.y, r.published.y); });
    return v;
  }
  function makeScale(logX) {
    var xs = extent(allX()), ys = extent(allY());
    var canLog = xs[0] > 0;
    var useLog = logX && canLog;
    var tx = useLog ? Math.log10 : function (v) { return v; };
    var x0 = tx(xs[0]), x1 = tx(xs[1]), pad = (x1 - x0) * 0.04;
    x0 -= pad; x1 += pad;
    if (!useLog && xs[0] >= 0 && x0 < 0) x0 = 0;
    var ypad = (ys[1] - ys[0]) * 0.06, y0 = ys[0] - ypad, y1 = ys[1] + ypad;
    return {
      log: useLog, canLog: canLog,
      x: function (v) { return M.l + (tx(v) - x0) / (x1 - x0) * (W - M.l - M.r); },
      y: function (v) { return H - M.b - (v - y0) / (y1 - y0) * (H - M.t - M.b); },
      xDomain: useLog ? [Math.pow(10, x0), Math.pow(10, x1)] : [x0, x1], yDomain: [y0, y1]
    };
  }
  function linearTicks(lo, hi, count) {
    var span = hi - lo, step = Math.pow(10, Math.floor(Math.log10(span / count))), err = span / count / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }
  function logTicks(lo, hi) {
    var out = [], mults = [1, 2, 5];
    if (hi / lo < 6) mults = [1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9];
    for (var e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      mults.forEach(function (m) { var v = Number((m * Math.pow(10, e)).toPrecision(12)); if (v >= lo && v <= hi) out.push(v); });
    }
    return out.length >= 2 ? out : linearTicks(lo, hi, 6);
  }

  // ------------------------------------------------------------------ drawing
  function axisTitle(axis) {
    return axis.label + " (" + axis.unit + ", " + axis.source + ")";
  }
  function drawAxes() {
    var g = sv("g", { "class": "axes" }, svg), grid = sv("g", { "class": "grid" }, g);
    var xt = scale.log ? logTicks(scale.xDomain[0], scale.xDomain[1]) : linearTicks(scale.xDomain[0], scale.xDomain[1], 8);
    var yt = linearTicks(scale.yDomain[0], scale.yDomain[1], 7);
    var ax = sv("g", { "class": "axis" }, g);
    xt.forEach(function (v) {
      var x = scale.x(v);
      sv("line", { x1: x, x2: x, y1: M.t, y2: H - M.b }, grid);
      sv("line", { x1: x, x2: x, y1: H - M.b, y2: H - M.b + 5 }, ax);
      var t = sv("text", { x: x, y: H - M.b + 18, "text-anchor": "middle", "class": "tick" }, g);
      t.textContent = num(v, 3);
    });
    yt.forEach(function (v) {
      var y = scale.y(v);
      sv("line", { x1: M.l, x2: W - M.r, y1: y, y2: y }, grid);
      sv("line", { x1: M.l - 5, x2: M.l, y1: y, y2: y }, ax);
      var t = sv("text", { x: M.l - 8, y: y + 4, "text-anchor": "end", "class": "tick" }, g);
      t.textContent = num(v, 4);
    });
    sv("line", { x1: M.l, x2: W - M.r, y1: H - M.b, y2: H - M.b }, ax);
    sv("line", { x1: M.l, x2: M.l, y1: M.t, y2: H - M.b }, ax);
    var xl = sv("text", { x: (M.l + W - M.r) / 2, y: H - 10, "text-anchor": "middle", "class": "axis-label" }, g);
    xl.textContent = axisTitle(X) + (scale.log ? ", log scale" : "");
    var yl = sv("text", { x: -(M.t + H - M.b) / 2, y: 16, transform: "rotate(-90)", "text-anchor": "middle", "class": "axis-label" }, g);
    yl.textContent = axisTitle(Y);
  }
  function stepPath(points) {
    if (!points.length) return "";
    var d = "M" + scale.x(points[0].x).toFixed(2) + "," + scale.y(points[0].y).toFixed(2);
    for (var i = 1; i < points.length; i++) {
      d += "H" + scale.x(points[i].x).toFixed(2) + "V" + scale.y(points[i].y).toFixed(2);
    }
    return d;
  }
  function star(cx, cy, r) {
    var pts = [];
    for (var i = 0; i < 10; i++) {
      var a = -Math.PI / 2 + i * Math.PI / 5, rr = i % 2 ? r * 0.45 : r;
      pts.push((cx + rr * Math.cos(a)).toFixed(2) + "," + (cy + rr * Math.sin(a)).toFixed(2));
    }
    return pts.join(" ");
  }
  function drawPopulation() {
    var g = sv("g", { "class": "population-layer" }, svg);
    layers.population = g;
    (data.population || []).forEach(function (p) {
      sv("circle", { "class": "population", cx: scale.x(p.x), cy: scale.y(p.y), r: 2.4 }, g);
    });
    g.style.display = document.getElementById("show-population").checked ? "" : "none";
  }
  function drawPrevious() {
    if (!prev) return;
    var g = sv("g", { "class": "previous-layer" }, svg);
    layers.previous = g;
    var pts = prev.points.slice().sort(function (a, b) { return a.x - b.x; });
    sv("path", { "class": "prev-line", d: stepPath(pts) }, g);
    pts.forEach(function (p) {
      var c = sv("circle", { "class": "previous", cx: scale.x(p.x), cy: scale.y(p.y), r: 3.2 }, g);
      sv("title", null, c).textContent = prev.label + ": " + p.arch;
    });
    g.style.display = document.getElementById("show-previous").checked ? "" : "none";
  }
  function drawBudget() {
    var g = sv("g", { "class": "budget-layer" }, svg);
    layers.budgetZone = sv("rect", { "class": "budget-zone", x: 0, y: M.t, width: 0, height: H - M.t - M.b }, g);
    layers.budgetLine = sv("line", { "class": "budget-line", x1: 0, x2: 0, y1: M.t, y2: H - M.b }, g);
  }
  function drawReferences() {
    if (!refs.length) return;
    var g = sv("g", { "class": "references-layer" }, svg);
    layers.references = g;
    refs.forEach(function (r) {
      if (r.x !== null && r.y !== null) {
        if (r.x_high !== null && r.x_high > r.x) {
          sv("line", { "class": "ref-bar", x1: scale.x(r.x), x2: scale.x(r.x_high), y1: scale.y(r.y), y2: scale.y(r.y) }, g);
        }
        var s = sv("polygon", { "class": "ref-star", points: star(scale.x(r.x), scale.y(r.y), 8) }, g);
        sv("title", null, s).textContent = r.id + " (predicted: " + withUnit(r.x, X.unit) + ", " + withUnit(r.y, Y.unit) + ")";
        sv("text", { "class": "ref-label", x: scale.x(r.x) + 8, y: scale.y(r.y) - 7 }, g).textContent = r.label;
      }
      if (r.published.x !== null && r.published.y !== null) {
        var px = scale.x(r.published.x), py = scale.y(r.published.y);
        var t = sv("polygon", { "class": "ref-pub", points: [px, py - 5, px - 4.5, py + 3.5, px + 4.5, py + 3.5].join(" ") }, g);
        sv("title", null, t).textContent = r.id + " (published: " + withUnit(r.published.x, X.unit) + " on the device, "
          + withUnit(r.published.y, Y.unit) + " after fine-tuning)";
      }
    });
    g.style.display = document.getElementById("show-references").checked ? "" : "none";
  }
  function drawMembers() {
    var pts = members.map(function (m) { return { x: xOf(m), y: yOf(m) }; });
    sv("path", { "class": "front-line", d: stepPath(pts) }, svg);
    var g = sv("g", { "class": "members-layer" }, svg);
    layers.members = [];
    // Packaged members last, so they sit on top of their neighbours.
    var order = members.filter(function (m) { return !m.packaged; }).concat(packaged);
    order.forEach(function (m) {
      var cx = scale.x(xOf(m)), cy = scale.y(yOf(m));
      var node = sv("g", {
        "class": "member" + (m.packaged ? " packaged" : ""), "data-index": m.index, tabindex: 0, role: "button",
        "aria-label": memberTitle(m)
      }, g);
      if (m.packaged) node.setAttribute("data-name", m.packaged.name);
      sv("circle", { "class": "dot", cx: cx, cy: cy, r: m.packaged ? 6.5 : 4 }, node);
      if (m.packaged) {
        sv("text", { "class": "k-label", x: cx + 8, y: cy + 15 }, node).textContent = String(m.packaged.k);
      }
      // Keyboard: Tab through the members; the mouse is handled by the nearest-member lookup below.
      node.addEventListener("focus", function () { setHover(m.index); });
      node.addEventListener("blur", function () { setHover(null); });
      node.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(m.index); }
      });
      layers.members[m.index] = node;
      layers.points.push({ index: m.index, x: cx, y: cy, bias: m.packaged ? 4 : 0 });
    });
    layers.ring = sv("circle", { "class": "best-ring", r: 12, cx: -100, cy: -100 }, svg);
  }
  // The member under the pointer is the nearest one within reach (dense fronts overlap), with a
  // small preference for packaged members.
  function nearest(ev) {
    var ctm = svg.getScreenCTM();
    if (!ctm || !layers.points) return null;
    var pt = svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    var p = pt.matrixTransform(ctm.inverse());
    var best = null, bestD = 18;
    layers.points.forEach(function (q) {
      var d = Math.sqrt((q.x - p.x) * (q.x - p.x) + (q.y - p.y) * (q.y - p.y)) - q.bias;
      if (d < bestD) { bestD = d; best = q.index; }
    });
    return best;
  }
  function setHover(index) {
    if (index === state.hover) return;
    state.hover = index;
    (layers.members || []).forEach(function (node, i) { if (node) node.classList.toggle("hover", i === index); });
    if (index === null) hideTooltip(); else showTooltip(members[index], layers.members[index]);
  }
  function draw() {
    scale = makeScale(state.logX);
    clear(svg);
    layers = { points: [] };
    state.hover = null;
    hideTooltip();
    drawAxes();
    drawPopulation();
    drawBudget();
    drawPrevious();
    drawReferences();
    drawMembers();
    updateBudget();
    markSelected();
  }

  // ------------------------------------------------------------------ member info
  function infoRows(m) {
    var rows = [];
    var keys = [X.key, Y.key].concat(Object.keys(data.objectives).filter(function (k) { return k !== X.key && k !== Y.key; }));
    keys.forEach(function (k) {
      var meta = data.objectives[k];
      if (!meta || m.objectives[k] === undefined) return;
      rows.push([meta.label + " (" + meta.source + ")", withUnit(m.objectives[k], meta.unit)]);
      if (m.packaged && m.packaged.measured[k] !== undefined && m.packaged.measured[k] !== null) {
        rows.push([meta.label + " (measured)", withUnit(m.packaged.measured[k], meta.unit)]);
      }
    });
    if (m.packaged) runtimeLatencies(m.packaged).forEach(function (r) {
      rows.push(["latency in " + r[0] + " (measured, batch 1)", withUnit(r[1], "ms")]);
    });
    rows.push(["resolution", m.resolution + " px"]);
    return rows;
  }
  // [runtime, ms] pairs of a packaged member, fastest first (what packaging timed in each runtime)
  function runtimeLatencies(p) {
    var rt = p.runtimes || {};
    return Object.keys(rt).map(function (k) { return [k, rt[k]]; })
      .sort(function (a, b) { return a[1] - b[1] || (a[0] < b[0] ? -1 : 1); });
  }
  function kvTable(rows, cls) {
    var table = el("table", cls ? { "class": cls } : null), body = el("tbody");
    rows.forEach(function (r) {
      var tr = el("tr");
      tr.appendChild(el("td", null, r[0]));
      tr.appendChild(el("td", null, r[1]));
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }
  function showTooltip(m, node) {
    clear(tooltip);
    tooltip.appendChild(el("div", { "class": "tt-name" }, m.packaged ? m.packaged.name + "  (packaged, k = " + m.packaged.k + ")" : "front point #" + m.index + " (not packaged)"));
    tooltip.appendChild(el("div", { "class": "tt-arch" }, m.arch));
    tooltip.appendChild(kvTable(infoRows(m)));
    tooltip.hidden = false;
    var box = wrap.getBoundingClientRect(), pt = node.querySelector(".dot").getBoundingClientRect();
    var left = pt.right - box.left + 10, top = pt.top - box.top - 10;
    var tw = tooltip.offsetWidth, th = tooltip.offsetHeight;
    if (left + tw > box.width) left = pt.left - box.left - tw - 10;
    if (top + th > box.height) top = box.height - th;
    tooltip.style.left = Math.max(0, left) + "px";
    tooltip.style.top = Math.max(0, top) + "px";
  }
  function hideTooltip() { tooltip.hidden = true; }

  function copyText(text, button) {
    var label = button.textContent;
    function done(msg) {
      button.textContent = msg;
      window.setTimeout(function () { button.textContent = label; }, 1400);
    }
    function fallback() {
      var area = el("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed"; area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      done(ok ? "copied" : "select and copy");
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done("copied"); }, fallback);
    } else {
      fallback();
    }
  }
  function snippetBox(title, text, wrapLines) {
    var box = el("div", { "class": "snippet" }), head = el("div", { "class": "snippet-head" });
    head.appendChild(el("span", null, title));
    var b = el("button", { "class": "copy", type: "button", title: "copy to the clipboard" }, "copy");
    b.addEventListener("click", function () { copyText(text, b); });
    head.appendChild(b);
    box.appendChild(head);
    box.appendChild(el("pre", wrapLines ? { "class": "wrap" } : null, text));
    return box;
  }
  function showDetails(m) {
    var body = document.getElementById("details-body");
    clear(body);
    document.getElementById("details-hint").hidden = m !== null;
    if (m === null) return;
    var h = el("h3", { style: "margin:0 0 4px;font-size:1rem" }, memberTitle(m));
    if (m.packaged) h.appendChild(el("span", { "class": "tag pk" }, "packaged k = " + m.packaged.k));
    if (state.best === m.index) h.appendChild(el("span", { "class": "tag best" }, "best within budget"));
    body.appendChild(h);
    body.appendChild(el("div", { "class": "arch", title: "arch string: resolution, depth per stage, kernel size and expand ratio per block" }, m.arch));
    body.appendChild(kvTable(infoRows(m), "kv"));
    if (m.packaged) {
      body.appendChild(snippetBox("load it with timm", m.packaged.snippet));
    } else {
      body.appendChild(el("p", { "class": "muted note" }, "Not packaged: only packaged members come with "
        + "BN-calibrated weights, ONNX and a model card. Its arch string identifies it (ofa2 arch show ARCH)."));
      body.appendChild(snippetBox("arch string", m.arch, true));
    }
  }
  function select(index) {
    state.selected = state.selected === index ? null : index;
    markSelected();
  }
  function markSelected() {
    (layers.members || []).forEach(function (node, i) {
      if (node) node.classList.toggle("selected", i === state.selected);
    });
    document.querySelectorAll("#packaged-table tr.row").forEach(function (tr) {
      tr.classList.toggle("selected", Number(tr.getAttribute("data-index")) === state.selected);
    });
    var shown = state.selected !== null ? state.selected : state.best;
    showDetails(shown === null ? null : members[shown]);
  }

  // ------------------------------------------------------------------ budget
  var xRange = extent(members.map(xOf));
  var logBudget = xRange[0] > 0;
  function budgetAt(pos) {
    var t = pos / 1000;
    if (logBudget) return Math.exp(Math.log(xRange[0]) + t * (Math.log(xRange[1]) - Math.log(xRange[0])));
    return xRange[0] + t * (xRange[1] - xRange[0]);
  }
  function bestWithin(list, budget) {
    var best = null;
    list.forEach(function (m) {
      if (xOf(m) <= budget * (1 + 1e-12) && (best === null || yBetter(yOf(m), yOf(best)))) best = m;
    });
    return best;
  }
  function updateBudget() {
    var budget = budgetAt(Number(slider.value));
    state.budget = budget;
    var best = bestWithin(members, budget), bestPk = bestWithin(packaged, budget);
    state.best = best ? best.index : null;
    state.bestPackaged = bestPk ? bestPk.index : null;
    document.getElementById("budget-value").textContent = "≤ " + withUnit(budget, X.unit, 3);
    if (layers.budgetZone) {
      var bx = Math.min(Math.max(scale.x(budget), M.l), W - M.r);
      setAttrs(layers.budgetZone, { x: bx, width: Math.max(0, W - M.r - bx) });
      setAttrs(layers.budgetLine, { x1: bx, x2: bx });
    }
    (layers.members || []).forEach(function (node, i) {
      if (!node) return;
      var within = xOf(members[i]) <= budget * (1 + 1e-12);
      node.classList.toggle("within", within);
      node.classList.toggle("beyond", !within);
      node.classList.toggle("best", i === state.best);
    });
    if (layers.ring) {
      if (best) {
        setAttrs(layers.ring, { cx: scale.x(xOf(best)), cy: scale.y(yOf(best)), "data-index": best.index });
        layers.ring.style.display = "";
      } else {
        layers.ring.removeAttribute("data-index");
        layers.ring.style.display = "none";
      }
    }
    var out = document.getElementById("budget-result");
    clear(out);
    if (!best) {
      out.appendChild(document.createTextNode("No member is that fast; the fastest takes " + withUnit(xRange[0], X.unit) + "."));
    } else {
      out.appendChild(document.createTextNode("Best within budget: "));
      out.appendChild(el("strong", { id: "best-name" }, memberTitle(best)));
      out.appendChild(document.createTextNode(" — " + Y.label + " " + withUnit(yOf(best), Y.unit) + " (" + Y.source + "), "
        + X.label + " " + withUnit(xOf(best), X.unit) + "."));
      if (packaged.length) {
        out.appendChild(el("br"));
        if (bestPk) {
          out.appendChild(document.createTextNode("Best packaged: "));
          out.appendChild(el("strong", { id: "best-packaged-name" }, bestPk.packaged.name));
          var meas = bestPk.packaged.measured[Y.key];
          out.appendChild(document.createTextNode(" — " + Y.label + " " + withUnit(yOf(bestPk), Y.unit)
            + (meas !== undefined && meas !== null ? " (measured " + withUnit(meas, Y.unit) + ")" : "") + "."));
        } else {
          out.appendChild(document.createTextNode("No packaged member fits this budget."));
        }
      }
    }
    if (state.selected === null) markSelected();
  }

  // ------------------------------------------------------------------ static parts
  function header() {
    document.title = data.title + " · ofa2-zoo front explorer";
    document.getElementById("title").textContent = data.title;
    var a = data.algorithm || {};
    var parts = [
      members.length + " members" + (packaged.length ? ", " + packaged.length + " packaged" : ""),
      (a.name || "search") + (a.population ? ", population " + a.population : "") + (a.generations ? ", " + a.generations + " generations" : "") + ", seed " + data.seed,
      num(data.evaluations) + " evaluations",
      "hypervolume " + num(data.hypervolume, 5),
      "version " + String(data.version).slice(0, 12)
    ];
    document.getElementById("subtitle").textContent = parts.join(" · ");
    document.getElementById("log-x-label").textContent = "log " + X.label;
    document.getElementById("budget-label").textContent = X.label.charAt(0).toUpperCase() + X.label.slice(1) + " budget";
    var log = document.getElementById("log-x");
    if (!(xRange[0] > 0)) { log.disabled = true; }
    if (prev) {
      document.getElementById("show-previous-wrap").hidden = false;
      document.getElementById("show-previous-label").textContent = "previous version (" + prev.label + ")";
    }
    if (refs.length) document.getElementById("show-references-wrap").hidden = false;
    // A search whose final population is all on the front (PALS keeps only its archive) has no dominated points.
    if ((data.population || []).length) document.getElementById("show-population-wrap").hidden = false;
    document.getElementById("footer").textContent = "profile " + data.profile + " · space " + data.space
      + " · supernet " + (data.supernet || "–") + " · accuracy " + (data.accuracy || "–")
      + (data.latency_by ? " · latency from " + data.latency_by : "")
      + " · written by ofa2-zoo " + data.package_version + ". Self-contained page: it needs no network.";
  }
  function legend() {
    var ul = document.getElementById("legend");
    function item(text, draw) {
      var li = el("li"), s = document.createElementNS(SVGNS, "svg");
      setAttrs(s, { width: 18, height: 12, viewBox: "0 0 18 12" });
      draw(s);
      li.appendChild(s);
      li.appendChild(document.createTextNode(text));
      ul.appendChild(li);
    }
    item("front (" + members.length + " members)", function (s) {
      sv("circle", { cx: 9, cy: 6, r: 4, fill: "var(--front)" }, s);
    });
    if (packaged.length) item("packaged (" + packaged.length + "), numbered by k", function (s) {
      sv("circle", { cx: 9, cy: 6, r: 5.5, fill: "var(--packaged)" }, s);
    });
    item("best within the budget", function (s) {
      sv("circle", { cx: 9, cy: 6, r: 5, fill: "none", stroke: "var(--best)", "stroke-width": 2 }, s);
    });
    if ((data.population || []).length) item("dominated points of the final population", function (s) {
      sv("circle", { cx: 9, cy: 6, r: 2.5, fill: "var(--pop)" }, s);
    });
    if (prev) item("previous version " + prev.label + " (" + prev.points.length + " members)", function (s) {
      sv("line", { x1: 1, x2: 17, y1: 6, y2: 6, stroke: "var(--prev)", "stroke-dasharray": "4 3", "stroke-width": 1.5 }, s);
      sv("circle", { cx: 9, cy: 6, r: 3, fill: "#fff", stroke: "var(--prev)" }, s);
    });
    if (refs.some(function (r) { return r.x !== null; })) item("OFA specialized nets (predicted here)", function (s) {
      sv("polygon", { points: star(9, 6, 6), fill: "var(--ref)" }, s);
    });
    if (refs.some(function (r) { return r.published.x !== null; })) item("OFA specialized nets (published: device, fine-tuned)", function (s) {
      sv("polygon", { points: "9,1 4.5,10 13.5,10", fill: "#555c68" }, s);
    });
  }
  function packagedTable() {
    if (!packaged.length) return;
    document.getElementById("packaged-card").hidden = false;
    var table = document.getElementById("packaged-table");
    var head = el("thead"), hr = el("tr");
    var cols = ["k", "timm name"];
    var keys = [Y.key, X.key].concat(Object.keys(data.objectives).filter(function (k) { return k !== X.key && k !== Y.key; }));
    var measuredKeys = keys.filter(function (k) { return packaged.some(function (m) { return m.packaged.measured[k] !== undefined; }); });
    keys.forEach(function (k) {
      cols.push(objLabel(k) + (objUnit(k) ? " (" + objUnit(k) + ")" : ""));
      if (measuredKeys.indexOf(k) >= 0) cols.push(objLabel(k) + " measured");
    });
    var withRuntimes = packaged.some(function (m) { return runtimeLatencies(m.packaged).length > 0; });
    if (withRuntimes) cols.push("measured ms, batch 1");
    cols.push("input", "");
    cols.forEach(function (c) { hr.appendChild(el("th", null, c)); });
    head.appendChild(hr);
    table.appendChild(head);
    var body = el("tbody");
    packaged.forEach(function (m) {
      var tr = el("tr", { "class": "row", "data-index": m.index });
      tr.appendChild(el("td", null, m.packaged.k));
      var name = el("td");
      name.appendChild(el("code", null, m.packaged.name));
      tr.appendChild(name);
      keys.forEach(function (k) {
        tr.appendChild(el("td", null, num(m.objectives[k])));
        if (measuredKeys.indexOf(k) >= 0) tr.appendChild(el("td", null, num(m.packaged.measured[k])));
      });
      if (withRuntimes) tr.appendChild(el("td", null, runtimeLatencies(m.packaged).map(function (r) {
        return r[0] + " " + num(r[1]);
      }).join(", ") || "–"));
      tr.appendChild(el("td", null, m.resolution + "²"));
      var td = el("td"), b = el("button", { "class": "copy", type: "button", title: "copy the timm.create_model snippet" }, "copy snippet");
      b.addEventListener("click", function (ev) { ev.stopPropagation(); copyText(m.packaged.snippet, b); });
      td.appendChild(b);
      tr.appendChild(td);
      tr.addEventListener("click", function () { select(m.index); });
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  // ------------------------------------------------------------------ wiring
  document.getElementById("log-x").addEventListener("change", function (ev) { state.logX = ev.target.checked; draw(); });
  document.getElementById("show-population").addEventListener("change", function (ev) {
    if (layers.population) layers.population.style.display = ev.target.checked ? "" : "none";
  });
  document.getElementById("show-previous").addEventListener("change", function (ev) {
    if (layers.previous) layers.previous.style.display = ev.target.checked ? "" : "none";
  });
  document.getElementById("show-references").addEventListener("change", function (ev) {
    if (layers.references) layers.references.style.display = ev.target.checked ? "" : "none";
  });
  svg.addEventListener("mousemove", function (ev) { setHover(nearest(ev)); });
  svg.addEventListener("mouseleave", function () { setHover(null); });
  svg.addEventListener("click", function (ev) { var i = nearest(ev); if (i !== null) select(i); });
  slider.addEventListener("input", updateBudget);
  slider.value = "500";
  header();
  legend();
  packagedTable();
  draw();
})();
