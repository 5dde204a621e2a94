/* 亮证码: count down to the code's expiry; when it has expired, blur the code and
   say so. Loaded as a static file (the CSP allows no inline script). The server
   tells how many seconds remain, so a wrong clock on the phone does not matter. */
(function () {
  "use strict";

  var box = document.getElementById("presentation");
  if (!box) {
    return;
  }
  var remaining = parseInt(box.getAttribute("data-remaining"), 10);
  if (isNaN(remaining)) {
    return;
  }
  var deadline = Date.now() + remaining * 1000;
  var left = box.querySelector(".countdown-left");
  var value = box.querySelector(".countdown-value");
  var text = document.getElementById("qr-text");
  var timer = null;

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function expire() {
    box.classList.add("is-expired");
    if (text) {
      text.value = "";
    }
    if (left) {
      left.hidden = true;
    }
    if (timer !== null) {
      window.clearInterval(timer);
      timer = null;
    }
  }

  function tick() {
    var seconds = Math.ceil((deadline - Date.now()) / 1000);
    if (seconds <= 0) {
      expire();
      return;
    }
    if (left && value) {
      left.hidden = false;
      value.textContent = Math.floor(seconds / 60) + ":" + pad(seconds % 60);
    }
    box.classList.toggle("is-ending", seconds <= 15);
  }

  tick();
  if (!box.classList.contains("is-expired")) {
    timer = window.setInterval(tick, 250);
  }
  // a phone that slept: check again as soon as the page is visible
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer !== null) {
      tick();
    }
  });
})();
