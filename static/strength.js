// The strength meter of the new-password forms. It asks the server, which
// runs the same policy as the form's submit (POST /password/check), so it
// never calls a password acceptable that the server would refuse: while
// an answer for the current text is outstanding no level is shown, and an
// empty field shows none. The repeat field is compared live.
(function () {
  var box = document.querySelector("[data-check]");
  if (!box) return;
  var form = box.closest("form");
  var input = document.getElementById("new");
  var repeat = document.getElementById("repeat");
  var meter = document.getElementById("strength-meter");
  var level = document.getElementById("strength-level");
  var mismatch = document.getElementById("mismatch");
  var rules = box.querySelectorAll("li[data-rule]");
  if (!form || !input || !repeat || !meter || !level || !mismatch) return;
  var asked = 0, timer = null;
  meter.hidden = false;

  var field = function (name) {
    var f = form.elements[name];
    return f && f.value ? f.value : "";
  };

  // verdict: the server's answer, or null for "no verdict".
  var show = function (verdict) {
    var lv = verdict && verdict.level ? verdict.level : "";
    meter.setAttribute("data-level", lv);
    meter.setAttribute("data-acceptable", verdict && verdict.acceptable ? "true" : "false");
    level.textContent = lv ? meter.getAttribute("data-" + lv) : "";
    var ok = {};
    if (verdict) verdict.rules.forEach(function (r) { ok[r.rule] = r.ok; });
    Array.prototype.forEach.call(rules, function (li) {
      var met = ok[li.getAttribute("data-rule")] === true;
      var said = li.querySelector(".sr-only");
      li.setAttribute("data-ok", verdict ? String(met) : "");
      if (said) said.textContent = verdict ? said.getAttribute(met ? "data-met" : "data-unmet") : "";
    });
  };

  var ask = function () {
    var mine = ++asked;
    var body = new URLSearchParams();
    body.set("csrf", field("csrf"));
    body.set("new", input.value);
    body.set("token", field("token"));
    fetch(box.getAttribute("data-check"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      if (!r.ok) throw new Error("status " + r.status);
      return r.json();
    }).then(function (verdict) {
      if (mine === asked) show(verdict);
    }).catch(function () {
      if (mine !== asked) return;
      show(null);
      level.textContent = meter.getAttribute("data-unavailable");
    });
  };

  var compare = function () {
    var differ = repeat.value !== "" && repeat.value !== input.value;
    mismatch.textContent = differ ? mismatch.getAttribute("data-text") : "";
    repeat.setAttribute("aria-invalid", differ ? "true" : "false");
  };

  input.addEventListener("input", function () {
    asked += 1; // an answer on its way is for an older text
    clearTimeout(timer);
    show(null);
    if (input.value !== "") timer = setTimeout(ask, 250);
    compare();
  });
  repeat.addEventListener("input", compare);
  if (input.value !== "") ask();
})();
