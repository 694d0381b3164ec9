// Draws a version diff on its diagrams: added elements green, changed amber, removed red (on the old diagram).
(function () {
  "use strict";
  document.querySelectorAll(".diff-diagram").forEach(function (box) {
    window.bianminDiagram(box, {
      "bm-added": JSON.parse(box.dataset.added || "[]"),
      "bm-changed": JSON.parse(box.dataset.changed || "[]"),
      "bm-removed": JSON.parse(box.dataset.removed || "[]"),
    });
  });
})();
