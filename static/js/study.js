/* Study page: while the study is analysed, poll its status and show the progress, then
 * reload for the result; mount the slice browser on the study's slices, starting at the
 * slice that drives the result, and let the plot's points and the "slices that drive it"
 * buttons jump to a slice. */
(function () {
  "use strict";

  var pending = document.getElementById("study-pending");
  if (pending && window.fetch) {
    var bar = document.getElementById("study-progress-bar");
    var text = document.getElementById("study-progress-text");
    window.BrainscanDom.pollUntilFinished(pending.dataset.statusUrl, 1000, function (study) {
      bar.max = study.slices_total;
      bar.value = study.slices_analysed;
      text.textContent = study.slices_analysed + " of " + study.slices_total +
        " slices analysed (" + study.status_display + "). The page shows the result by itself when it is ready.";
    });
  }

  var root = document.getElementById("slice-browser");
  var data = document.getElementById("slice-browser-data");
  if (!root || !data || !window.BrainscanSliceBrowser || !window.BrainscanViewer) return;
  var slices = JSON.parse(data.textContent);
  var cursor = document.getElementById("plot-cursor");
  var points = {};
  Array.prototype.forEach.call(document.querySelectorAll("#study-plot .point"), function (point) {
    points[point.dataset.go] = point;
  });
  var driving = slices.filter(function (s) { return s.driving; });
  var start = driving.length ? slices.indexOf(driving[0]) : 0;
  var browser = window.BrainscanSliceBrowser.mount(root, slices, {
    start: start,
    onChange: function (i, slice) {
      var point = points[String(slice.index)];
      if (cursor) {
        cursor.setAttribute("cx", point ? point.getAttribute("cx") : "-10");
        cursor.setAttribute("cy", point ? point.getAttribute("cy") : "-10");
      }
    },
  });
  var byIndex = {};
  slices.forEach(function (s, i) { byIndex[s.index] = i; });
  Array.prototype.forEach.call(document.querySelectorAll("[data-go]"), function (el) {
    el.addEventListener("click", function () {
      browser.go(byIndex[el.dataset.go]);
      browser.focus();
    });
  });
})();
