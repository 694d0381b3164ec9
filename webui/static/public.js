// The public guide's diagram: read-only, nothing marked (no case runs on it).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("diagram");
  if (box) window.bianminDiagram(box, {});
});
