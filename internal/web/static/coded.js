// Coded entry: as the clinician types a problem or a substance, the terms
// of the code systems the server holds are offered under the field as
// buttons; one picked codes the entry (the hidden system, code and
// display), typing again uncodes it. Without the script the term is sent
// as typed and coded on the server only if it is a term's exact display.
"use strict";
(function () {
  var form = document.querySelector("form.coded");
  if (!form) { return; }
  var term = document.getElementById("term");
  var box = document.getElementById("term-options");
  var chosen = document.getElementById("term-chosen");
  var hidden = function (name) { return form.querySelector("input[name=" + name + "]"); };
  var timer = null, seq = 0;
  var uncode = function () {
    hidden("system").value = hidden("code").value = hidden("display").value = "";
    chosen.hidden = true;
  };
  term.addEventListener("input", function () {
    uncode();
    clearTimeout(timer);
    timer = setTimeout(function () {
      var mine = ++seq, text = term.value.trim();
      if (text.length < 2) { box.innerHTML = ""; return; }
      fetch("/terminology?kind=" + encodeURIComponent(form.dataset.kind) + "&q=" + encodeURIComponent(text), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null && mine === seq) { box.innerHTML = html; }
        });
    }, 250);
  });
  // Down from the field enters the list; the arrows move in it; Escape
  // goes back.
  term.addEventListener("keydown", function (e) {
    var first = box.querySelector("button.option");
    if (e.key === "ArrowDown" && first) { e.preventDefault(); first.focus(); }
  });
  box.addEventListener("keydown", function (e) {
    var list = Array.prototype.slice.call(box.querySelectorAll("button.option"));
    var i = list.indexOf(document.activeElement);
    if (i < 0) { return; }
    if (e.key === "ArrowDown" && list[i + 1]) { e.preventDefault(); list[i + 1].focus(); }
    if (e.key === "ArrowUp") { e.preventDefault(); (list[i - 1] || term).focus(); }
    if (e.key === "Escape") { e.preventDefault(); term.focus(); }
  });
  box.addEventListener("click", function (e) {
    var b = e.target.closest("button.option");
    if (!b) { return; }
    hidden("system").value = b.dataset.system;
    hidden("code").value = b.dataset.code;
    hidden("display").value = b.dataset.display;
    term.value = b.dataset.display;
    chosen.textContent = chosen.dataset.template.replace("{0}", b.textContent.trim().replace(/\s+/g, " "));
    chosen.hidden = false;
    box.innerHTML = "";
    term.focus();
  });
})();
