/* A slice browser: a stack of slices in the image viewer (static/js/viewer.js), moved
 * through with the wheel, the arrow keys or its buttons, with jumps between flagged slices.
 * The viewer draws each slice and its heatmap and owns zoom, pan, window/level, the heatmap
 * controls and full screen; its view stays as it is from one slice to the next (setImage).
 *
 * Plain JavaScript, no dependency, no inline style (the page's CSP). Exposed as
 * window.BrainscanSliceBrowser:
 *
 *   var browser = BrainscanSliceBrowser.mount(root, slices, {onChange: function (i, s) {}});
 *
 * `root` holds the markup of templates/studies/_slice_browser.html (elements found by
 * data-role / data-action; the viewer's element is data-role="viewer"); `slices` is an array
 * of {image: url, heatmap: url|null, tumour: number|null, flagged: bool, label, position,
 * status, reason}. One slice works too. The returned object has go(i), next(), previous(),
 * nextFlagged(), previousFlagged(), current(), state() (the slice index and the viewer's
 * state) and viewer (the BrainscanViewer).
 */
(function () {
  "use strict";

  // Keys the slice browser takes from the viewer; Shift+arrows stay window/level.
  var KEYS = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "PageUp", "PageDown", "Home", "End", "f", "F"];

  function mount(root, slices, options) {
    options = options || {};
    var find = function (role) {
      return root.querySelector('[data-role="' + role + '"]');
    };
    var slider = find("slider");
    var caption = find("caption");
    var index = 0;
    var first = slices[options.start || 0] || slices[0];
    var viewer = window.BrainscanViewer.mount(find("viewer"), {
      image: first.image,
      overlay: first.heatmap,
      heatmapControls: slices.some(function (s) { return !!s.heatmap; }),
      label: "The current slice with its heatmap",
      wheel: "host",
      hostKeys: KEYS,
      keysHelp:
        "With the image focused: the wheel, the arrow keys, PageUp/PageDown and Home/End move through the slices, " +
        "f and Shift+F jump to the next and previous flagged slice; + and \u2212 zoom, Shift+arrows change " +
        "window/level, 0 resets, H shows or hides the heatmap. Ctrl+wheel or pinch zooms; drag pans (or changes " +
        "window/level with that tool, Shift or the right button). Zoom, pan and window stay as they are from slice to slice."
    });
    root.classList.add("sb-ready");
    if (slider) {
      slider.max = String(Math.max(slices.length - 1, 0));
      slider.addEventListener("input", function () {
        go(Number(slider.value));
      });
    }

    function flaggedIndices() {
      var list = [];
      slices.forEach(function (s, i) {
        if (s.flagged) list.push(i);
      });
      return list;
    }

    function go(i, initial) {
      if (!slices.length) return;
      index = Math.max(0, Math.min(slices.length - 1, Math.round(i)));
      var slice = slices[index];
      if (slider) slider.value = String(index);
      describe(slice);
      if (!initial) viewer.setImage(slice.image, slice.heatmap);
      [index + 1, index - 1].forEach(function (n) {
        if (n < 0 || n >= slices.length) return;
        viewer.preload(slices[n].image);
        viewer.preload(slices[n].heatmap);
      });
      if (options.onChange) options.onChange(index, slice);
    }

    function jumpFlagged(direction) {
      var list = flaggedIndices();
      if (!list.length) return;
      var target = null;
      for (var n = 0; n < list.length; n++) {
        var i = direction > 0 ? list[n] : list[list.length - 1 - n];
        if ((direction > 0 && i > index) || (direction < 0 && i < index)) {
          target = i;
          break;
        }
      }
      if (target === null) target = direction > 0 ? list[0] : list[list.length - 1]; // wrap
      go(target);
    }

    function describe(slice) {
      var parts = ["Slice " + (index + 1) + " of " + slices.length];
      if (slice.position !== undefined && slice.position !== null) parts.push(Number(slice.position).toFixed(0) + " mm");
      if (slice.tumour !== null && slice.tumour !== undefined) {
        parts.push((slice.label ? slice.label + ", " : "") + "tumour probability " + (100 * slice.tumour).toFixed(1) + " %");
      } else if (slice.status === "rejected") {
        parts.push("not accepted by the input check" + (slice.reason ? ": " + slice.reason : ""));
      } else if (slice.status === "pending") {
        parts.push("not analysed yet");
      }
      if (slice.flagged) parts.push("flagged");
      if (caption) caption.textContent = parts.join(" · ");
      viewer.canvas.setAttribute("aria-label", parts[0] + (slice.heatmap ? ", with its heatmap" : ""));
    }

    var actions = {
      previous: function () { go(index - 1); },
      next: function () { go(index + 1); },
      "previous-flagged": function () { jumpFlagged(-1); },
      "next-flagged": function () { jumpFlagged(1); },
    };
    Array.prototype.forEach.call(root.querySelectorAll("[data-action]"), function (button) {
      var action = actions[button.dataset.action];
      if (action) button.addEventListener("click", action);
    });
    if (!flaggedIndices().length) {
      Array.prototype.forEach.call(root.querySelectorAll('[data-action$="flagged"]'), function (b) {
        b.disabled = true;
      });
    }

    // The viewer leaves the plain wheel and these keys to the page (wheel: "host", hostKeys).
    viewer.canvas.addEventListener(
      "wheel",
      function (event) {
        if (event.ctrlKey) return; // the viewer's zoom
        event.preventDefault(); // the wheel moves through the slices, not the page
        if (event.deltaY !== 0) go(index + (event.deltaY > 0 ? 1 : -1));
      },
      { passive: false }
    );
    viewer.canvas.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.shiftKey && event.key.indexOf("Arrow") === 0) return; // window/level
      var keys = {
        ArrowDown: actions.next,
        ArrowRight: actions.next,
        PageDown: actions.next,
        ArrowUp: actions.previous,
        ArrowLeft: actions.previous,
        PageUp: actions.previous,
        Home: function () { go(0); },
        End: function () { go(slices.length - 1); },
        f: actions["next-flagged"],
        F: actions["previous-flagged"],
      };
      var handler = keys[event.key];
      if (handler) {
        event.preventDefault();
        handler();
      }
    });

    var api = {
      go: go,
      next: actions.next,
      previous: actions.previous,
      nextFlagged: actions["next-flagged"],
      previousFlagged: actions["previous-flagged"],
      current: function () { return index; },
      state: function () {
        var state = viewer.getState();
        state.index = index;
        return state;
      },
      viewer: viewer,
      focus: function () { viewer.canvas.focus({ preventScroll: false }); },
    };
    root.sliceBrowser = api;
    go(slices.indexOf(first), true);
    return api;
  }

  window.BrainscanSliceBrowser = { mount: mount };
})();
