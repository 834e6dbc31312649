/* Study upload: a folder (chosen or dropped), several files, a .zip or a NIfTI volume, sent
 * in one request with a progress bar; then the study page. Without JavaScript the form posts
 * the same fields. File names go only into the upload itself (brainscan never stores them). */
(function () {
  "use strict";

  var form = document.getElementById("study-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var folder = document.getElementById("study-folder");
  var picker = document.getElementById("study-files");
  var zone = document.getElementById("study-dropzone");
  var summary = document.getElementById("study-selection");
  var status = document.getElementById("study-status");
  var progress = document.getElementById("study-progress");
  var submit = document.getElementById("study-submit");
  var maxBytes = Number(form.dataset.maxBytes);
  var maxFiles = Number(form.dataset.maxFiles);
  var dropped = [];

  function chosen() {
    return dropped.concat(Array.prototype.slice.call(folder.files), Array.prototype.slice.call(picker.files));
  }

  function describe() {
    var files = chosen();
    var bytes = files.reduce(function (sum, f) { return sum + f.size; }, 0);
    var text = files.length ? files.length + " file" + (files.length === 1 ? "" : "s") + ", " +
      (bytes / 1048576).toFixed(1) + " MB" : "";
    if (files.length > maxFiles) text += ": more than " + maxFiles + " files, the study will be refused";
    else if (bytes > maxBytes) text += ": larger than " + Math.round(maxBytes / 1048576) + " MB, the study will be refused";
    summary.textContent = text;
  }

  folder.addEventListener("change", describe);
  picker.addEventListener("change", describe);

  /* A dropped folder arrives as a directory entry: walk it for its files. */
  function walk(entry) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (file) { resolve([file]); }, function () { resolve([]); });
        return;
      }
      var reader = entry.createReader();
      var all = [];
      var more = function () {
        reader.readEntries(function (entries) {
          if (!entries.length) {
            Promise.all(all.map(walk)).then(function (lists) { resolve([].concat.apply([], lists)); });
            return;
          }
          all = all.concat(Array.prototype.slice.call(entries));
          more();
        }, function () { resolve([]); });
      };
      more();
    });
  }

  BrainscanDom.dropZone(zone, function (event) {
    var items = event.dataTransfer.items;
    var entries = items ? Array.prototype.map.call(items, function (item) {
      return item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
    }).filter(Boolean) : [];
    if (entries.length) {
      Promise.all(entries.map(walk)).then(function (lists) {
        dropped = dropped.concat([].concat.apply([], lists));
        describe();
      });
    } else {
      dropped = dropped.concat(Array.prototype.slice.call(event.dataTransfer.files));
      describe();
    }
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var files = chosen();
    if (!files.length) {
      status.textContent = "Choose the study's folder or files first.";
      return;
    }
    var body = new FormData();
    body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    body.append("case_reference", form.querySelector("[name=case_reference]").value);
    files.forEach(function (file) { body.append("files", file, file.name); });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    progress.hidden = false;
    progress.value = 0;
    submit.disabled = true;
    status.textContent = "Uploading " + files.length + " file" + (files.length === 1 ? "" : "s") + "…";
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) progress.value = (100 * e.loaded) / e.total;
    });
    xhr.upload.addEventListener("load", function () {
      status.textContent = "Uploaded; reading the series…";
    });
    xhr.addEventListener("load", function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: an error page */ }
      if (xhr.status === 201 && answer.url) {
        window.location.assign(answer.url);
        return;
      }
      submit.disabled = false;
      status.textContent = answer.error || "The study was not accepted (HTTP " + xhr.status + ").";
    });
    xhr.addEventListener("error", function () {
      submit.disabled = false;
      status.textContent = "The upload did not reach the server; try again.";
    });
    xhr.send(body);
  });
})();
