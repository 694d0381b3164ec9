// The report's print button: the browser's own print dialog (A4 from the page's print styles), or save as PDF.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-report");
  if (button) button.addEventListener("click", () => window.print());
});
