// The note editor: it saves the draft as the clinician types (1.5 s after
// typing stops, and every 10 s while it goes on), says whether the text
// is saved, warns before leaving with a save outstanding, and offers
// dictation where the browser can recognise speech. The form works
// without it (Save draft and Sign post the text).
"use strict";
(function () {
  var form = document.getElementById("note-form");
  if (!form) { return; }
  var state = document.getElementById("save-state");
  var version = document.getElementById("note-version");
  var csrf = form.querySelector("input[name=csrf]").value;
  var dirty = false, busy = false, pause = null, longest = null, stopped = false;
  // submitting: the form is being posted (Save draft, Sign), so leaving
  // the page is expected; then: a submit waiting for a save in flight,
  // which would otherwise post the version before it.
  var submitting = false, then = null;
  var settled = function () {
    busy = false;
    if (then) { var f = then; then = null; f(); }
  };

  var say = function (text) { state.textContent = text; };
  var save = function (leaving) {
    clearTimeout(pause);
    clearTimeout(longest);
    longest = null;
    if (!dirty || stopped) { return; }
    if (busy && !leaving) { pause = setTimeout(save, 500); return; }
    busy = true;
    dirty = false;
    say(state.dataset.saving);
    var body = new URLSearchParams(new FormData(form));
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin", keepalive: !!leaving,
      headers: { "X-Autosave": "1", "X-CSRF-Token": csrf } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, status: r.status, j: j }; }); })
      .then(function (a) {
        if (a.ok) {
          version.value = String(a.j.version);
          say(a.j.saved);
          document.dispatchEvent(new Event("emr:active"));
          if (dirty) { schedule(); }
        } else {
          // A conflict or a refusal: stop saving over the other change;
          // the text stays in the page for the clinician to keep.
          stopped = true;
          dirty = true;
          say(a.j.error || state.dataset.unsaved);
          state.setAttribute("role", "alert");
        }
        settled();
      })
      .catch(function () {
        dirty = true;
        say(state.dataset.offline);
        pause = setTimeout(save, 5000);
        settled();
      });
  };
  var schedule = function () {
    clearTimeout(pause);
    pause = setTimeout(save, 1500);
    if (longest === null) { longest = setTimeout(save, 10000); }
  };
  form.addEventListener("input", function () {
    dirty = true;
    if (!stopped) { say(state.dataset.unsaved); schedule(); }
  });
  // Signing or saving by the buttons posts the form itself, once any
  // save in flight has answered (its version is the one to post on).
  form.addEventListener("submit", function (e) {
    if (busy) {
      e.preventDefault();
      var by = e.submitter;
      then = function () { if (by) { form.requestSubmit(by); } else { form.requestSubmit(); } };
      return;
    }
    submitting = true;
    dirty = false;
    clearTimeout(pause);
    clearTimeout(longest);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { save(true); }
  });
  window.addEventListener("beforeunload", function (e) {
    if (!submitting && (dirty || busy)) { save(true); e.preventDefault(); e.returnValue = ""; }
  });

  // Dictation: only where the browser has speech recognition; the
  // buttons stay hidden elsewhere.
  var Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
  if (!Recognition) { return; }
  var active = null;
  Array.prototype.forEach.call(form.querySelectorAll("button.dictate"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      if (active) { active.stop(); return; }
      var area = document.getElementById(button.dataset.for);
      var rec = new Recognition();
      rec.lang = document.documentElement.lang || "en";
      rec.continuous = true;
      rec.interimResults = false;
      rec.onresult = function (e) {
        for (var i = e.resultIndex; i < e.results.length; i++) {
          if (e.results[i].isFinal) {
            var text = e.results[i][0].transcript.trim();
            area.value += (area.value && !/\s$/.test(area.value) ? " " : "") + text;
            area.dispatchEvent(new Event("input", { bubbles: true }));
          }
        }
      };
      rec.onend = function () { active = null; button.setAttribute("aria-pressed", "false"); };
      active = rec;
      button.setAttribute("aria-pressed", "true");
      rec.start();
      area.focus();
    });
  });
})();
