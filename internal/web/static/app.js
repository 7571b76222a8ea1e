// The workspace's own script, small on purpose: the pages work without
// it. It makes the finder answer as one types and warns before the
// session's idle time-out.
"use strict";
(function () {
  var finder = document.getElementById("finder");
  var q = document.getElementById("q");
  var results = document.getElementById("results");
  if (finder && q && results) {
    var timer = null, seq = 0;
    q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var mine = ++seq;
        var text = q.value.trim();
        if (text.length < 2) { return; }
        fetch("/?partial=1&q=" + encodeURIComponent(text), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (html !== null && mine === seq) { results.innerHTML = html; }
          });
      }, 250);
    });
  }
  var idle = Number(document.body.dataset.idleSeconds || 0);
  var box = document.getElementById("idle");
  if (idle > 120 && box) {
    var warnAt = (idle - 120) * 1000, warnTimer;
    var arm = function () {
      clearTimeout(warnTimer);
      warnTimer = setTimeout(function () {
        var p = document.getElementById("idle-text");
        p.textContent = p.dataset.template.replace("{m}", "2");
        box.hidden = false;
        document.getElementById("idle-stay").focus();
      }, warnAt);
    };
    document.getElementById("idle-stay").addEventListener("click", function () {
      fetch("/account/ping", { method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": document.body.dataset.csrf } }).then(function () {
        box.hidden = true; arm();
      });
    });
    arm();
  }
})();
