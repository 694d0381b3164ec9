// Print buttons (the case report, the public guide, a document): the browser's own print dialog, A4 from the
// page's print styles (or save as PDF).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("#print-report, .print-page").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
});
