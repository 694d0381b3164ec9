// 人口库查询 on the new-application page: asks the server for the household of the ID number typed, shows it, fills
// the applicant's name when empty and the application's 家庭人口 when the form has it. A failure only says so: nothing
// typed is changed.
(function () {
  "use strict";
  var button = document.getElementById("population-lookup");
  var panel = document.getElementById("population-panel");
  var idInput = document.getElementById("applicant_id_number");
  if (!button || !panel || !idInput) { return; }
  var L = JSON.parse(document.getElementById("population-labels").textContent);
  var status = document.getElementById("population-status");
  var result = document.getElementById("population-result");
  var asked = 0;  // numbers the requests, so a slow answer to an earlier number is not shown
  button.hidden = false;

  function say(text, kind) {
    panel.hidden = false;
    status.textContent = text;
    status.className = "population-status" + (kind ? " alert alert-" + kind : "");
  }

  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text || "";
    if (className) { td.className = className; }
    return td;
  }

  function fill(input, value) {
    input.value = value;
    // The form's own scripts (and the browser's validity marks) see it as typed.
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function show(household) {
    document.getElementById("population-household-number").textContent = household.household_number || "—";
    document.getElementById("population-address").textContent = household.address || "—";
    var body = document.querySelector("#population-members tbody");
    body.textContent = "";
    household.members.forEach(function (m) {
      var row = document.createElement("tr");
      [cell(m.name, "nowrap"), cell(m.relation, "nowrap"), cell(m.gender, "nowrap"), cell(m.birth_date, "nowrap mono"),
        cell(m.id_number, "nowrap mono")].forEach(function (td) { row.appendChild(td); });
      body.appendChild(row);
    });
    result.hidden = false;
    var filled = false;
    var name = document.getElementById("applicant_name");
    if (name && !name.value.trim() && household.applicant_name) { fill(name, household.applicant_name); filled = true; }
    var size = document.getElementById("f-household_size");
    if (size) { fill(size, String(household.members.length)); filled = true; }
    say((filled ? L.filled : L.shown) + "（" + L.count.replace("{n}", household.members.length) + "）", "info");
  }

  button.addEventListener("click", function () {
    var mine = ++asked;
    result.hidden = true;
    say(L.busy, "");
    button.disabled = true;
    fetch(panel.dataset.url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": panel.dataset.csrf },
      body: JSON.stringify({ id_number: idInput.value }),
    }).then(function (r) {
      // A page that is not JSON (an expired session's login page, a refused token) says only that it failed.
      return r.json().catch(function () { return { error: L.failed }; }).then(function (j) { return [r.ok, j]; });
    }).then(function (res) {
      if (mine !== asked) { return; }
      if (res[0] && res[1].members) { show(res[1]); } else { say(res[1].error || L.failed, "error"); }
    }).catch(function () {
      if (mine === asked) { say(L.failed, "error"); }
    }).then(function () { button.disabled = false; });
  });

  // A household shown for one number is not the household of another: typing a new one takes it away.
  idInput.addEventListener("input", function () {
    if (!panel.hidden) { asked++; panel.hidden = true; result.hidden = true; button.disabled = false; }
  });
})();
