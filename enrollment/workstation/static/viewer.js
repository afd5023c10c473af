// The finger viewer: zoom, pan and rotate both sides in step; pair lines follow. The view
// (zoom, pan, rotation) is kept per case and finger in sessionStorage, so switching between
// original, enhanced and skeleton keeps it.
(function () {
  "use strict";
  var svg = document.getElementById("viewer");
  if (!svg) { return; }
  var views = svg.querySelectorAll("g.view");
  var pairs = svg.querySelectorAll("line.pair");
  var key = "afis-viewer:" + window.location.pathname;
  var state = { zoom: 1, angle: 0, x: 0, y: 0 };
  try {
    var kept = JSON.parse(window.sessionStorage.getItem(key) || "null");
    if (kept && isFinite(kept.zoom) && isFinite(kept.angle) && isFinite(kept.x) &&
        isFinite(kept.y)) {
      state = { zoom: Math.max(0.25, Math.min(8, kept.zoom)), angle: kept.angle % 360,
                x: kept.x, y: kept.y };
    }
  } catch (e) { /* no storage, or a damaged entry: start from the plain view */ }

  function centre(el, name) { return parseFloat(el.getAttribute(name)) || 0; }

  function apply() {
    try { window.sessionStorage.setItem(key, JSON.stringify(state)); } catch (e) { /* none */ }
    views.forEach(function (v) {
      var cx = centre(v, "data-cx"), cy = centre(v, "data-cy");
      v.setAttribute("transform",
        "translate(" + (state.x + cx) + " " + (state.y + cy) + ") rotate(" + state.angle +
        ") scale(" + state.zoom + ") translate(" + (-cx) + " " + (-cy) + ")");
    });
    var layer = document.getElementById("pairs");
    var toLayer = layer.getScreenCTM().inverse();
    function at(id) {
      var m = document.getElementById(id);
      if (!m) { return null; }
      var p = svg.createSVGPoint();
      p.x = parseFloat(m.getAttribute("data-x"));
      p.y = parseFloat(m.getAttribute("data-y"));
      return p.matrixTransform(toLayer.multiply(m.getScreenCTM()));
    }
    pairs.forEach(function (l) {
      var a = at("probe-m" + l.getAttribute("data-a"));
      var b = at("candidate-m" + l.getAttribute("data-b"));
      if (!a || !b) { return; }
      l.setAttribute("x1", a.x.toFixed(1)); l.setAttribute("y1", a.y.toFixed(1));
      l.setAttribute("x2", b.x.toFixed(1)); l.setAttribute("y2", b.y.toFixed(1));
    });
  }

  document.querySelectorAll("#tools button").forEach(function (button) {
    button.addEventListener("click", function () {
      var act = button.getAttribute("data-act");
      if (act === "zoom-in") { state.zoom = Math.min(8, state.zoom * 1.25); }
      if (act === "zoom-out") { state.zoom = Math.max(0.25, state.zoom / 1.25); }
      if (act === "rotate-left") { state.angle -= 15; }
      if (act === "rotate-right") { state.angle += 15; }
      if (act === "reset") { state = { zoom: 1, angle: 0, x: 0, y: 0 }; }
      apply();
    });
  });
  document.querySelectorAll("#tools input[data-toggle]").forEach(function (box) {
    box.addEventListener("change", function () {
      svg.classList.toggle("hide-" + box.getAttribute("data-toggle"), !box.checked);
    });
  });
  svg.addEventListener("wheel", function (event) {
    event.preventDefault();
    state.zoom = Math.max(0.25, Math.min(8, state.zoom * (event.deltaY < 0 ? 1.1 : 1 / 1.1)));
    apply();
  }, { passive: false });
  var drag = null;
  svg.addEventListener("pointerdown", function (event) {
    drag = { x: event.clientX, y: event.clientY, sx: state.x, sy: state.y };
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", function (event) {
    if (!drag) { return; }
    var scale = svg.viewBox.baseVal.width / svg.getBoundingClientRect().width;
    state.x = drag.sx + (event.clientX - drag.x) * scale;
    state.y = drag.sy + (event.clientY - drag.y) * scale;
    apply();
  });
  svg.addEventListener("pointerup", function () { drag = null; });
  apply();
}());
