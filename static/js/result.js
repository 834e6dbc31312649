/* Result page: heatmap opacity slider and toggle, print button, and while the analysis is
 * still queued or running, a poll that reloads the page once the result is ready. */
(function () {
  "use strict";

  var layer = document.getElementById("overlay-layer");
  var slider = document.getElementById("overlay-opacity");
  var output = document.getElementById("opacity-value");
  var toggle = document.getElementById("overlay-toggle");
  var printButton = document.getElementById("print-report");
  var pending = document.getElementById("pending-card");
  var lastOpacity = 100;

  if (layer && slider) {
    slider.addEventListener("input", function () {
      setOpacity(parseInt(slider.value, 10));
    });
    toggle.addEventListener("click", function () {
      var hidden = toggle.getAttribute("aria-pressed") === "true";
      setOpacity(hidden ? lastOpacity || 100 : 0);
    });
  }

  function setOpacity(value) {
    if (value > 0) lastOpacity = value;
    layer.style.opacity = String(value / 100);
    slider.value = String(value);
    output.textContent = value + "\u00a0%";
    toggle.setAttribute("aria-pressed", value === 0 ? "true" : "false");
    toggle.textContent = value === 0 ? "Show heatmap" : "Hide heatmap";
  }

  if (printButton) {
    printButton.addEventListener("click", function () {
      window.print();
    });
  }

  if (pending && window.fetch) {
    var url = pending.dataset.statusUrl;
    var delay = 2000;
    var poll = function () {
      window.BrainscanDom.getJson(url)
        .then(function (scan) {
          if (scan.finished) {
            window.location.reload();
            return;
          }
          document.getElementById("pending-text").textContent =
            "Status: " + scan.status_display + ". The page shows the result by itself when it is ready.";
          delay = Math.min(delay * 1.2, 10000);
          window.setTimeout(poll, delay);
        })
        .catch(function () {
          window.setTimeout(poll, 10000);
        });
    };
    window.setTimeout(poll, delay);
  }
})();
