// Draws a BPMN diagram into a .diagram box with bpmn-js (NavigatedViewer) and marks elements: the case page, the
// replay, the version diff and the public guide share it. The box says where its XML is (data-xml-url) and what to
// say when that fails; `notes` (optional) puts a short text above elements. Returns the viewer (nothing when bpmn-js
// is missing) for a page that has to fit it again.
(function () {
  "use strict";
  // bpmn-js writes labels at 12 px; below this scale Chinese strokes run together, so a wide diagram (a 联办 item
  // with seven lanes) is shown at this scale around the marked steps instead of shrunk to fit.
  var LEGIBLE = 0.8;
  var PAD = 24;

  function bounds(shapes) {
    var box = null;
    shapes.forEach(function (s) {
      var right = s.x + s.width, bottom = s.y + s.height;
      box = box ? { x: Math.min(box.x, s.x), y: Math.min(box.y, s.y), right: Math.max(box.right, right),
                    bottom: Math.max(box.bottom, bottom) }
                : { x: s.x, y: s.y, right: right, bottom: bottom };
    });
    return box;
  }

  // Sizes the box to the diagram at a legible scale (up to most of the window's height), then shows the whole
  // diagram when it fits legibly, else the marked steps (`focus`) at the legible scale.
  function place(viewer, box, focus) {
    var canvas = viewer.get("canvas");
    var inner = canvas.viewbox().inner;
    if (!inner.width || !inner.height) { return; }
    var fitting = Math.min(1, (box.clientWidth - 2 * PAD) / inner.width);
    var scale = Math.max(fitting, LEGIBLE);
    var cap = Math.max(430, Math.round(window.innerHeight * 0.8));
    var wanted = Math.ceil(inner.height * scale + 2 * PAD);
    box.style.height = Math.max(260, Math.min(wanted, cap)) + "px";
    canvas.resized();
    if (fitting >= LEGIBLE && wanted <= cap) {
      canvas.zoom("fit-viewport", "auto");
      return;
    }
    var width = box.clientWidth / scale, height = box.clientHeight / scale;
    var around = bounds(focus) || { x: inner.x, y: inner.y, right: inner.x, bottom: inner.y };
    var x = (around.x + around.right) / 2 - width / 2, y = (around.y + around.bottom) / 2 - height / 2;
    x = Math.max(inner.x - PAD / scale, Math.min(x, inner.x + inner.width - width + PAD / scale));
    y = Math.max(inner.y - PAD / scale, Math.min(y, inner.y + inner.height - height + PAD / scale));
    canvas.viewbox({ x: x, y: y, width: width, height: height });
  }

  function zoomControls(viewer, box, focus) {
    var canvas = viewer.get("canvas");
    box.querySelectorAll("[data-zoom]").forEach(function (button) {
      button.addEventListener("click", function () {
        var how = button.dataset.zoom;
        if (how === "fit") { canvas.zoom("fit-viewport", "auto"); return; }
        if (how === "legible") { place(viewer, box, focus()); return; }
        var box2 = canvas.viewbox();
        var centre = { x: box2.x + box2.width / 2, y: box2.y + box2.height / 2 };
        canvas.zoom(canvas.zoom() * (how === "in" ? 1.25 : 0.8), centre);
      });
    });
  }

  // A small note above an element, e.g. a sign-off's tally ("会签 2/3"), with its full wording on hover.
  function addNotes(viewer, notes) {
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    Object.keys(notes || {}).forEach(function (id) {
      if (!registry.get(id)) { return; }
      var note = notes[id];
      var tag = document.createElement("span");
      tag.className = "bm-tally bm-tally-" + note.state;
      tag.textContent = note.text;
      tag.title = note.title || "";
      overlays.add(id, "bm-note", { position: { top: -22, left: 0 }, html: tag });
    });
  }

  window.bianminDiagram = function (box, markers, notes) {
    var message = box.querySelector(".diagram-message");
    function fail(text) {
      box.classList.add("diagram-failed");
      message.textContent = text;
      message.hidden = false;
    }
    if (typeof window.BpmnJS !== "function") {
      fail(box.dataset.missing);
      return;
    }
    var viewer = new window.BpmnJS({ container: box.querySelector(".diagram-canvas") });
    fetch(box.dataset.xmlUrl, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get("canvas");
        var registry = viewer.get("elementRegistry");
        var marked = [];
        Object.keys(markers).forEach(function (marker) {
          markers[marker].forEach(function (id) {
            var element = registry.get(id);
            if (element) { canvas.addMarker(id, marker); marked.push({ marker: marker, element: element }); }
          });
        });
        // The steps to show first: the active ones, else whatever is marked (a diff's changes).
        function focus() {
          var active = marked.filter(function (m) { return m.marker === "bm-active" || m.marker === "bm-waiting"; });
          return (active.length ? active : marked).map(function (m) { return m.element; })
            .filter(function (e) { return e.width !== undefined; });
        }
        addNotes(viewer, notes);
        place(viewer, box, focus());
        zoomControls(viewer, box, focus);
        message.hidden = true;
        box.dataset.ready = "true";
      })
      .catch(function (error) { fail(box.dataset.failed + (error && error.message ? error.message : error)); });
    return viewer;
  };
})();
