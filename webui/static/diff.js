// Draws a version diff on its diagrams with bpmn-js: added elements green, changed amber, removed red (old diagram).
(function () {
  "use strict";
  var MARKERS = { added: "bm-added", changed: "bm-changed", removed: "bm-removed" };
  document.querySelectorAll(".diff-diagram").forEach(function (box) {
    var message = box.querySelector(".diagram-message");
    function fail(text) {
      box.classList.add("diagram-failed");
      message.textContent = text;
      message.hidden = false;
    }
    if (typeof window.BpmnJS !== "function") { fail(box.dataset.missing); return; }
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
        canvas.zoom("fit-viewport", "auto");
        Object.keys(MARKERS).forEach(function (status) {
          JSON.parse(box.dataset[status] || "[]").forEach(function (id) {
            if (registry.get(id)) { canvas.addMarker(id, MARKERS[status]); }
          });
        });
        message.hidden = true;
        box.dataset.ready = "true";
      })
      .catch(function (error) { fail(box.dataset.failed + (error && error.message ? error.message : error)); });
  });
})();
