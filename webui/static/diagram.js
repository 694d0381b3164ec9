// Draws a BPMN diagram into a .diagram box with bpmn-js (NavigatedViewer) and marks elements: the case page and the
// version diff share it. The box says where its XML is (data-xml-url) and what to say when that fails. Returns the
// viewer (nothing when bpmn-js is missing) for a page that has to fit it again.
(function () {
  "use strict";
  window.bianminDiagram = function (box, markers) {
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
        canvas.zoom("fit-viewport", "auto");
        Object.keys(markers).forEach(function (marker) {
          markers[marker].forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, marker); } });
        });
        message.hidden = true;
        box.dataset.ready = "true";
      })
      .catch(function (error) { fail(box.dataset.failed + (error && error.message ? error.message : error)); });
    return viewer;
  };
})();
