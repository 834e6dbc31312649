/* Batch page: poll the batch's status JSON and update each row in place until every slice
 * is finished. Polls every 2 s, slowing to 10 s for long batches or a failing connection. */
(function () {
  "use strict";

  var table = document.getElementById("batch-table");
  if (!table || !window.fetch) return;

  var url = table.dataset.statusUrl;
  var summary = document.getElementById("batch-summary");
  var bar = document.getElementById("batch-bar");
  var delay = 2000;
  var MAX_DELAY = 10000;
  var lastSummary = "";

  function poll() {
    window.BrainscanDom.getJson(url)
      .then(function (data) {
        var finished = update(data.scans);
        if (finished < data.scans.length) {
          delay = Math.min(delay * 1.15, MAX_DELAY);
          window.setTimeout(poll, delay);
        }
      })
      .catch(function () {
        setSummary("Cannot reach the server right now; retrying…");
        delay = MAX_DELAY;
        window.setTimeout(poll, delay);
      });
  }

  function update(scans) {
    var counts = { done: 0, rejected: 0, failed: 0 };
    scans.forEach(function (scan) {
      if (scan.status in counts) counts[scan.status]++;
      var row = table.querySelector('tr[data-scan="' + scan.id + '"]');
      if (!row) return;
      var pill = row.querySelector(".js-status .status");
      if (pill && pill.dataset.status !== scan.status) {
        pill.className = "status status-" + scan.status;
        pill.dataset.status = scan.status;
        pill.textContent = scan.status_display;
      }
      var result = row.querySelector(".js-result");
      var text = scan.label ? scan.label_display + " · " + scan.risk_display + " risk" : scan.error || "";
      if (result.textContent !== text) result.textContent = text;
    });
    var finished = counts.done + counts.rejected + counts.failed;
    bar.value = finished;
    var text = finished + " of " + scans.length + " analysed";
    if (counts.rejected) text += " · " + counts.rejected + " not accepted as brain MRI";
    if (counts.failed) text += " · " + counts.failed + " failed";
    setSummary(text + (finished === scans.length ? ". All done." : "; this list updates by itself."));
    return finished;
  }

  function setSummary(text) {
    if (text === lastSummary) return; // a live region must not repeat itself every 2 s
    lastSummary = text;
    summary.textContent = text;
  }

  poll();
})();
