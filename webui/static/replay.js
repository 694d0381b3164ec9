// The replay page: draws the diagram as it stood at the event, and steps through events with the ← → keys and the
// slider; each event is its own page, so the address is always the link to share.
(function () {
  "use strict";
  var box = document.getElementById("diagram");
  if (box) {
    window.bianminDiagram(box, {
      "bm-completed": JSON.parse(box.dataset.completed || "[]"),
      "bm-active": JSON.parse(box.dataset.active || "[]"),
      "bm-waiting": JSON.parse(box.dataset.waiting || "[]"),
    });
  }
  var bar = document.getElementById("replay");
  if (!bar) { return; }
  var seq = Number(bar.dataset.seq), count = Number(bar.dataset.count);
  function go(to) {
    to = Math.min(Math.max(to, 1), count);
    if (to !== seq) { window.location.assign(bar.dataset.url + "?at=" + to); }
  }
  document.addEventListener("keydown", function (event) {
    // In a field (the slider too, which moves itself and navigates on change) the keys keep their own meaning.
    var target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey || (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      return;
    }
    if (event.key === "ArrowLeft") { event.preventDefault(); go(seq - 1); }
    if (event.key === "ArrowRight") { event.preventDefault(); go(seq + 1); }
  });
  var slider = document.getElementById("replay-slider");
  slider.addEventListener("change", function () { go(Number(slider.value)); });
})();
