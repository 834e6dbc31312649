/* Helpers shared by the page scripts, exposed as window.BrainscanDom. Load it before them
 * (both deferred, so they run in document order). */
(function () {
  "use strict";

  /* GET a same-origin JSON endpoint: a promise of the parsed body, rejected on a network
   * error or an answer other than 2xx. */
  function getJson(url) {
    return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  /* While a scan or study is queued or running: GET `url` after `delay` ms, and again, 1.2
   * times later each time (at most 10 s; 10 s after a failed answer), calling
   * `onWaiting(body)` with each answer, until one says `finished`: then reload the page for
   * the result. */
  function pollUntilFinished(url, delay, onWaiting) {
    var poll = function () {
      getJson(url)
        .then(function (body) {
          if (body.finished) {
            window.location.reload();
            return;
          }
          onWaiting(body);
          delay = Math.min(delay * 1.2, 10000);
          window.setTimeout(poll, delay);
        })
        .catch(function () {
          window.setTimeout(poll, 10000);
        });
    };
    window.setTimeout(poll, delay);
  }

  /* File names stay in this browser tab (sessionStorage, gone when the tab closes): a name
   * can identify a patient, so brainscan never stores one. Keyed by scan id. */
  var NAME_KEY = "brainscan.file-name.";

  function rememberFileName(scanId, name) {
    try {
      window.sessionStorage.setItem(NAME_KEY + scanId, name);
    } catch (e) {
      /* storage full or disabled: the page simply shows no name */
    }
  }

  function fileName(scanId) {
    try {
      return window.sessionStorage.getItem(NAME_KEY + scanId);
    } catch (e) {
      return null;
    }
  }

  /* Fill every element marked .js-file-name[data-scan-id] whose name this tab knows. */
  function showFileNames(root) {
    var marks = (root || document).querySelectorAll(".js-file-name[data-scan-id]");
    Array.prototype.forEach.call(marks, function (mark) {
      var name = fileName(mark.dataset.scanId);
      if (!name) return;
      mark.querySelector(".js-name").textContent = name;
      mark.hidden = false;
    });
  }

  /* Signing out forgets the names, so the next person at this tab sees none. */
  function forgetFileNamesOnSignOut() {
    var forms = document.querySelectorAll("form.js-sign-out");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function () {
        try {
          for (var i = window.sessionStorage.length - 1; i >= 0; i--) {
            var key = window.sessionStorage.key(i);
            if (key && key.indexOf(NAME_KEY) === 0) window.sessionStorage.removeItem(key);
          }
        } catch (e) {
          /* nothing stored */
        }
      });
    });
  }

  /* A drop zone for files (the upload pages): marked .dragging while files are held over it,
   * `onDrop(event)` called with the drop. A file dropped next to the zone must not make the
   * browser leave the page to open it. */
  function dropZone(zone, onDrop) {
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "dragend", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () {
        zone.classList.remove("dragging");
      });
    });
    ["dragover", "drop"].forEach(function (name) {
      window.addEventListener(name, function (event) {
        if (!zone.contains(event.target)) event.preventDefault();
      });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      onDrop(event);
    });
  }

  window.BrainscanDom = {
    dropZone: dropZone,
    getJson: getJson,
    pollUntilFinished: pollUntilFinished,
    rememberFileName: rememberFileName,
    fileName: fileName,
    showFileNames: showFileNames
  };
  showFileNames(document);
  forgetFileNamesOnSignOut();
})();
