// Draws the case's BPMN diagram, marks completed and active elements, and notes each signed step's tally.
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (!box) { return; }
  // 会签/或签 and 加签: the tally of each signed step, from the signatures card above the diagram.
  var signatures = document.getElementById("signatures");
  window.bianminDiagram(box, {
    "bm-completed": JSON.parse(box.dataset.completed || "[]"),
    "bm-active": JSON.parse(box.dataset.active || "[]"),
  }, signatures ? JSON.parse(signatures.dataset.tallies || "{}") : {});
})();
