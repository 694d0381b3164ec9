// Draws the case's BPMN diagram and marks completed and active elements.
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (!box) { return; }
  window.bianminDiagram(box, {
    "bm-completed": JSON.parse(box.dataset.completed || "[]"),
    "bm-active": JSON.parse(box.dataset.active || "[]"),
  });
})();
