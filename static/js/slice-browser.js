/* A slice browser: one canvas showing a stack of grayscale slices with an optional heatmap
 * over each, window/level, zoom and pan, moved through with the wheel, the arrow keys or its
 * buttons, with jumps between flagged slices.
 *
 * Plain JavaScript, no dependency, no inline style (the page's CSP). Exposed as
 * window.BrainscanSliceBrowser:
 *
 *   var browser = BrainscanSliceBrowser.mount(root, slices, {onChange: function (i, s) {}});
 *
 * `root` holds the markup of templates/studies/_slice_browser.html (elements found by
 * data-role / data-action, all optional but the canvas and the viewport); `slices` is an
 * array of {image: url, heatmap: url|null, tumour: number|null, flagged: bool, label,
 * position, status, reason}. One slice works too, so a single-slice viewer can mount it.
 * The returned object has go(i), next(), previous(), nextFlagged(), previousFlagged(),
 * setOpacity(0..1), setWindow(level, width) on 0..255, zoomBy(factor), reset(), current().
 */
(function () {
  "use strict";

  var HEAT_MAX_ALPHA = 0.75; // the hottest pixel at full opacity: anatomy stays readable
  var MIN_ZOOM = 1;
  var MAX_ZOOM = 8;

  /* The jet colour map (as the single-slice overlay's OpenCV COLORMAP_JET), 256 RGB entries. */
  var JET = (function () {
    var table = new Uint8ClampedArray(256 * 3);
    for (var i = 0; i < 256; i++) {
      var v = i / 255;
      table[i * 3] = 255 * clamp(1.5 - Math.abs(4 * v - 3), 0, 1);
      table[i * 3 + 1] = 255 * clamp(1.5 - Math.abs(4 * v - 2), 0, 1);
      table[i * 3 + 2] = 255 * clamp(1.5 - Math.abs(4 * v - 1), 0, 1);
    }
    return table;
  })();

  function clamp(v, low, high) {
    return Math.max(low, Math.min(high, v));
  }

  function loadPixels(url, cache) {
    if (!url) return Promise.resolve(null);
    if (!cache[url]) {
      cache[url] = new Promise(function (resolve, reject) {
        var img = new Image();
        img.decoding = "async";
        img.onload = function () {
          var c = document.createElement("canvas");
          c.width = img.naturalWidth;
          c.height = img.naturalHeight;
          var ctx = c.getContext("2d");
          ctx.drawImage(img, 0, 0);
          resolve(ctx.getImageData(0, 0, c.width, c.height));
        };
        img.onerror = function () {
          delete cache[url];
          reject(new Error("image did not load"));
        };
        img.src = url;
      });
    }
    return cache[url];
  }

  function mount(root, slices, options) {
    options = options || {};
    var find = function (role) {
      return root.querySelector('[data-role="' + role + '"]');
    };
    var canvas = find("canvas");
    var viewport = find("viewport") || canvas;
    var ctx = canvas.getContext("2d");
    var slider = find("slider");
    var caption = find("caption");
    var opacityInput = find("opacity");
    var opacityValue = find("opacity-value");
    var levelInput = find("level");
    var widthInput = find("width");
    var cache = {};
    var state = {
      index: 0,
      opacity: opacityInput ? opacityInput.value / 100 : 0.6,
      level: levelInput ? Number(levelInput.value) : 128,
      width: widthInput ? Number(widthInput.value) : 255,
      zoom: 1,
      panX: 0,
      panY: 0,
      token: 0,
    };
    var offscreen = document.createElement("canvas");
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

    function go(i) {
      if (!slices.length) return;
      state.index = clamp(Math.round(i), 0, slices.length - 1);
      if (slider) slider.value = String(state.index);
      render();
      preload(state.index + 1);
      preload(state.index - 1);
      if (options.onChange) options.onChange(state.index, slices[state.index]);
    }

    function preload(i) {
      if (i < 0 || i >= slices.length) return;
      loadPixels(slices[i].image, cache).catch(function () {});
      loadPixels(slices[i].heatmap, cache).catch(function () {});
    }

    function jumpFlagged(direction) {
      var list = flaggedIndices();
      if (!list.length) return;
      var target = null;
      for (var n = 0; n < list.length; n++) {
        var i = direction > 0 ? list[n] : list[list.length - 1 - n];
        if ((direction > 0 && i > state.index) || (direction < 0 && i < state.index)) {
          target = i;
          break;
        }
      }
      if (target === null) target = direction > 0 ? list[0] : list[list.length - 1]; // wrap
      go(target);
    }

    function render() {
      var slice = slices[state.index];
      var token = ++state.token;
      describe(slice);
      Promise.all([loadPixels(slice.image, cache), loadPixels(slice.heatmap, cache)])
        .then(function (layers) {
          if (token === state.token) draw(layers[0], layers[1]);
        })
        .catch(function () {
          if (caption && token === state.token) caption.textContent = "This slice's image could not be loaded.";
        });
    }

    function describe(slice) {
      if (!caption) return;
      var parts = ["Slice " + (state.index + 1) + " of " + slices.length];
      if (slice.position !== undefined && slice.position !== null) parts.push(Number(slice.position).toFixed(0) + " mm");
      if (slice.tumour !== null && slice.tumour !== undefined) {
        parts.push((slice.label ? slice.label + ", " : "") + "tumour probability " + (100 * slice.tumour).toFixed(1) + " %");
      } else if (slice.status === "rejected") {
        parts.push("not accepted by the input check" + (slice.reason ? ": " + slice.reason : ""));
      } else if (slice.status === "pending") {
        parts.push("not analysed yet");
      }
      if (slice.flagged) parts.push("flagged");
      if (state.zoom > 1) parts.push("zoom " + state.zoom.toFixed(1) + "×");
      caption.textContent = parts.join(" · ");
    }

    function draw(gray, heat) {
      if (!gray) return;
      var w = gray.width;
      var h = gray.height;
      offscreen.width = w;
      offscreen.height = h;
      var octx = offscreen.getContext("2d");
      var out = octx.createImageData(w, h);
      var low = state.level - state.width / 2;
      var scale = 255 / Math.max(state.width, 1);
      var src = gray.data;
      var dst = out.data;
      var hd = heat && heat.width === w && heat.height === h ? heat.data : null;
      var opacity = state.opacity * HEAT_MAX_ALPHA;
      for (var p = 0; p < src.length; p += 4) {
        var v = clamp((src[p] - low) * scale, 0, 255);
        var r = v;
        var g = v;
        var b = v;
        if (hd && opacity > 0) {
          var hv = hd[p];
          var a = (opacity * hv) / 255;
          var j = hv * 3;
          r = r * (1 - a) + JET[j] * a;
          g = g * (1 - a) + JET[j + 1] * a;
          b = b * (1 - a) + JET[j + 2] * a;
        }
        dst[p] = r;
        dst[p + 1] = g;
        dst[p + 2] = b;
        dst[p + 3] = 255;
      }
      octx.putImageData(out, 0, 0);
      var size = Math.max(w, h);
      if (canvas.width !== size || canvas.height !== size) {
        canvas.width = size;
        canvas.height = size;
      }
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, size, size);
      ctx.imageSmoothingEnabled = state.zoom < 3;
      var z = state.zoom;
      var ox = (size - w * z) / 2 + state.panX;
      var oy = (size - h * z) / 2 + state.panY;
      ctx.setTransform(z, 0, 0, z, ox, oy);
      ctx.drawImage(offscreen, 0, 0);
      ctx.setTransform(1, 0, 0, 1, 0, 0);
    }

    function setOpacity(value) {
      state.opacity = clamp(value, 0, 1);
      if (opacityInput) opacityInput.value = String(Math.round(state.opacity * 100));
      if (opacityValue) opacityValue.textContent = Math.round(state.opacity * 100) + "\u00a0%";
      render();
    }

    function setWindow(level, width) {
      state.level = clamp(level, 0, 255);
      state.width = clamp(width, 1, 255);
      if (levelInput) levelInput.value = String(state.level);
      if (widthInput) widthInput.value = String(state.width);
      render();
    }

    function zoomBy(factor) {
      state.zoom = clamp(state.zoom * factor, MIN_ZOOM, MAX_ZOOM);
      if (state.zoom === 1) {
        state.panX = 0;
        state.panY = 0;
      }
      render();
    }

    function reset() {
      state.zoom = 1;
      state.panX = 0;
      state.panY = 0;
      setWindow(128, 255);
    }

    var actions = {
      previous: function () { go(state.index - 1); },
      next: function () { go(state.index + 1); },
      "previous-flagged": function () { jumpFlagged(-1); },
      "next-flagged": function () { jumpFlagged(1); },
      "zoom-in": function () { zoomBy(1.25); },
      "zoom-out": function () { zoomBy(0.8); },
      reset: reset,
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
    if (opacityInput) opacityInput.addEventListener("input", function () { setOpacity(opacityInput.value / 100); });
    if (levelInput) levelInput.addEventListener("input", function () { setWindow(Number(levelInput.value), state.width); });
    if (widthInput) widthInput.addEventListener("input", function () { setWindow(state.level, Number(widthInput.value)); });

    viewport.addEventListener(
      "wheel",
      function (event) {
        event.preventDefault(); // the wheel moves through the slices, not the page
        if (event.deltaY !== 0) go(state.index + (event.deltaY > 0 ? 1 : -1));
      },
      { passive: false }
    );
    viewport.addEventListener("keydown", function (event) {
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
        "+": actions["zoom-in"],
        "=": actions["zoom-in"],
        "-": actions["zoom-out"],
        "0": reset,
      };
      var handler = keys[event.key];
      if (handler) {
        event.preventDefault();
        handler();
      }
    });
    var drag = null;
    viewport.addEventListener("pointerdown", function (event) {
      if (state.zoom <= 1) return;
      drag = { x: event.clientX, y: event.clientY, panX: state.panX, panY: state.panY };
      viewport.setPointerCapture(event.pointerId);
    });
    viewport.addEventListener("pointermove", function (event) {
      if (!drag) return;
      var ratio = canvas.width / Math.max(canvas.clientWidth, 1);
      state.panX = drag.panX + (event.clientX - drag.x) * ratio;
      state.panY = drag.panY + (event.clientY - drag.y) * ratio;
      render();
    });
    viewport.addEventListener("pointerup", function () {
      drag = null;
    });

    var api = {
      go: go,
      next: actions.next,
      previous: actions.previous,
      nextFlagged: actions["next-flagged"],
      previousFlagged: actions["previous-flagged"],
      setOpacity: setOpacity,
      setWindow: setWindow,
      zoomBy: zoomBy,
      reset: reset,
      current: function () { return state.index; },
      state: function () {
        return { index: state.index, zoom: state.zoom, opacity: state.opacity, level: state.level, width: state.width };
      },
    };
    root.sliceBrowser = api;
    var first = options.start !== undefined ? options.start : 0;
    go(first);
    return api;
  }

  window.BrainscanSliceBrowser = { mount: mount };
})();
