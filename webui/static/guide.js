// The service guide editor: add and remove rows of materials; each new row gets the next free index.
(function () {
  "use strict";
  var rows = document.getElementById("material-rows");
  var template = document.getElementById("material-template");
  var add = document.getElementById("add-material");
  if (!rows || !template || !add) { return; }
  add.addEventListener("click", function () {
    var index = Number(rows.dataset.next || "0");
    rows.dataset.next = String(index + 1);
    var row = template.content.firstElementChild.cloneNode(true);
    row.querySelectorAll("[data-name]").forEach(function (input) {
      input.name = "materials-" + index + "-" + input.dataset.name;
    });
    rows.appendChild(row);
    row.querySelector("input[type=text]").focus();
  });
  rows.addEventListener("click", function (event) {
    var button = event.target.closest(".remove-material");
    if (button) { button.closest("tr").remove(); }
  });
})();
