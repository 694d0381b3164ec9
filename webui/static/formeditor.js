// The form editor: fields edited in the page, the preview and the files made by the server (formrender), saved
// into the draft through the catalog's files endpoint.
(function () {
  "use strict";
  var root = document.getElementById("fe-root");
  if (!root) { return; }
  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  var design = data("fe-design");
  var TYPES = data("fe-types");
  var L = data("fe-labels");
  var list = document.getElementById("fe-fields");
  var preview = document.getElementById("fe-preview");
  var status = document.getElementById("fe-status");
  var files = null;  // the two files' texts from the last accepted preview
  var timer = null;
  var sequence = 0;  // numbers the field cards
  var asked = 0;  // numbers the preview requests, so only the latest answer is shown

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else if (k === "className") { node.className = attrs[k]; }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function value(v) { return v === null || v === undefined ? "" : String(v); }

  function input(field, prop, label, opts) {
    opts = opts || {};
    var id = "fe-" + prop + "-" + field._uid;
    var box = el("input", { type: opts.type || "text", id: id, "data-prop": prop, className: opts.mono ? "mono" : "" });
    if (opts.type === "checkbox") {
      box.checked = field[prop] === true;
      box.addEventListener("change", function () { field[prop] = box.checked; changed(); });
      return el("label", { className: "fe-check" }, [box, document.createTextNode(" " + label)]);
    }
    box.value = value(field[prop]);
    if (opts.inputmode) { box.setAttribute("inputmode", opts.inputmode); }
    box.addEventListener("input", function () { field[prop] = box.value; changed(); });
    return el("div", { className: "fe-input" + (opts.wide ? " fe-wide" : "") },
      [el("label", { "for": id, text: label, className: "label" }), box]);
  }

  function select(field, prop, label, choices) {
    var id = "fe-" + prop + "-" + field._uid;
    var box = el("select", { id: id, "data-prop": prop });
    choices.forEach(function (c) {
      var o = el("option", { value: c[0], text: c[1] });
      if (value(field[prop]) === c[0]) { o.selected = true; }
      box.appendChild(o);
    });
    box.addEventListener("change", function () { field[prop] = box.value; if (prop === "type") { draw(); } changed(); });
    return el("div", { className: "fe-input" }, [el("label", { "for": id, text: label, className: "label" }), box]);
  }

  function options(field) {
    var rows = el("div", { className: "fe-options" }, [el("div", { className: "label", text: L.fe_options })]);
    field.options = field.options || [];
    field.options.forEach(function (option, i) {
      var v = el("input", { type: "text", className: "mono", "aria-label": L.fe_option_value + " " + (i + 1),
        placeholder: L.fe_option_value, "data-option": "value" });
      var t = el("input", { type: "text", "aria-label": L.fe_option_label + " " + (i + 1),
        placeholder: L.fe_option_label, "data-option": "label" });
      v.value = value(option.value); t.value = value(option.label);
      v.addEventListener("input", function () { option.value = v.value; changed(); });
      t.addEventListener("input", function () { option.label = t.value; changed(); });
      var drop = el("button", { type: "button", className: "btn btn-small btn-ghost", text: "✕",
        title: L.fe_remove_option, "aria-label": L.fe_remove_option });
      drop.addEventListener("click", function () { field.options.splice(i, 1); draw(); changed(); });
      rows.appendChild(el("div", { className: "fe-option" }, [v, t, drop]));
    });
    var add = el("button", { type: "button", className: "btn btn-small", text: "＋ " + L.fe_add_option,
      "data-action": "add-option" });
    add.addEventListener("click", function () { field.options.push({ value: "", label: "" }); draw(); changed(); });
    rows.appendChild(add);
    return rows;
  }

  function card(field, i) {
    var kind = field.type;
    var head = el("div", { className: "fe-card-head" }, [
      el("span", { className: "fe-number", text: String(i + 1) }),
      el("strong", { text: field.title || L.fe_untitled }),
      el("span", { className: "mono muted small", text: field.key || "" }),
    ]);
    var tools = el("span", { className: "fe-tools" });
    [["up", "↑", L.fe_up, i > 0], ["down", "↓", L.fe_down, i < design.fields.length - 1],
      ["remove", "✕", L.fe_remove, true]].forEach(function (b) {
      var btn = el("button", { type: "button", className: "btn btn-small btn-ghost", text: b[1], title: b[2],
        "aria-label": b[2] + " " + (field.title || i + 1), "data-action": b[0] });
      btn.disabled = !b[3];
      btn.addEventListener("click", function () { move(i, b[0]); });
      tools.appendChild(btn);
    });
    head.appendChild(tools);
    var typeChoices = Object.keys(TYPES).filter(function (k) { return k !== "raw" || kind === "raw"; })
      .map(function (k) { return [k, TYPES[k]]; });
    var body = [
      el("div", { className: "fe-row" }, [
        input(field, "key", L.fe_key, { mono: true }), input(field, "title", L.fe_label),
        select(field, "type", L.fe_type, typeChoices), input(field, "required", L.fe_required, { type: "checkbox" }),
      ]),
    ];
    if (kind === "raw") {
      body.push(el("pre", { className: "fe-raw mono small", text: JSON.stringify(field.raw, null, 2) }));
      body.push(el("p", { className: "muted small", text: L.fe_raw_note }));
    } else {
      if (kind === "text" || kind === "textarea") {
        var row = [input(field, "min_length", L.fe_min_length, { inputmode: "numeric" }),
          input(field, "max_length", L.fe_max_length, { inputmode: "numeric" }),
          input(field, "pattern", L.fe_pattern, { mono: true, wide: true })];
        if (kind === "textarea") { row.push(input(field, "rows", L.fe_rows, { inputmode: "numeric" })); }
        body.push(el("div", { className: "fe-row" }, row));
      }
      if (kind === "number" || kind === "integer") {
        body.push(el("div", { className: "fe-row" }, [
          input(field, "min", L.fe_min, { inputmode: "decimal" }),
          input(field, "min_exclusive", L.fe_exclusive, { type: "checkbox" }),
          input(field, "max", L.fe_max, { inputmode: "decimal" }),
          input(field, "max_exclusive", L.fe_exclusive, { type: "checkbox" })]));
      }
      if (kind === "choice") { body.push(options(field)); }
      if (kind === "choice" || kind === "yesno") {
        body.push(el("div", { className: "fe-row" }, [select(field, "widget", L.fe_widget,
          [["", L.fe_widget_auto], ["radio", L.fe_widget_radio], ["select", L.fe_widget_select]])]));
      }
      var texts = [input(field, "description", L.fe_description, { wide: true }),
        input(field, "help", L.fe_help, { wide: true })];
      if (["text", "textarea", "number", "integer", "id_number", "phone"].indexOf(kind) >= 0) {
        texts.push(input(field, "placeholder", L.fe_placeholder));
      }
      body.push(el("div", { className: "fe-row" }, texts));
    }
    body.push(el("div", { className: "fe-card-errors", role: "alert" }));
    return el("li", { className: "fe-card", "data-index": String(i), id: "fe-field-" + i }, [head].concat(body));
  }

  function draw() {
    list.textContent = "";
    design.fields.forEach(function (field, i) {
      if (!field._uid) { sequence += 1; field._uid = sequence; }
      list.appendChild(card(field, i));
    });
  }

  function move(i, action) {
    var fields = design.fields;
    if (action === "remove") { fields.splice(i, 1); }
    else {
      var j = action === "up" ? i - 1 : i + 1;
      var moved = fields[i]; fields[i] = fields[j]; fields[j] = moved;
    }
    draw(); changed();
  }

  function blank() {
    return { key: "", title: "", type: "text", required: false, description: "", help: "", placeholder: "",
      min: null, max: null, min_exclusive: false, max_exclusive: false, min_length: null, max_length: null,
      pattern: "", options: [], widget: "", rows: null, extra: {}, ui_extra: {} };
  }

  function sent() {
    // Field numbers in the editor's own bookkeeping stay out of what is sent.
    return JSON.parse(JSON.stringify(design, function (k, v) { return k === "_uid" ? undefined : v; }));
  }

  function sample() {
    var out = {};
    new FormData(preview).forEach(function (v, k) { out[k] = String(v); });
    return out;
  }

  function showErrors(fields) {
    var formBox = document.getElementById("fe-form-errors");
    formBox.textContent = ""; formBox.hidden = true;
    Array.prototype.forEach.call(list.children, function (li) {
      li.classList.remove("has-error");
      li.querySelector(".fe-card-errors").textContent = "";
    });
    Object.keys(fields || {}).forEach(function (where) {
      var target = where === "" ? formBox : (list.children[Number(where)] || {}).querySelector &&
        list.children[Number(where)].querySelector(".fe-card-errors");
      if (!target) { return; }
      if (where === "") { formBox.hidden = false; } else { list.children[Number(where)].classList.add("has-error"); }
      fields[where].forEach(function (m) { target.appendChild(el("div", { className: "field-error", text: m })); });
    });
  }

  function refresh(check) {
    var mine = ++asked;
    var body = { design: sent(), sample: sample(), check: !!check };
    return fetch(root.dataset.preview, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
      body: JSON.stringify(body),
    }).then(function (r) { return r.json().then(function (j) { return [r.status, j]; }); }).then(function (res) {
      if (mine !== asked) { return; }  // a later change has already asked again
      var answer = res[1];
      var result = document.getElementById("fe-sample-result");
      if (res[0] !== 200) {
        files = null;
        showErrors(answer.fields || { "": [answer.error || L.fe_failed] });
        status.textContent = L.fe_has_errors;
        root.classList.add("fe-invalid");
        return;
      }
      files = answer.files;
      showErrors({});
      root.classList.remove("fe-invalid");
      preview.innerHTML = answer.html;  // made by the server's formrender, escaped there
      result.textContent = answer.sample_errors === null ? "" :
        (answer.sample_errors ? L.fe_sample_bad.replace("{n}", answer.sample_errors) : L.fe_sample_ok);
      if (status.textContent === L.fe_has_errors) { status.textContent = ""; }
    }).catch(function () { status.textContent = L.fe_failed; });
  }

  function changed() {
    files = null;
    status.textContent = L.fe_unsaved;
    clearTimeout(timer);
    timer = setTimeout(function () { timer = null; refresh(false); }, 350);
    var heads = list.querySelectorAll(".fe-card");
    design.fields.forEach(function (f, i) {
      if (!heads[i]) { return; }
      heads[i].querySelector(".fe-card-head strong").textContent = f.title || L.fe_untitled;
      heads[i].querySelector(".fe-card-head .mono").textContent = f.key || "";
    });
  }

  function save() {
    // The preview already made the files of what is on screen unless something changed since.
    var ready = files && !timer ? Promise.resolve() : refresh(false);
    clearTimeout(timer);
    timer = null;
    ready.then(function () {
      if (!files) { status.textContent = L.fe_has_errors; return; }
      status.textContent = L.fe_saving;
      return fetch(root.dataset.save, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf },
        body: JSON.stringify({ files: files }),
      }).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) { status.textContent = L.fe_save_failed + (j.error ? "：" + j.error : ""); return; }
          var mine = Object.keys(files);
          var problems = (j.problems || []).filter(function (p) {
            return mine.some(function (path) { return String(p.file || "").indexOf(path) >= 0; });
          });
          status.textContent = L.fe_saved + (problems.length ? " · " + L.fe_saved_problems.replace("{n}", problems.length) : "");
        });
      }).catch(function () { status.textContent = L.fe_save_failed; });
    });
  }

  var title = document.getElementById("fe-form-title");
  var description = document.getElementById("fe-form-description");
  title.value = design.title || ""; description.value = design.description || "";
  title.addEventListener("input", function () { design.title = title.value; changed(); });
  description.addEventListener("input", function () { design.description = description.value; changed(); });
  document.getElementById("fe-extra-note").hidden = !Object.keys(design.extra || {}).length;
  document.getElementById("fe-add").addEventListener("click", function () {
    design.fields.push(blank()); draw(); changed();
    var cards = list.querySelectorAll(".fe-card");
    cards[cards.length - 1].querySelector("[data-prop=key]").focus();
  });
  document.getElementById("fe-try").addEventListener("click", function () {
    clearTimeout(timer); timer = null; refresh(true);
  });
  document.getElementById("fe-save").addEventListener("click", save);
  preview.addEventListener("submit", function (e) { e.preventDefault(); });
  draw();
  refresh(false);
})();
