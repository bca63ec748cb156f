// Disables an SMS "send" button for the seconds in its data-wait attribute,
// showing the time left. Without JavaScript the server enforces the wait.
document.querySelectorAll("button[data-wait]").forEach(function (button) {
  var left = parseInt(button.getAttribute("data-wait"), 10);
  if (!(left > 0)) return;
  var label = button.textContent;
  button.disabled = true;
  var tick = function () {
    if (left <= 0) { button.disabled = false; button.textContent = label; return; }
    button.textContent = label + " (" + left + ")";
    left -= 1;
    setTimeout(tick, 1000);
  };
  tick();
});
