// Small progressive enhancements; every page works without them.
(function () {
  "use strict";
  // Choosing a service item on the new-application page reloads the page with that item's form.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      if (select.form) { select.form.submit(); }
    });
  });
})();
