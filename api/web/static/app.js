// Progressive enhancement only: every page works without this script.
// 1. The error summary takes focus, so screen readers announce it.
// 2. The account menu (a <details>) closes on Escape or a click elsewhere.
// 3. Before the session times out, a warning offers to stay signed in; what
//    the person typed is never lost (forms post to the server, which keeps it).
(function () {
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  var menu = document.getElementById("account-menu");
  if (menu) {
    document.addEventListener("click", function (e) {
      if (menu.open && !menu.contains(e.target)) { menu.open = false; }
    });
    menu.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  }

  var box = document.getElementById("session-timeout");
  if (!box) { return; }
  var seconds = parseInt(box.getAttribute("data-seconds"), 10);
  if (!seconds) { return; }
  var warnBefore = Math.min(120, seconds / 4);
  var timer;
  function arm() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      box.hidden = false;
      var button = box.querySelector("button");
      if (button) { button.focus(); }
    }, (seconds - warnBefore) * 1000);
  }
  box.querySelector("button").addEventListener("click", function () {
    fetch("/session/keepalive", { method: "GET", credentials: "same-origin" }).then(function () {
      box.hidden = true;
      arm();
    });
  });
  arm();
})();
