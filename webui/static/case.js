// Draws the case's BPMN diagram with bpmn-js (NavigatedViewer) and marks completed and active elements.
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (!box) { return; }
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
  var completed = JSON.parse(box.dataset.completed || "[]");
  var active = JSON.parse(box.dataset.active || "[]");
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
      completed.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "bm-completed"); } });
      active.forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, "bm-active"); } });
      message.hidden = true;
      box.dataset.ready = "true";
    })
    .catch(function (error) { fail(box.dataset.failed + (error && error.message ? error.message : error)); });
})();
