/* The review desk's keyboard shortcuts (admin change page of a prediction):
 *   A  choose "Agrees with the AI" and move to "Save and go to the next" (Enter records it)
 *   C  choose "Corrected" and move to the class to choose
 *   N  go to the next unreviewed result without recording anything
 * Not while typing in a field, and not with Ctrl, Alt or Cmd; the image viewer keeps its
 * own keys (it stops them before they reach this page). Two steps for a verdict, never one:
 * a stray key press must not record anything. */
(function () {
  "use strict";

  function start() {
    var verdict = document.getElementById("id_review_verdict");
    var label = document.getElementById("id_review_label");
    var save = document.getElementById("save-next");
    var next = document.getElementById("review-next");
    var status = document.getElementById("desk-status");

    function say(text) {
      if (status) status.textContent = text;
    }

    document.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
      var target = event.target;
      var tag = target && target.tagName;
      if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable)) {
        return;
      }
      var key = event.key.toLowerCase();
      if (key === "n" && next) {
        event.preventDefault();
        window.location.assign(next.href);
      } else if (key === "a" && verdict && save) {
        event.preventDefault();
        verdict.value = "agree";
        if (label) label.value = "";
        save.focus();
        say('"Agrees with the AI" chosen: press Enter to record it and go to the next.');
      } else if (key === "c" && verdict && label) {
        event.preventDefault();
        verdict.value = "corrected";
        label.focus();
        say('"Corrected" chosen: choose the class you found, then "Save and go to the next".');
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
