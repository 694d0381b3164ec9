// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Choosing a service item on the new-application page reloads the page with that item's form.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form) { select.form.submit(); }
    });
  });
  // 全部收齐: every material of the checklist received at once; the clerk then unticks what is missing.
  document.querySelectorAll("[data-tick-all]").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll("#checklist input[name$='_received']").forEach(function (box) { box.checked = true; });
    });
  });
})();
