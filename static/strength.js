// A live hint of password strength while typing. The server decides (with
// a full estimate); this is only a guide: length and variety of characters.
(function () {
  var input = document.getElementById("new");
  var meter = document.getElementById("strength-meter");
  if (!input || !meter) return;
  var label = meter.querySelector("span");
  var update = function () {
    var v = input.value, kinds = 0;
    [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].forEach(function (r) { if (r.test(v)) kinds += 1; });
    var level = "weak";
    if (v.length >= 12 && kinds >= 3) level = "strong";
    else if (v.length >= 10 && kinds >= 3) level = "medium";
    label.textContent = meter.getAttribute("data-" + level);
    meter.setAttribute("data-level", level);
  };
  input.addEventListener("input", update);
  update();
})();
