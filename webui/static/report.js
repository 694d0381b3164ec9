// A printable page's print button (the case report, a document): the browser's print dialog, A4 from the print styles.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print-report");
  if (button) button.addEventListener("click", () => window.print());
});
