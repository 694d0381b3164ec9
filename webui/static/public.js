// The public guide's diagram: read-only, nothing marked (no case runs on it), fitted again to the A4 width when the
// page is printed and back to the screen afterwards.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("diagram");
  if (!box) return;
  const viewer = window.bianminDiagram(box, {});
  if (!viewer) return;
  const fit = () => {
    if (box.dataset.ready !== "true") return;
    const canvas = viewer.get("canvas");
    canvas.resized();
    canvas.zoom("fit-viewport", "auto");
  };
  window.matchMedia("print").addEventListener("change", fit);
  window.addEventListener("beforeprint", fit);
  window.addEventListener("afterprint", fit);
});
