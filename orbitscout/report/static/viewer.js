/* orbitscout report viewer: AFTER and registered BEFORE tiles, blink, swipe, difference map,
   detections to click and filter. Works from file:// with no server and no network: the data
   come from data.js (window.ORBITSCOUT), the map library from leaflet/ beside this file. */
(function () {
  "use strict";
  var D = window.ORBITSCOUT;
  if (!D || !window.L) {
    return;
  }
  var ROOT = "report/";
  var byId = {};
  D.detections.forEach(function (d) { byId[d.id] = d; });
  var HARDWARE = ["lander", "parachute", "backshell", "heat_shield", "descent_stage"];

  // ------------------------------------------------------------------ map in AFTER pixels
  // CRS.Simple: latlng (lat, lng) = (-v, u), u/v the AFTER pixel-corner coordinates
  // (a pixel's centre x lies at u = x + 0.5); zoom 0 is full resolution.
  function ll(x, y) { return L.latLng(-(y + 0.5), x + 0.5); }
  var bounds = L.latLngBounds(L.latLng(-D.height, 0), L.latLng(0, D.width));
  var map = L.map("map", {
    crs: L.CRS.Simple,
    minZoom: D.min_zoom - 1,
    maxZoom: 3,
    zoomSnap: 0.25,
    zoomDelta: 0.5,
    attributionControl: false,
    maxBounds: bounds.pad(2),  // room to pan; 0.5 pushed the image off centre in a tall map
    preferCanvas: false
  });
  map.fitBounds(bounds);
  if (D.top_zoom >= 0) {
    map.getContainer().classList.add("full-pyramid");  // the pyramid is full resolution
  }

  var Sparse = L.TileLayer.extend({
    // full-resolution tiles exist only around detections: ask for no others
    createTile: function (coords, done) {
      if (!this.options.have[coords.x + "_" + coords.y]) {
        var empty = document.createElement("div");
        setTimeout(function () { done(null, empty); }, 0);
        return empty;
      }
      return L.TileLayer.prototype.createTile.call(this, coords, done);
    }
  });
  var have = {};
  D.detail.forEach(function (k) { have[k] = true; });

  var names = ["after", "before", "diff"];
  var sparse = [];
  var panes = {};
  names.forEach(function (name, i) {
    var pane = map.createPane(name + "Pane");
    pane.style.zIndex = 210 + i * 10;
    pane.classList.add("img-pane");
    panes[name] = pane;
    var url = ROOT + "tiles/" + name + "/{z}/{x}_{y}.jpg";
    if (D.layers.indexOf(name) >= 0) {
      L.tileLayer(url, {
        pane: name + "Pane", bounds: bounds, tileSize: D.tile, noWrap: true,
        minNativeZoom: D.min_zoom, maxNativeZoom: D.top_zoom, minZoom: D.min_zoom - 1,
        maxZoom: 3, keepBuffer: 4, className: "tiles-pyramid"
      }).addTo(map);
    }
    if (D.detail.length) {
      sparse.push(new Sparse(url, {
        pane: name + "Pane", bounds: bounds, tileSize: D.detail_tile, noWrap: true, have: have,
        minNativeZoom: 0, maxNativeZoom: 0, keepBuffer: 2, className: "tiles-full"
      }));
    }
  });
  // the full-resolution tiles from a zoom above the pyramid's top on (added and removed here:
  // a layer's own minZoom trips Leaflet 1.9.4 on a jump into its range, "infinite number of
  // tiles"); below it they would be specks
  function showSparse() {
    var on = map.getZoom() > D.top_zoom;
    sparse.forEach(function (layer) {
      if (on && !map.hasLayer(layer)) {
        layer.addTo(map);
      } else if (!on && map.hasLayer(layer)) {
        map.removeLayer(layer);
      }
    });
  }
  showSparse();
  map.on("zoomend", showSparse);

  // ------------------------------------------------------------------ view state
  var state = {
    base: "after",      // the layer shown: after, before or diff
    swipe: false,       // before (or diff) left of the divider, after right of it
    divider: 0.5,       // divider position, share of the map's width
    blinking: false,
    rate: 2,            // automatic blinks (changes of layer) per second
    selected: null,
    minScore: 0,
    hidden: {}          // classes filtered out
  };
  var timer = null;
  var $ = function (id) { return document.getElementById(id); };

  function clipPane(pane, on) {
    if (!on) {
      pane.style.clip = "";
      return;
    }
    var size = map.getSize();
    var nw = map.containerPointToLayerPoint([0, 0]);
    var se = map.containerPointToLayerPoint(size);
    var cut = nw.x + size.x * state.divider;
    pane.style.clip = "rect(" + [nw.y, cut, se.y, nw.x].map(function (v) {
      return Math.round(v) + "px";
    }).join(", ") + ")";
  }

  function render() {
    var top = state.base === "diff" ? "diff" : "before";
    names.forEach(function (name) {
      var visible = state.swipe ? (name === "after" || name === top) : name === state.base;
      panes[name].style.visibility = visible ? "visible" : "hidden";
      clipPane(panes[name], state.swipe && name === top);
    });
    var divider = $("divider");
    divider.hidden = !state.swipe;
    divider.style.left = (state.divider * 100) + "%";
    document.querySelectorAll("input[name=layer]").forEach(function (input) {
      input.checked = input.value === state.base;
    });
    $("shown").textContent = state.swipe
      ? (top.toUpperCase() + " | AFTER")
      : state.base.toUpperCase();
    $("blink").setAttribute("aria-pressed", state.blinking ? "true" : "false");
    $("swipe").checked = state.swipe;
    $("diff-legend").hidden = !(state.base === "diff");
  }

  function blink() {
    state.base = state.base === "before" ? "after" : "before";
    render();
  }

  function setBlinking(on) {
    state.blinking = on;
    if (timer) {
      clearInterval(timer);
      timer = null;
    }
    if (on) {
      timer = setInterval(blink, 1000 / Math.max(0.1, state.rate));
    }
    $("auto").checked = on;
    render();
  }

  map.on("move zoom viewreset resize", function () { if (state.swipe) { render(); } });

  // the divider: dragged with mouse, pen or finger; the arrow keys move it too
  (function () {
    var divider = $("divider");
    var dragging = false;
    L.DomEvent.disableClickPropagation(divider);
    L.DomEvent.disableScrollPropagation(divider);
    function moveTo(clientX) {
      var rect = map.getContainer().getBoundingClientRect();
      state.divider = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
      render();
    }
    divider.addEventListener("pointerdown", function (e) {
      dragging = true;
      divider.setPointerCapture(e.pointerId);
      map.dragging.disable();
      e.preventDefault();
    });
    divider.addEventListener("pointermove", function (e) { if (dragging) { moveTo(e.clientX); } });
    function drop() {
      dragging = false;
      map.dragging.enable();
    }
    divider.addEventListener("pointerup", drop);
    divider.addEventListener("pointercancel", drop);
    divider.addEventListener("keydown", function (e) {
      if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        state.divider = Math.min(1, Math.max(0, state.divider + (e.key === "ArrowLeft" ? -0.05 : 0.05)));
        render();
        e.preventDefault();
      }
    });
  })();

  // ------------------------------------------------------------------ detections
  var shapes = {};
  var group = L.layerGroup().addTo(map);

  function ellipse(d) {
    var scale = Math.pow(2, map.getZoom());
    var minimum = 8 / scale; // at least 8 screen pixels across the short axis
    var a = Math.max(d.length_px * 0.65 + 2, minimum);
    var b = Math.max(d.width_px * 0.65 + 2, minimum);
    var t = (d.orientation_deg || 0) * Math.PI / 180;
    var points = [];
    for (var k = 0; k < 36; k++) {
      var s = k * Math.PI / 18;
      var px = d.x + a * Math.cos(t) * Math.cos(s) - b * Math.sin(t) * Math.sin(s);
      var py = d.y + a * Math.sin(t) * Math.cos(s) + b * Math.cos(t) * Math.sin(s);
      points.push(ll(px, py));
    }
    return points;
  }

  function label(d) {
    var text = d["class"] === "unknown" ? String(d.id) : d.id + " " + d["class"].replace("_", " ");
    return d.change === "vanished" ? text + " (vanished)" : text;
  }

  // a vanished detection (something of BEFORE gone in AFTER) is outlined dashed
  function dash(d) { return d.change === "vanished" ? "7 5" : null; }

  // possible moves: an arrow from the vanished end (moved_from) to the one that appeared,
  // between the outlines, one per pair of detections
  var moves = {};
  D.detections.forEach(function (d) {
    var from = d.moved_from !== null && d.moved_from !== undefined ? byId[d.moved_from] : null;
    if (!from || from.id === d.id) {
      return;
    }
    var key = Math.min(d.id, from.id) + "_" + Math.max(d.id, from.id);
    if (moves[key] && !(moves[key].to.change === "vanished" && d.change !== "vanished")) {
      return;  // both ends name each other: the arrow points at the one that appeared
    }
    moves[key] = { from: from, to: d };
  });
  var moveKeys = Object.keys(moves);
  // a move's labels sit on its outer sides, off the arrow between them
  var labelSide = {};
  moveKeys.forEach(function (key) {
    var m = moves[key];
    var east = m.to.x >= m.from.x;
    labelSide[m.from.id] = east ? "left" : "right";
    labelSide[m.to.id] = east ? "right" : "left";
  });

  D.detections.forEach(function (d) {
    var colour = D.colours[d["class"]] || "#ffffff";
    var shape = L.polygon(ellipse(d), {
      color: colour, weight: 2, fill: true, fillOpacity: 0.01, dashArray: dash(d),
      className: "det det-" + d["class"] + " change-" + (d.change || "appeared")
    });
    var side = labelSide[d.id] || "right";
    shape.bindTooltip(label(d), {
      permanent: true, direction: side, offset: [side === "left" ? -6 : 6, 0], className: "lbl",
      opacity: 1
    });
    shape.on("click", function (e) {
      L.DomEvent.stopPropagation(e);
      select(d.id, false);
    });
    shape.detection = d;
    shapes[d.id] = shape;
  });


  function arrow(m) {
    var scale = Math.pow(2, map.getZoom());
    var minimum = 8 / scale;
    var dx = m.to.x - m.from.x, dy = m.to.y - m.from.y;
    var length = Math.hypot(dx, dy) || 1;
    var ux = dx / length, uy = dy / length;
    var r0 = Math.min(Math.max(m.from.length_px * 0.65 + 2, minimum), length / 3);
    var r1 = Math.min(Math.max(m.to.length_px * 0.65 + 2, minimum), length / 3);
    var x0 = m.from.x + ux * r0, y0 = m.from.y + uy * r0;
    var x1 = m.to.x - ux * r1, y1 = m.to.y - uy * r1;
    var head = Math.min(12 / scale, length / 3);
    var wing = function (sign) {
      return ll(x1 - head * (ux * 0.87 - sign * uy * 0.5), y1 - head * (uy * 0.87 + sign * ux * 0.5));
    };
    return [[ll(x0, y0), ll(x1, y1)], [wing(1), ll(x1, y1), wing(-1)]];
  }

  var moveLines = {};
  moveKeys.forEach(function (key) {
    var m = moves[key];
    var colour = D.colours[m.to["class"]] || "#ffffff";
    var casing = L.polyline(arrow(m), { color: "#000", weight: 5, opacity: 0.7, interactive: false });
    var line = L.polyline(arrow(m), {
      color: colour, weight: 2.5, lineCap: "round", lineJoin: "round", className: "move"
    });
    line.bindTooltip("possible move #" + m.from.id + " → #" + m.to.id, { sticky: true });
    line.on("click", function (e) {
      L.DomEvent.stopPropagation(e);
      select(m.to.id, false);
    });
    line.move = m;
    moveLines[key] = [casing, line];
  });

  function labelsWanted() {
    // with many detections, natural changes are labelled once zoomed in (hardware always)
    return D.detections.length <= 40 || map.getZoom() >= D.top_zoom + 1;
  }

  function applyFilter() {
    var showNatural = labelsWanted();
    D.detections.forEach(function (d) {
      var keep = !state.hidden[d["class"]] && d.score >= state.minScore;
      var shape = shapes[d.id];
      if (keep && !group.hasLayer(shape)) {
        group.addLayer(shape);
      } else if (!keep && group.hasLayer(shape)) {
        group.removeLayer(shape);
      }
      var tip = shape.getTooltip();
      if (tip && tip.getElement()) {
        var show = HARDWARE.indexOf(d["class"]) >= 0 || showNatural || d.id === state.selected;
        tip.getElement().style.display = show ? "" : "none";
      }
      document.querySelectorAll("tr[data-id='" + d.id + "']").forEach(function (row) {
        row.hidden = !keep;
      });
    });
    var n = D.detections.filter(function (d) {
      return !state.hidden[d["class"]] && d.score >= state.minScore;
    }).length;
    moveKeys.forEach(function (key) {
      var m = moves[key];
      var keep = group.hasLayer(shapes[m.from.id]) && group.hasLayer(shapes[m.to.id]);
      moveLines[key].forEach(function (line) {
        if (keep && !group.hasLayer(line)) {
          group.addLayer(line);
        } else if (!keep && group.hasLayer(line)) {
          group.removeLayer(line);
        }
      });
    });
    $("shown-count").textContent = n + " of " + D.detections.length + " shown";
    declutterSoon();
  }

  // labels that would overlap (a parachute beside its backshell) move down, hardware first
  function declutter() {
    var order = D.detections.slice().sort(function (p, q) {
      var hp = HARDWARE.indexOf(p["class"]) >= 0 ? 1 : 0;
      var hq = HARDWARE.indexOf(q["class"]) >= 0 ? 1 : 0;
      return hq - hp || q.score - p.score;
    });
    var placed = [];
    var view = map.getBounds().pad(0.1);
    var box = map.getContainer().getBoundingClientRect();
    order.forEach(function (d) {
      var tip = shapes[d.id].getTooltip();
      var el = tip && tip.getElement();
      if (!el || !group.hasLayer(shapes[d.id]) || el.style.display === "none" ||
          !view.contains(ll(d.x, d.y))) {
        return;  // only the labels on screen are measured (thousands of detections)
      }
      el.style.marginTop = "0px";
      var r = el.getBoundingClientRect();
      if (r.bottom < box.top || r.top > box.bottom || r.right < box.left || r.left > box.right) {
        return;
      }
      var shift = 0;
      for (var guard = 0, moved = true; moved && guard < 30; guard++) {
        moved = false;
        for (var k = 0; k < placed.length; k++) {
          var p = placed[k];
          if (r.left < p.right && r.right > p.left && r.top + shift < p.bottom &&
              r.bottom + shift > p.top) {
            shift = p.bottom - r.top + 1;
            moved = true;
          }
        }
      }
      el.style.marginTop = shift + "px";
      placed.push({ left: r.left, right: r.right, top: r.top + shift, bottom: r.bottom + shift });
    });
  }
  var declutterTimer = null;
  function declutterSoon() {
    clearTimeout(declutterTimer);
    declutterTimer = setTimeout(declutter, 60);
  }

  map.on("moveend", declutterSoon);
  map.on("zoomend", function () {
    D.detections.forEach(function (d) { shapes[d.id].setLatLngs(ellipse(d)); });
    moveKeys.forEach(function (key) {
      moveLines[key].forEach(function (line) { line.setLatLngs(arrow(moves[key])); });
    });
    map.getContainer().classList.toggle("zoomed-in", map.getZoom() > 0);
    applyFilter();
  });

  function fmt(v, digits, unit) {
    if (v === null || v === undefined) {
      return "—";
    }
    return Number(v).toFixed(digits) + (unit ? " " + unit : "");
  }

  function esc(text) {
    var div = document.createElement("div");
    div.textContent = String(text);
    return div.innerHTML;
  }

  var CHANGE_NOTE = {
    appeared: "new in AFTER",
    vanished: "in BEFORE, gone in AFTER",
    altered: "both hold something there, and it differs"
  };

  function distanceBearing(move) {
    if (!move) {
      return "";
    }
    var dist = move.distance_m !== undefined ? fmt(move.distance_m, 0, "m")
      : (move.distance_px !== undefined ? fmt(move.distance_px, 0, "px") : "");
    var bearing = move.bearing_deg !== undefined
      ? " at " + fmt(move.bearing_deg, 0) + "° (" + esc(move.compass) + ")" : "";
    return ": " + dist + bearing;
  }

  function go(id) { return "<a href='#' class='go' data-go='" + id + "'>#" + id + "</a>"; }

  // "from #3: 12 m at 45° (NE)" on the end that appeared, "to #7: ..." on the vanished one
  function moveText(d) {
    for (var k = 0; k < moveKeys.length; k++) {
      var m = moves[moveKeys[k]];
      if (m.to.id === d.id) {
        return "from " + go(m.from.id) + esc(distanceBearing(m.to.move));
      }
      if (m.from.id === d.id) {
        return "to " + go(m.to.id) + esc(distanceBearing(m.to.move));
      }
    }
    return "";
  }

  function details(d) {
    var rows = [
      ["class", "<span class='swatch' style='border-color:" + (D.colours[d["class"]] || "#fff") +
        "'></span>" + esc(d["class"].replace("_", " "))],
      ["score (0–1)", fmt(d.score, 2)]
    ];
    if (d.alternative !== null && d.alternative !== undefined) {
      rows.push(["or else (0–1)", esc(d.alternative.replace("_", " ")) +
        (d.alternative_score !== null && d.alternative_score !== undefined ? " " + fmt(d.alternative_score, 2) : "")]);
    }
    if (d.change) {
      rows.push(["change", "<span class='change-" + esc(d.change) + "'>" + esc(d.change) + "</span>" +
        (CHANGE_NOTE[d.change] ? " <span class='note'>(" + CHANGE_NOTE[d.change] + ")</span>" : "")]);
    }
    if (d.change_score !== null && d.change_score !== undefined) {
      rows.push(["changed (0–1)", fmt(d.change_score, 2)]);
    }
    var moved = moveText(d);
    if (moved) {
      rows.push(["possible move", moved]);
    }
    rows.push(["size", d.length_m !== null
      ? fmt(d.length_m, 1) + " × " + fmt(d.width_m, 1) + " m, " + fmt(d.area_m2, 0) + " m²"
      : fmt(d.length_px, 1) + " × " + fmt(d.width_px, 1) + " px"]);
    rows.push(["lat, lon", d.lat !== null ? fmt(d.lat, 5) + "°, " + fmt(d.lon, 5) + "°" : "— (no CRS)"]);
    rows.push(["x, y (AFTER px)", fmt(d.x, 1) + ", " + fmt(d.y, 1)]);
    if (d.from_lander && d["class"] === "lander") {
      rows.push(["from lander", "— (this is the lander)"]);
    } else if (d.from_lander) {
      var r = d.from_lander;
      var dist = r.distance_m !== undefined ? fmt(r.distance_m, 0, "m") : fmt(r.distance_px, 0, "px");
      rows.push(["from lander", dist + " at " + fmt(r.bearing_deg, 0) + "° (" + esc(r.compass) + ")"]);
    }
    rows.push(["polarity", esc(d.polarity)]);
    rows.push(["contrast", (d.contrast >= 0 ? "+" : "") + fmt(d.contrast, 3)]);
    rows.push(["peak σ", fmt(d.peak_sigma, 1)]);
    var html = "<h3>#" + d.id + " " + esc(d["class"].replace("_", " ")) + "</h3><table class='props'>" +
      rows.map(function (r) { return "<tr><th>" + r[0] + "</th><td>" + r[1] + "</td></tr>"; }).join("") +
      "</table>";
    if (d.chip) {
      html += "<figure class='chip'><img src='" + d.chip + "' alt='before and after of detection " +
        d.id + "'><figcaption><span>BEFORE</span><span>AFTER</span></figcaption>" +
        "<figcaption class='note'>one stretch for both halves</figcaption></figure>";
    }
    return html;
  }

  function select(id, fly) {
    var previous = state.selected !== null ? shapes[state.selected] : null;
    if (previous) {
      previous.setStyle({ weight: 2, dashArray: dash(previous.detection) });
    }
    document.querySelectorAll("tr.selected").forEach(function (r) { r.classList.remove("selected"); });
    state.selected = id;
    var d = byId[id];
    if (!d) {
      $("details").innerHTML = "<p class='hint'>Click a detection on the map or in the table.</p>";
      return;
    }
    shapes[id].setStyle({ weight: 4 });
    shapes[id].bringToFront();
    $("details").innerHTML = details(d);
    document.querySelectorAll("tr[data-id='" + id + "']").forEach(function (row) {
      row.classList.add("selected");
      var box = row.closest(".scroll.tall");
      if (box) {  // the detections' table scrolls to the row, the page stays
        box.scrollTop = row.offsetTop - box.clientHeight / 2;
      }
    });
    if (fly) {
      map.setView(ll(d.x, d.y), Math.max(map.getZoom(), 0));
    }
    applyFilter();
  }

  $("details").addEventListener("click", function (e) {
    var link = e.target.closest("a[data-go]");
    if (link) {
      e.preventDefault();
      select(Number(link.getAttribute("data-go")), true);
    }
  });

  document.querySelectorAll(".gallery figure[data-id]").forEach(function (figure) {
    figure.addEventListener("click", function () {
      select(Number(figure.getAttribute("data-id")), true);
      map.getContainer().scrollIntoView({ block: "center", behavior: "smooth" });
    });
  });
  document.querySelectorAll("tr[data-id]").forEach(function (row) {
    row.addEventListener("click", function () {
      select(Number(row.getAttribute("data-id")), true);
    });
  });

  // ------------------------------------------------------------------ controls
  document.querySelectorAll("input[name=layer]").forEach(function (input) {
    input.addEventListener("change", function () {
      if (input.checked) {
        state.base = input.value;
        render();
      }
    });
    if (D.layers.indexOf(input.value) < 0 && input.value !== "after" && !D.detail.length) {
      input.disabled = true;
    }
  });
  $("blink").addEventListener("click", function () {
    if (state.swipe) {
      state.swipe = false;
    }
    blink();
  });
  $("auto").addEventListener("change", function () { setBlinking($("auto").checked); });
  $("rate").addEventListener("change", function () {
    state.rate = Math.max(0.1, Number($("rate").value) || 2);
    if (state.blinking) {
      setBlinking(true);
    }
  });
  $("swipe").addEventListener("change", function () {
    state.swipe = $("swipe").checked;
    if (state.swipe && state.base === "before") {
      state.base = "after";
    }
    render();
  });
  document.querySelectorAll("input[data-class]").forEach(function (input) {
    input.addEventListener("change", function () {
      state.hidden[input.getAttribute("data-class")] = !input.checked;
      applyFilter();
    });
  });
  $("min-score").addEventListener("input", function () {
    state.minScore = Number($("min-score").value);
    $("min-score-value").textContent = state.minScore.toFixed(2);
    applyFilter();
  });
  document.addEventListener("keydown", function (e) {
    if (e.target.tagName === "INPUT" || e.target.tagName === "TEXTAREA") {
      return;
    }
    if (e.key === "b") {
      blink();
    }
  });

  // ------------------------------------------------------------------ cursor, scale, north
  function lonlat(u, v) {
    var g = D.lonlat;
    function cell(axis, value) {
      var i = 0;
      while (i < axis.length - 2 && value > axis[i + 1]) {
        i++;
      }
      return [i, (value - axis[i]) / (axis[i + 1] - axis[i])];
    }
    var cu = cell(g.u, u), cv = cell(g.v, v);
    var j = cu[0], s = cu[1], i = cv[0], t = cv[1];
    function blend(a) {
      var top = a[i][j] * (1 - s) + a[i][j + 1] * s;
      var bottom = a[i + 1][j] * (1 - s) + a[i + 1][j + 1] * s;
      return top * (1 - t) + bottom * t;
    }
    var lon = ((blend(g.lon) + 180) % 360 + 360) % 360 - 180;
    return [lon, blend(g.lat)];
  }
  window.orbitscoutLonLat = function (x, y) { return D.lonlat ? lonlat(x + 0.5, y + 0.5) : null; };

  map.on("mousemove", function (e) {
    var u = e.latlng.lng, v = -e.latlng.lat;
    if (u < 0 || v < 0 || u > D.width || v > D.height) {
      $("cursor").textContent = "—";
      return;
    }
    var text = "x " + (u - 0.5).toFixed(1) + ", y " + (v - 0.5).toFixed(1) + " px";
    if (D.lonlat) {
      var p = lonlat(u, v);
      text = "lat " + p[1].toFixed(5) + "°, lon " + p[0].toFixed(5) + "° · " + text;
    }
    $("cursor").textContent = text;
  });

  var Scale = L.Control.extend({
    options: { position: "bottomleft" },
    onAdd: function () {
      this.div = L.DomUtil.create("div", "scalebar");
      map.on("zoomend", this.update, this);
      this.update();
      return this.div;
    },
    update: function () {
      var per = (D.gsd_m || 1) / Math.pow(2, map.getZoom()); // metres (or px) per screen px
      var limit = per * 120;
      var p = Math.pow(10, Math.floor(Math.log10(limit)));
      var len = [5, 2, 1].map(function (m) { return m * p; }).filter(function (v) { return v <= limit; })[0] || p;
      var unit = D.gsd_m ? (len >= 1000 ? (len / 1000) + " km" : len + " m") : len + " px";
      this.div.innerHTML = "<div class='bar' style='width:" + Math.round(len / per) + "px'></div><span>" + unit + "</span>";
    }
  });
  new Scale().addTo(map);

  if (D.north_deg !== null && D.north_deg !== undefined) {
    var North = L.Control.extend({
      options: { position: "topright" },
      onAdd: function () {
        var div = L.DomUtil.create("div", "north");
        div.title = "north (" + D.north_deg.toFixed(1) + "° clockwise from up)";
        div.innerHTML = "<svg viewBox='-20 -20 40 40' width='44' height='44'>" +
          "<g transform='rotate(" + D.north_deg + ")'>" +
          "<path d='M0,-15 L6,6 L0,2 L-6,6 Z' fill='#fff' stroke='#000' stroke-width='1.5'/>" +
          "<text x='0' y='17' text-anchor='middle' font-size='10' fill='#fff' stroke='#000' " +
          "stroke-width='0.6' font-weight='bold' transform='rotate(" + (-D.north_deg) + " 0 13)'>N</text></g></svg>";
        return div;
      }
    });
    new North().addTo(map);
  }

  render();
  applyFilter();
  select(null);

  // for tests and the console
  window.orbitscoutViewer = {
    map: map, state: state, panes: panes, shapes: shapes, moves: moveLines, select: select, blink: blink,
    render: render, setBlinking: setBlinking, ll: ll,
    setSwipe: function (on, divider) {
      state.swipe = on;
      if (divider !== undefined) {
        state.divider = divider;
      }
      render();
    }
  };
})();
