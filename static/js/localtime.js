/* Times in the reader's own time zone, with the zone shown. The server writes each time as
 * <time class="js-local-time" datetime="ISO 8601"> in the site's zone ("2026-12-03 13:20
 * UTC"); this rewrites it in the browser's zone ("2026-12-03 14:20 CET") and names the full
 * zone in a tooltip. Elements .js-zone get the zone's short name. Without JavaScript the
 * site's zone stays, named. */
(function () {
  "use strict";

  if (!window.Intl || !Intl.DateTimeFormat) return;
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  var format = new Intl.DateTimeFormat("en-GB", {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short"
  });

  function text(date) {
    var parts = {};
    format.formatToParts(date).forEach(function (part) {
      parts[part.type] = part.value;
    });
    return (
      parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute +
      " " + (parts.timeZoneName || "")
    ).trim();
  }

  function shortZone() {
    var parts = format.formatToParts(new Date());
    for (var i = 0; i < parts.length; i++) {
      if (parts[i].type === "timeZoneName") return parts[i].value;
    }
    return zone;
  }

  Array.prototype.forEach.call(document.querySelectorAll("time.js-local-time[datetime]"), function (node) {
    var date = new Date(node.getAttribute("datetime"));
    if (isNaN(date.getTime())) return;
    node.textContent = text(date);
    if (zone) node.title = "Your time zone: " + zone;
  });
  Array.prototype.forEach.call(document.querySelectorAll(".js-zone"), function (node) {
    node.textContent = shortZone() + (zone ? " (" + zone + ")" : "");
  });
})();
