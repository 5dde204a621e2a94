// The SMS code page: a "重新发送" button that waits counts down and becomes usable
// when the server allows a new code (the server checks the limit again).
(function () {
  "use strict";
  document.querySelectorAll("button[data-wait-seconds]").forEach(function (button) {
    var until = Date.now() + parseInt(button.getAttribute("data-wait-seconds"), 10) * 1000;
    var waiting = button.getAttribute("data-wait-label") || "{s}";
    var ready = button.getAttribute("data-ready-label") || button.textContent;
    function tick() {
      var left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) {
        button.disabled = false;
        button.textContent = ready;
        return;
      }
      button.textContent = waiting.replace("{s}", String(left));
      window.setTimeout(tick, 250);
    }
    tick();
  });
})();
