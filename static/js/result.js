/* Result page: the print button, the "heatmap hidden" note (the viewer itself is
 * js/viewer.js), and while the analysis is still queued or running, a poll that reloads the
 * page once the result is ready. */
(function () {
  "use strict";

  var printButton = document.getElementById("print-report");
  var pending = document.getElementById("pending-card");
  var hiddenNote = document.getElementById("heatmap-hidden-note");
  var viewer = document.getElementById("result-viewer");

  /* The note "the heatmap is hidden because the answer is no tumour" goes once it is shown. */
  if (viewer && hiddenNote) {
    viewer.addEventListener("bsv:overlay", function (event) {
      hiddenNote.hidden = event.detail.visible;
    });
  }

  if (printButton) {
    printButton.addEventListener("click", function () {
      window.print();
    });
  }

  if (pending && window.fetch) {
    window.BrainscanDom.pollUntilFinished(pending.dataset.statusUrl, 2000, function (scan) {
      document.getElementById("pending-text").textContent =
        "Status: " + scan.status_display + ". The page shows the result by itself when it is ready.";
    });
  }
})();
