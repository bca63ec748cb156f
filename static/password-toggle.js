// Show/hide buttons for password fields (progressive: without this script
// the fields stay plain password fields and the buttons are never shown).
(function () {
  document.querySelectorAll("button.password-toggle[data-for]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-for"));
    if (!field) { return; }
    var show = button.getAttribute("data-show");
    var hide = button.getAttribute("data-hide");
    var showLabel = button.getAttribute("data-show-label");
    var hideLabel = button.getAttribute("data-hide-label");
    function draw(visible) {
      field.type = visible ? "text" : "password";
      button.setAttribute("aria-pressed", visible ? "true" : "false");
      button.setAttribute("aria-label", visible ? hideLabel : showLabel);
      button.textContent = visible ? hide : show;
    }
    button.hidden = false;
    draw(false);
    button.addEventListener("click", function () { draw(field.type === "password"); });
  });
})();
