/* 核验: scan a 亮证 QR code with the camera (getUserMedia + the vendored jsQR),
   put its text into the form and submit it. Without a camera, JavaScript or
   permission the page still works: upload a picture or paste the text. */
(function () {
  "use strict";

  var form = document.getElementById("verify-form");
  var card = document.getElementById("scan-card");
  if (!form || !card) {
    return;
  }
  var words = document.getElementById("scan-messages");
  var status = document.getElementById("scan-status");
  var view = document.getElementById("scan-view");
  var video = document.getElementById("scan-video");
  var canvas = document.getElementById("scan-canvas");
  var start = document.getElementById("scan-start");
  var stop = document.getElementById("scan-stop");
  var field = form.querySelector("textarea[name='qr_text']");
  var stream = null;
  var frame = null;
  var context = null;

  function say(key) {
    status.textContent = words ? words.getAttribute("data-" + key) || "" : "";
  }

  var supported =
    typeof window.jsQR === "function" &&
    navigator.mediaDevices &&
    typeof navigator.mediaDevices.getUserMedia === "function";
  card.hidden = false;
  if (!supported) {
    start.hidden = true;
    say("unsupported");
    return;
  }

  function halt() {
    if (frame !== null) {
      window.cancelAnimationFrame(frame);
      frame = null;
    }
    if (stream) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
      stream = null;
    }
    video.srcObject = null;
    view.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  function found(text) {
    halt();
    say("found");
    field.value = text;
    form.submit();
  }

  function scan() {
    frame = null;
    if (!stream) {
      return;
    }
    if (video.readyState === video.HAVE_ENOUGH_DATA && video.videoWidth > 0) {
      // decode a reduced copy: fast enough on phones, still sharp for a full-screen code
      var scale = Math.min(1, 800 / Math.max(video.videoWidth, video.videoHeight));
      var width = Math.round(video.videoWidth * scale);
      var height = Math.round(video.videoHeight * scale);
      canvas.width = width;
      canvas.height = height;
      context = context || canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, width, height);
      var image = context.getImageData(0, 0, width, height);
      var code = window.jsQR(image.data, width, height, { inversionAttempts: "attemptBoth" });
      if (code && code.data) {
        found(code.data);
        return;
      }
    }
    frame = window.requestAnimationFrame(scan);
  }

  start.addEventListener("click", function () {
    say("starting");
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.setAttribute("playsinline", "");
        view.hidden = false;
        start.hidden = true;
        stop.hidden = false;
        return video.play();
      })
      .then(function () {
        say("scanning");
        frame = window.requestAnimationFrame(scan);
      })
      .catch(function () {
        halt();
        say("denied");
      });
  });

  stop.addEventListener("click", function () {
    halt();
    status.textContent = "";
  });

  window.addEventListener("pagehide", halt);
})();
