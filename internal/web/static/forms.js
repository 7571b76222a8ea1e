// Structured forms: an item whose enableWhen is not met is hidden and its
// inputs disabled, so it is neither seen nor sent; the server applies the
// same rules to what arrives (questionnaire.Evaluate), so the form is
// right without the script too.
"use strict";
(function () {
  var form = document.querySelector("form.qform");
  if (!form) { return; }
  var answers = function (linkId) {
    var out = [];
    Array.prototype.forEach.call(form.querySelectorAll("[name='" + linkId.replace(/'/g, "\\'") + "']"), function (el) {
      if (el.disabled) { return; }
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) { return; }
      if (el.value.trim() !== "") { out.push(el.value.trim()); }
    });
    return out;
  };
  var holds = function (c) {
    var got = answers(c.q);
    switch (c.op) {
      case "exists": return (got.length > 0) === (c.a === "true");
      case "=": return got.indexOf(c.a) >= 0;
      case "!=": return got.length > 0 && got.indexOf(c.a) < 0;
      case ">": return got.some(function (v) { return Number(v) > Number(c.a); });
      case "<": return got.some(function (v) { return Number(v) < Number(c.a); });
      case ">=": return got.some(function (v) { return Number(v) >= Number(c.a); });
      case "<=": return got.some(function (v) { return Number(v) <= Number(c.a); });
    }
    return true;
  };
  var items = Array.prototype.slice.call(form.querySelectorAll("[data-enable-when]"));
  var update = function () {
    items.forEach(function (item) {
      var conds = JSON.parse(item.dataset.enableWhen);
      var on = item.dataset.behavior === "any" ? conds.some(holds) : conds.every(holds);
      item.hidden = !on;
      Array.prototype.forEach.call(item.querySelectorAll("input, textarea, select"), function (el) { el.disabled = !on; });
    });
  };
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
  update(); // an item enabled by one the first pass enabled
})();
