/* Upload page: pick or drop many slices, see thumbnails, send one file per request with its
 * own progress bar and the server's own verdict. Without JavaScript the form still posts
 * all files at once to the same page.
 *
 * Each file carries its place in the selection ("position"), so the batch page and the CSV
 * number slices in the order they were chosen whatever order the requests arrive in. A file
 * this account uploaded before (same SHA-256) is answered 409 and not stored: the list says
 * so, links to the earlier result and offers to upload it again. The file name of each
 * stored scan is kept in this tab only (BrainscanDom.rememberFileName), never on the server. */
(function () {
  "use strict";

  var form = document.getElementById("upload-form");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;

  var input = document.getElementById("id_images");
  var dropzone = document.getElementById("dropzone");
  var panel = document.getElementById("file-panel");
  var list = document.getElementById("file-list");
  var summary = document.getElementById("file-summary");
  var statusLine = document.getElementById("upload-status");
  var submitButton = document.getElementById("upload-button");
  var batchLink = document.getElementById("batch-link");
  var template = document.getElementById("file-item-template");
  var caseInput = document.getElementById("id_case_reference");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  var fileUrl = form.dataset.fileUrl;
  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var maxFiles = parseInt(form.dataset.maxFiles, 10);
  var PARALLEL = 3; // enough to hide latency without queueing the whole batch at the server
  var PREVIEWABLE = ["image/jpeg", "image/png", "image/webp"];
  var accept = (input.getAttribute("accept") || "").split(",").map(function (s) {
    return s.trim().toLowerCase();
  });

  var items = [];
  var overLimit = 0; // files chosen beyond maxFiles: never listed, but counted in the summary
  var batch = newBatchId(); // one batch per visit of this page: retries join the same batch
  var sending = false;

  document.documentElement.classList.add("js");
  input.removeAttribute("required");

  // Leaving mid-upload would drop the files not sent yet: the browser asks first.
  window.addEventListener("beforeunload", function (event) {
    if (!sending) return;
    event.preventDefault();
    event.returnValue = "";
  });

  input.addEventListener("change", function () {
    addFiles(input.files);
    input.value = ""; // choosing the same file again must fire "change" again
  });

  BrainscanDom.dropZone(dropzone, function (event) {
    if (event.dataTransfer && event.dataTransfer.files) addFiles(event.dataTransfer.files);
  });

  document.getElementById("clear-files").addEventListener("click", function () {
    overLimit = 0;
    items.slice().forEach(function (item) {
      if (item.state !== "uploading" && item.state !== "checking") removeItem(item);
    });
    input.focus();
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return;
    var queue = items.filter(function (item) {
      return item.state === "ready" || item.state === "error";
    });
    queue.forEach(function (item) {
      if (!item.position) item.position = items.indexOf(item) + 1; // kept for a retry
    });
    if (!queue.length) {
      say(items.length ? "There is nothing left to send." : "Choose at least one slice first.");
      input.focus();
      return;
    }
    sendAll(queue);
  });

  function addFiles(fileList) {
    var files = Array.prototype.slice.call(fileList || []);
    var room = maxFiles - items.length;
    if (files.length > room) {
      var left = files.length - Math.max(room, 0);
      overLimit += left;
      say("At most " + maxFiles + " files per upload: " + left +
          " file(s) were not added. Upload the rest afterwards.");
      files = files.slice(0, Math.max(room, 0));
    }
    files.forEach(function (file) {
      items.push(makeItem(file));
    });
    refresh();
  }

  function makeItem(file) {
    var li = template.content.firstElementChild.cloneNode(true);
    var item = { file: file, li: li, state: "ready", url: null };
    li.querySelector(".file-name").textContent = file.name;
    li.querySelector(".js-remove-name").textContent = " " + file.name;
    li.querySelector(".file-meta").textContent = sizeText(file.size) + " · " + kindOf(file);
    li.querySelector(".file-progress").setAttribute("aria-label", "Upload of " + file.name);
    var img = li.querySelector("img");
    var noPreview = function () {
      img.remove();
      li.querySelector(".thumb-kind").textContent = kindOf(file);
    };
    if (PREVIEWABLE.indexOf((file.type || "").toLowerCase()) >= 0) {
      item.url = URL.createObjectURL(file);
      img.addEventListener("error", noPreview); // named like an image, but it is not one
      img.src = item.url;
    } else {
      noPreview();
    }
    li.querySelector(".remove-file").addEventListener("click", function () {
      removeItem(item);
      (list.querySelector(".remove-file") || input).focus();
    });
    var hint = clientHint(file);
    if (hint) setState(item, "invalid", hint);
    else setState(item, "ready", "Ready to upload.");
    list.appendChild(li);
    return item;
  }

  /* A hint only: the server decodes every file and has the last word. */
  function clientHint(file) {
    if (file.size > maxBytes) return "Too large: the limit is " + sizeText(maxBytes) + " per file.";
    if (file.size === 0) return "This file is empty.";
    var type = (file.type || "").toLowerCase();
    var ext = "." + (file.name.split(".").pop() || "").toLowerCase();
    var known = accept.indexOf(type) >= 0 || accept.indexOf(ext) >= 0;
    if (type && !known && !/\.(dcm|dicom|tif|tiff)$/i.test(file.name)) {
      return "Not a supported type (" + type + "): upload JPEG, PNG, WEBP, TIFF or DICOM slices.";
    }
    return "";
  }

  function removeItem(item) {
    if (item.url) URL.revokeObjectURL(item.url);
    item.li.remove();
    items.splice(items.indexOf(item), 1);
    refresh();
  }

  function setState(item, state, message) {
    item.state = state;
    item.li.dataset.state = state;
    item.li.querySelector(".file-state").textContent = message;
    item.li.querySelector(".remove-file").hidden =
      state === "uploading" || state === "checking" || state === "done";
  }

  function sendAll(queue) {
    sending = true;
    submitButton.disabled = true;
    caseInput.readOnly = true; // every file of the batch carries the same case reference
    var total = queue.length;
    var finished = 0;
    say("Uploading " + total + " file(s)…");
    var next = 0;
    function pump() {
      if (next >= queue.length) return;
      var item = queue[next++];
      sendOne(item, function () {
        finished++;
        say("Uploaded " + finished + " of " + total + "…");
        if (finished === total) done();
        else pump();
      });
    }
    for (var i = 0; i < Math.min(PARALLEL, queue.length); i++) pump();
  }

  function sendOne(item, callback) {
    var data = new FormData();
    data.append("csrfmiddlewaretoken", csrf);
    data.append("images", item.file, item.file.name);
    data.append("case_reference", caseInput.value);
    data.append("batch", batch);
    data.append("position", String(item.position));
    if (item.allowDuplicate) data.append("allow_duplicate", "on");
    var xhr = new XMLHttpRequest();
    var bar = item.li.querySelector(".file-progress");
    bar.value = 0;
    setState(item, "uploading", "Uploading…");
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      var percent = Math.round((event.loaded / event.total) * 100);
      bar.value = percent;
      item.li.querySelector(".file-state").textContent = "Uploading… " + percent + "\u00a0%";
    });
    // Every byte sent: the server now reads and checks the file before it answers.
    xhr.upload.addEventListener("load", function () {
      bar.removeAttribute("value"); // an indeterminate bar: no percentage to show
      setState(item, "checking", "Sent; the server is checking the file…");
    });
    xhr.addEventListener("load", function () {
      var reply = parseJson(xhr);
      if (xhr.status === 201 && reply) {
        bar.value = 100;
        item.batchUrl = reply.batch_url;
        reply.scans.forEach(function (scan, index) {
          var frame = reply.scans.length > 1 ? " (frame " + (index + 1) + ")" : "";
          window.BrainscanDom.rememberFileName(scan.id, item.file.name + frame);
        });
        setState(item, "done", "Uploaded; queued for analysis.");
      } else if (xhr.status === 409 && reply && reply.duplicate_of) {
        bar.value = 0;
        showDuplicate(item, reply.duplicate_of);
      } else if (reply && reply.error) {
        setState(item, "refused", "Not accepted: " + reply.error);
      } else if (xhr.status === 403 || (xhr.responseURL && xhr.responseURL.indexOf(fileUrl) < 0)) {
        setState(item, "error", "Your session has ended or your account may not upload: sign in again.");
      } else {
        setState(item, "error", "The server could not take this file (error " + xhr.status + "). Try again.");
      }
      callback();
    });
    xhr.addEventListener("error", function () {
      setState(item, "error", "The connection failed while sending this file. Try again.");
      callback();
    });
    xhr.open("POST", fileUrl);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.send(data);
  }

  /* "You uploaded this file before: scan 12 (date). [Upload it again]"; Remove skips it. */
  function showDuplicate(item, earlier) {
    setState(item, "duplicate", "You uploaded this file before: ");
    var state = item.li.querySelector(".file-state");
    var link = document.createElement("a");
    link.href = earlier.url;
    link.className = "js-earlier";
    link.textContent = "scan " + earlier.id;
    state.appendChild(link);
    state.appendChild(document.createTextNode(" (" + earlier.uploaded_at.slice(0, 16).replace("T", " ") + "). "));
    var again = document.createElement("button");
    again.type = "button";
    again.className = "button small js-upload-again";
    again.textContent = "Upload it again";
    again.setAttribute("aria-label", "Upload " + item.file.name + " again");
    again.addEventListener("click", function () {
      item.allowDuplicate = true;
      setState(item, "ready", "Will be uploaded again.");
      refresh();
      if (!sending) sendAll([item]);
    });
    state.appendChild(again);
  }

  function done() {
    sending = false;
    submitButton.disabled = false;
    var count = { done: 0, refused: 0, error: 0, duplicate: 0, invalid: 0 };
    var batchUrl = null;
    items.forEach(function (item) {
      if (item.state in count) count[item.state]++;
      if (item.batchUrl) batchUrl = item.batchUrl;
    });
    refresh();
    if (batchUrl) {
      batchLink.href = batchUrl;
      batchLink.hidden = false;
    }
    if (batchUrl && !count.refused && !count.error && !count.duplicate && !count.invalid && !overLimit) {
      say("All files uploaded. Opening the analysis page…");
      window.location.assign(batchUrl);
      return;
    }
    var parts = [count.done + " uploaded"];
    if (count.refused) parts.push(count.refused + " not accepted (see the messages above)");
    if (count.invalid) parts.push(count.invalid + " refused before sending (see the messages above)");
    if (overLimit) parts.push(overLimit + " not added (over the limit of " + maxFiles + " files)");
    if (count.duplicate) parts.push(count.duplicate + " uploaded before (see the links above; upload again or remove)");
    if (count.error) parts.push(count.error + " not sent; press “Upload and analyse” to retry");
    say(parts.join(", ") + ".");
  }

  function refresh() {
    panel.hidden = items.length === 0;
    var ready = items.filter(function (i) { return i.state === "ready"; }).length;
    var invalid = items.filter(function (i) { return i.state === "invalid"; }).length;
    var chosen = items.length + overLimit;
    var text = chosen + (chosen === 1 ? " file" : " files") + " selected";
    if (invalid) text += ", " + invalid + " will not be sent";
    if (overLimit) text += ", " + overLimit + " not added (over the limit of " + maxFiles + ")";
    summary.textContent = text + ".";
    submitButton.textContent = ready > 1 ? "Upload and analyse " + ready + " slices" : "Upload and analyse";
  }

  function say(message) {
    statusLine.textContent = message;
  }

  function parseJson(xhr) {
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("application/json") < 0) return null;
    try {
      return JSON.parse(xhr.responseText);
    } catch (e) {
      return null;
    }
  }

  function kindOf(file) {
    var ext = (file.name.split(".").pop() || "").toUpperCase();
    if (/^(DCM|DICOM)$/.test(ext) || file.type === "application/dicom") return "DICOM";
    if (ext === "JPG") return "JPEG";
    return ext.length <= 5 ? ext : "file";
  }

  function sizeText(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return Math.round(bytes / 1024) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  /* A random version-4 UUID; crypto.randomUUID needs HTTPS, getRandomValues does not. */
  function newBatchId() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20);
  }
})();
