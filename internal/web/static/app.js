// The workspace's own script, small on purpose: the pages work without
// it. It makes the finder answer as one types, moves through its results
// with the arrow keys, tells a document too large before sending it, and
// warns before the session's idle time-out.
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
            if (html !== null && mine === seq) {
              results.innerHTML = html;
              rove(links(), 0, false);
              results.dispatchEvent(new Event("emr:renewed"));
            }
          });
      }, 250);
    });
    // The results are a table of links with one tab stop (roving focus):
    // down from the search box enters it, the arrows, Home and End move
    // through it, Enter opens the focused patient (the link's own
    // behaviour), Escape goes back to the search box.
    var links = function () { return Array.prototype.slice.call(results.querySelectorAll("table[data-roving] a.open")); };
    var rove = function (list, i, focus) {
      list.forEach(function (a, j) { a.tabIndex = j === i ? 0 : -1; });
      if (focus && list[i]) { list[i].focus(); }
    };
    rove(links(), 0, false);
    q.addEventListener("keydown", function (e) {
      var list = links();
      if (e.key === "ArrowDown" && list.length) { e.preventDefault(); rove(list, 0, true); }
    });
    results.addEventListener("keydown", function (e) {
      var list = links(), i = list.indexOf(document.activeElement);
      if (i < 0) { return; }
      var to = { ArrowDown: Math.min(i + 1, list.length - 1), ArrowUp: i - 1, Home: 0, End: list.length - 1 }[e.key];
      if (e.key === "Escape" || to === -1) { e.preventDefault(); q.focus(); return; }
      if (to !== undefined) { e.preventDefault(); rove(list, to, true); }
    });
  }
  // A form shown again with errors or a conflict: the summary is read first.
  var summary = document.getElementById("error-summary") || document.getElementById("conflict");
  if (summary) { summary.tabIndex = -1; summary.focus(); }
  // A document too large is told at its field before it is sent: an
  // upload of many megabytes over a slow link, only to be refused, costs
  // minutes. The server checks again.
  var file = document.getElementById("file");
  if (file && file.form && file.dataset.maxBytes) {
    file.form.addEventListener("submit", function (e) {
      var f = file.files && file.files[0];
      if (!f || f.size <= Number(file.dataset.maxBytes)) { return; }
      e.preventDefault();
      var msg = document.getElementById("upload-error");
      if (!msg) {
        msg = document.createElement("p");
        msg.id = "upload-error";
        msg.className = "error";
        msg.setAttribute("role", "alert");
        file.parentNode.insertBefore(msg, file);
      }
      msg.textContent = file.dataset.tooLarge;
      file.setAttribute("aria-describedby", "file-hint upload-error");
      file.setAttribute("aria-invalid", "true");
      file.focus();
    });
  }
  // The idle warning: two minutes before the session's idle time-out (or
  // half-way, for a short one), a dialog offers to stay signed in; at the
  // time-out the page goes to the sign-in form, so that no patient's data
  // stays on an unattended screen. It only navigates: signing out here
  // would end the session a user is still using in another tab.
  var idle = Number(document.body.dataset.idleSeconds || 0);
  var box = document.getElementById("idle");
  if (idle > 0 && box) {
    var lead = Math.min(120, idle / 2), warnTimer, endTimer;
    var arm = function () {
      clearTimeout(warnTimer);
      clearTimeout(endTimer);
      box.hidden = true;
      warnTimer = setTimeout(function () {
        box.hidden = false;
        document.getElementById("idle-stay").focus();
      }, (idle - lead) * 1000);
      endTimer = setTimeout(function () {
        location.replace("/login?notice=expired&next=" + encodeURIComponent(location.pathname + location.search));
      }, idle * 1000);
    };
    // A page that saves as one types (the note editor) says so: the
    // server has renewed the session, so the countdown starts again.
    document.addEventListener("emr:active", arm);
    document.getElementById("idle-stay").addEventListener("click", function () {
      fetch("/account/ping", { method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": document.body.dataset.csrf } }).then(function (r) {
        if (r.ok) { arm(); }
      });
    });
    // The finder's requests renew the session too.
    if (results) { results.addEventListener("emr:renewed", arm); }
    arm();
  }
})();
