/* BrainscanViewer: a small canvas viewer for one 2-D slice and its Grad-CAM heatmap.
 *
 * Plain JavaScript, no dependency, no network access beyond the two same-origin images, no
 * inline styles (the CSP forbids them; sizes are set through the CSSOM, which it allows).
 *
 *   var viewer = BrainscanViewer.mount(element, {
 *     image: "/scans/12/image",          // the slice (required; same origin)
 *     overlay: "/scans/12/heatmap.png",  // 8-bit gray heatmap, 0 = no influence (optional)
 *     overlayVisible: true,              // heatmap shown at start (default true)
 *     opacity: 1,                        // heatmap opacity 0..1 (default 1)
 *     label: "Scan 12",                  // accessible name of the image
 *     heatmapControls: true,             // heatmap buttons even if this slice has none
 *     wheel: "zoom",                     // "host": plain wheel left to the page, Ctrl+wheel zooms
 *     hostKeys: ["ArrowUp", "f"],        // keys left to the page (not Shift+arrows)
 *     keysHelp: "..."                    // the keyboard help under the image, instead of ours
 *   });
 *   viewer.zoomBy(2); viewer.panBy(dx, dy); viewer.setWindow(center, width);
 *   viewer.setOverlayVisible(false); viewer.setOpacity(0.5); viewer.reset();
 *   viewer.getState(); viewer.setState(state);   // keep zoom/pan/window across slices
 *   viewer.setImage(imageUrl, overlayUrl);        // another slice, same view state
 *   viewer.preload(url);                          // fetch a slice ahead (kept in memory)
 *   viewer.on("change", function (state) {});     // after every drawn change
 *   viewer.toggleFullscreen(); viewer.destroy();
 *
 * Elements marked data-brainscan-viewer (templates/predictions/_viewer.html) are mounted on
 * load with their data-image, data-overlay, data-overlay-visible, data-label attributes.
 *
 * Habits it follows (PACS-like): wheel or pinch zooms around the pointer; drag pans, or with
 * the Window/level tool (or the right button, or Shift+drag) adjusts the window as in OHIF:
 * left/right narrows or widens it (contrast), up/down moves its level (brightness).
 * Keys when the image has focus: + and - zoom, arrows pan, Shift+arrows window/level,
 * 0 resets, F full screen, H heatmap on/off.
 *
 * A stack of slices (the study page's slice browser, static/js/slice-browser.js) mounts it
 * with wheel: "host" and hostKeys, so the wheel and the arrow keys move through the slices
 * while zoom, pan and window/level stay as they are from one slice to the next.
 */
(function () {
  "use strict";

  var MAX_ALPHA = 0.5; // as ml/serving/overlay.py: the hottest pixel is half heatmap, half slice
  var MIN_ZOOM = 0.25;
  var MAX_ZOOM = 32;
  var PRESETS = [
    { value: "original", name: "Original" },
    { value: "auto", name: "Auto contrast" },
    { value: "high", name: "High contrast", center: 128, width: 128 },
    { value: "dark", name: "Dark tissue", center: 64, width: 128 },
    { value: "bright", name: "Bright tissue", center: 192, width: 128 }
  ];
  var counter = 0;
  var CACHE_SIZE = 48; // decoded slices kept per viewer: the files are sent with no-store

  /* OpenCV's COLORMAP_JET, the colours of the server's overlay PNG: dark blue -> red. */
  function jet(v) {
    function ramp(x) {
      return Math.round(255 * Math.max(0, Math.min(1, 1.5 - Math.abs(4 * v - x))));
    }
    return [ramp(3), ramp(2), ramp(1)];
  }
  var JET = [];
  for (var j = 0; j < 256; j++) JET.push(jet(j / 255));

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text) node.textContent = text;
    return node;
  }

  function loadImage(url, cache) {
    if (cache) {
      var index = cache.urls.indexOf(url);
      if (index >= 0) {
        cache.urls.push(cache.urls.splice(index, 1)[0]); // most recently used last
        return cache.images[url];
      }
      cache.urls.push(url);
      cache.images[url] = loadImage(url).catch(function (error) {
        cache.urls.splice(cache.urls.indexOf(url), 1);
        delete cache.images[url];
        throw error;
      });
      while (cache.urls.length > CACHE_SIZE) delete cache.images[cache.urls.shift()];
      return cache.images[url];
    }
    return new Promise(function (resolve, reject) {
      var image = new Image();
      image.onload = function () {
        resolve(image);
      };
      image.onerror = function () {
        reject(new Error("could not load " + url));
      };
      image.src = url;
    });
  }

  /* One channel of an image at the slice's size: luminance of the slice, gray of the map. */
  function pixels(image, width, height) {
    var canvas = el("canvas");
    canvas.width = width;
    canvas.height = height;
    var context = canvas.getContext("2d");
    context.drawImage(image, 0, 0, width, height);
    var rgba = context.getImageData(0, 0, width, height).data;
    var out = new Uint8ClampedArray(width * height);
    for (var i = 0, p = 0; i < out.length; i++, p += 4) {
      out[i] = (rgba[p] * 299 + rgba[p + 1] * 587 + rgba[p + 2] * 114) / 1000;
    }
    return out;
  }

  /* A window that spreads the head's 1st-99th percentile over the whole gray range. */
  function autoWindow(lum) {
    var histogram = new Uint32Array(256);
    var inside = 0;
    for (var i = 0; i < lum.length; i++) {
      if (lum[i] > 8) {
        histogram[lum[i]]++;
        inside++;
      }
    }
    if (inside < 16) return { center: 128, width: 256 };
    var low = 0;
    var high = 255;
    var seen = 0;
    for (var v = 0; v < 256; v++) {
      seen += histogram[v];
      if (seen < inside * 0.01) low = v;
      if (seen <= inside * 0.99) high = v;
    }
    var width = Math.max(high - low, 8);
    return { center: Math.round(low + width / 2), width: width };
  }

  function Viewer(root, options) {
    this.root = root;
    this.options = options;
    this.listeners = [];
    this.state = {
      zoom: 1,
      centerX: null,
      centerY: null,
      windowCenter: 128,
      windowWidth: 256,
      preset: "original",
      overlayVisible: options.overlayVisible !== false,
      opacity: options.opacity === undefined ? 1 : options.opacity,
      tool: "pan"
    };
    this.pointers = {};
    this.cache = { urls: [], images: {} };
    this.loads = 0;
    this.hostKeys = {};
    var hostKeys = this.hostKeys;
    (options.hostKeys || []).forEach(function (key) {
      hostKeys[key] = true;
    });
    this.id = "bsv-" + ++counter;
    this.build();
    this.setImage(options.image, options.overlay);
  }

  Viewer.prototype.build = function () {
    var self = this;
    var root = this.root;
    root.classList.add("bsv", "bsv-ready");
    var fallback = root.querySelector(".bsv-fallback");
    if (fallback) fallback.hidden = true;

    var bar = el("div", { class: "bsv-toolbar", role: "toolbar", "aria-label": "Image viewer" });
    function button(action, text, title, pressed) {
      var b = el("button", { type: "button", class: "bsv-button", "data-action": action }, text);
      if (title) b.title = title;
      if (pressed !== undefined) b.setAttribute("aria-pressed", pressed ? "true" : "false");
      return b;
    }
    var view = el("div", { class: "bsv-group" });
    this.zoomIn = button("zoom-in", "+", "Zoom in (+)");
    this.zoomIn.setAttribute("aria-label", "Zoom in");
    this.zoomOut = button("zoom-out", "\u2212", "Zoom out (\u2212)");
    this.zoomOut.setAttribute("aria-label", "Zoom out");
    this.zoomOutput = el("output", { class: "bsv-zoom", "aria-label": "Zoom" }, "100 %");
    this.resetButton = button("reset", "Reset", "Reset zoom, pan and window (0)");
    this.fullButton = button("fullscreen", "Full screen", "Full screen (F)");
    [this.zoomOut, this.zoomOutput, this.zoomIn, this.resetButton, this.fullButton].forEach(
      function (node) {
        view.appendChild(node);
      }
    );

    var tools = el("div", { class: "bsv-group", role: "group", "aria-label": "Drag to" });
    tools.appendChild(el("span", { class: "bsv-caption" }, "Drag:"));
    this.panTool = button("tool-pan", "Pan", "Dragging moves the image", true);
    this.windowTool = button(
      "tool-window",
      "Window/level",
      "Dragging changes brightness (up/down) and contrast (left/right); also Shift+drag or the right button",
      false
    );
    tools.appendChild(this.panTool);
    tools.appendChild(this.windowTool);
    var presetId = this.id + "-preset";
    tools.appendChild(el("label", { for: presetId, class: "bsv-caption" }, "Window"));
    this.presetSelect = el("select", { id: presetId, class: "bsv-select" });
    PRESETS.forEach(function (preset) {
      self.presetSelect.appendChild(el("option", { value: preset.value }, preset.name));
    });
    this.customOption = el("option", { value: "custom" }, "Custom");
    this.customOption.hidden = true;
    this.presetSelect.appendChild(this.customOption);
    tools.appendChild(this.presetSelect);
    this.windowOutput = el("output", { class: "bsv-window", "aria-label": "Window and level" });
    tools.appendChild(this.windowOutput);

    bar.appendChild(view);
    bar.appendChild(tools);

    var heatmapControls = this.options.heatmapControls;
    if (heatmapControls === undefined ? this.options.overlay : heatmapControls) {
      var heat = el("div", { class: "bsv-group bsv-heat" });
      this.overlayButton = button("overlay", "", "Heatmap on/off (H)");
      var opacityId = this.id + "-opacity";
      this.opacityInput = el("input", {
        type: "range",
        id: opacityId,
        min: "0",
        max: "100",
        step: "5",
        class: "bsv-opacity"
      });
      this.opacityOutput = el("output", { for: opacityId, class: "bsv-opacity-value" });
      heat.appendChild(this.overlayButton);
      heat.appendChild(el("label", { for: opacityId, class: "bsv-caption" }, "Opacity"));
      heat.appendChild(this.opacityInput);
      heat.appendChild(this.opacityOutput);
      var legend = el("span", { class: "bsv-legend" });
      legend.appendChild(el("span", { class: "bsv-caption" }, "weak"));
      var scale = el("canvas", { class: "bsv-legend-bar", width: "128", height: "12" });
      scale.setAttribute("aria-hidden", "true");
      var scaleContext = scale.getContext("2d");
      for (var x = 0; x < 128; x++) {
        var c = JET[Math.round((x / 127) * 255)];
        scaleContext.fillStyle = "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")";
        scaleContext.fillRect(x, 0, 1, 12);
      }
      legend.appendChild(scale);
      legend.appendChild(el("span", { class: "bsv-caption" }, "strong influence on the result"));
      legend.setAttribute("role", "img");
      legend.setAttribute(
        "aria-label",
        "Heatmap colour scale: from blue, weak influence, through green and yellow, to red, strong influence on the result"
      );
      heat.appendChild(legend);
      bar.appendChild(heat);
    }

    this.stage = el("div", { class: "bsv-stage" });
    this.canvas = el("canvas", {
      class: "bsv-canvas",
      tabindex: "0",
      role: "img",
      "aria-describedby": this.id + "-keys"
    });
    this.canvas.setAttribute("aria-label", this.options.label || "Image");
    this.stage.appendChild(this.canvas);
    this.status = el("p", { class: "bsv-status", role: "status", "aria-live": "polite" });
    var keys = el(
      "p",
      { class: "bsv-keys", id: this.id + "-keys" },
      this.options.keysHelp ||
        "With the image focused: + and \u2212 zoom, arrows pan, Shift+arrows change window/level, 0 resets, F full screen" +
          (this.overlayButton ? ", H shows or hides the heatmap." : ".") +
          " Wheel or pinch zooms; drag pans (or changes window/level with that tool, Shift or the right button)."
    );
    root.insertBefore(keys, root.firstChild);
    root.insertBefore(this.status, root.firstChild);
    root.insertBefore(this.stage, root.firstChild);
    root.insertBefore(bar, root.firstChild);
    this.toolbar = bar;

    bar.addEventListener("click", function (event) {
      var target = event.target.closest("[data-action]");
      if (!target) return;
      var action = target.getAttribute("data-action");
      if (action === "zoom-in") self.zoomBy(1.25);
      else if (action === "zoom-out") self.zoomBy(0.8);
      else if (action === "reset") self.reset();
      else if (action === "fullscreen") self.toggleFullscreen();
      else if (action === "tool-pan") self.setTool("pan");
      else if (action === "tool-window") self.setTool("window");
      else if (action === "overlay") self.setOverlayVisible(!self.state.overlayVisible);
    });
    this.presetSelect.addEventListener("change", function () {
      self.applyPreset(self.presetSelect.value);
    });
    if (this.opacityInput) {
      this.opacityInput.addEventListener("input", function () {
        self.setOpacity(parseInt(self.opacityInput.value, 10) / 100);
        if (!self.state.overlayVisible) self.setOverlayVisible(true);
      });
    }
    this.bindPointer();
    this.bindKeys();
    this.onResize = function () {
      self.resize();
    };
    window.addEventListener("resize", this.onResize);
    document.addEventListener("fullscreenchange", this.onResize);
    if (window.ResizeObserver) {
      this.observer = new ResizeObserver(this.onResize);
      this.observer.observe(this.stage);
    }
  };

  /* Load a slice (and its heatmap); the view state (zoom, pan, window) is kept. When slices
   * are asked for faster than they load, only the last one asked for is drawn. */
  Viewer.prototype.setImage = function (imageUrl, overlayUrl) {
    var self = this;
    var load = ++this.loads;
    var slow = window.setTimeout(function () {
      if (load === self.loads) self.status.textContent = "Loading the image\u2026";
    }, 150);
    var loads = [
      loadImage(imageUrl, this.cache),
      overlayUrl ? loadImage(overlayUrl, this.cache) : Promise.resolve(null)
    ];
    this.ready = Promise.all(loads).then(
      function (images) {
        window.clearTimeout(slow);
        if (load !== self.loads) return self; // a later setImage wins
        var image = images[0];
        var resized = image.naturalWidth !== self.width || image.naturalHeight !== self.height;
        self.width = image.naturalWidth;
        self.height = image.naturalHeight;
        self.lum = pixels(image, self.width, self.height);
        self.heat = images[1] ? pixels(images[1], self.width, self.height) : null;
        self.buffer = el("canvas");
        self.buffer.width = self.width;
        self.buffer.height = self.height;
        self.bufferData = self.buffer.getContext("2d").createImageData(self.width, self.height);
        self.autoWindow = autoWindow(self.lum);
        if (self.state.centerX === null || resized) { // a slice of another size: re-centre
          self.state.centerX = self.width / 2;
          self.state.centerY = self.height / 2;
        }
        if (self.state.preset === "auto") self.applyPreset("auto");
        self.status.textContent = "";
        self.resize();
        self.compose();
        return self;
      },
      function (error) {
        window.clearTimeout(slow);
        if (load !== self.loads) return self;
        self.status.textContent = "The image could not be loaded. Reload the page to try again.";
        throw error;
      }
    );
    return this.ready;
  };

  /* Fetch an image ahead of setImage (a neighbouring slice); failures are left to setImage. */
  Viewer.prototype.preload = function (url) {
    if (url) loadImage(url, this.cache).catch(function () {});
  };

  Viewer.prototype.resize = function () {
    if (!this.width) return;
    var full = this.isFullscreen();
    var width = this.stage.clientWidth || this.root.clientWidth || this.width;
    var height;
    if (full) {
      height = Math.max(window.innerHeight - this.toolbar.offsetHeight - 8, 200);
    } else {
      var fit = (width * this.height) / this.width;
      height = Math.max(Math.min(fit, window.innerHeight * 0.82), 220);
    }
    var ratio = window.devicePixelRatio || 1;
    this.canvas.style.width = width + "px";
    this.canvas.style.height = Math.round(height) + "px";
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.draw();
  };

  /* The slice through the window/level lookup, with the coloured heatmap blended over it. */
  Viewer.prototype.compose = function () {
    if (!this.lum) return;
    var s = this.state;
    var lut = new Uint8ClampedArray(256);
    var low = s.windowCenter - s.windowWidth / 2;
    for (var v = 0; v < 256; v++) lut[v] = ((v - low) / s.windowWidth) * 255;
    var data = this.bufferData.data;
    var lum = this.lum;
    var heat = this.heat && s.overlayVisible && s.opacity > 0 ? this.heat : null;
    var weight = MAX_ALPHA * s.opacity;
    for (var i = 0, p = 0; i < lum.length; i++, p += 4) {
      var g = lut[lum[i]];
      if (heat && heat[i]) {
        var a = (weight * heat[i]) / 255;
        var c = JET[heat[i]];
        data[p] = g + (c[0] - g) * a;
        data[p + 1] = g + (c[1] - g) * a;
        data[p + 2] = g + (c[2] - g) * a;
      } else {
        data[p] = data[p + 1] = data[p + 2] = g;
      }
      data[p + 3] = 255;
    }
    this.buffer.getContext("2d").putImageData(this.bufferData, 0, 0);
    this.draw();
  };

  Viewer.prototype.scale = function () {
    var fit = Math.min(this.canvas.width / this.width, this.canvas.height / this.height);
    return fit * this.state.zoom;
  };

  Viewer.prototype.draw = function () {
    var self = this;
    if (this.frame) return;
    this.frame = window.requestAnimationFrame(function () {
      self.frame = null;
      self.paint();
    });
  };

  Viewer.prototype.paint = function () {
    if (!this.buffer) return;
    var context = this.canvas.getContext("2d");
    var s = this.state;
    var scale = this.scale();
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.fillStyle = "#000";
    context.fillRect(0, 0, this.canvas.width, this.canvas.height);
    context.imageSmoothingEnabled = scale < 3; // single pixels show as squares when close
    context.setTransform(
      scale,
      0,
      0,
      scale,
      this.canvas.width / 2 - s.centerX * scale,
      this.canvas.height / 2 - s.centerY * scale
    );
    context.drawImage(this.buffer, 0, 0);
    context.setTransform(1, 0, 0, 1, 0, 0);
    this.updateControls();
    var state = this.getState();
    this.listeners.forEach(function (listener) {
      listener(state);
    });
  };

  Viewer.prototype.updateControls = function () {
    var s = this.state;
    this.zoomOutput.textContent = Math.round(s.zoom * 100) + "\u00a0%";
    this.windowOutput.textContent =
      "W\u00a0" + Math.round(s.windowWidth) + " \u00b7 L\u00a0" + Math.round(s.windowCenter);
    this.customOption.hidden = s.preset !== "custom";
    this.presetSelect.value = s.preset;
    this.panTool.setAttribute("aria-pressed", s.tool === "pan" ? "true" : "false");
    this.windowTool.setAttribute("aria-pressed", s.tool === "window" ? "true" : "false");
    this.canvas.classList.toggle("bsv-tool-window", s.tool === "window");
    this.fullButton.textContent = this.isFullscreen() ? "Exit full screen" : "Full screen";
    if (this.overlayButton) {
      this.overlayButton.textContent = s.overlayVisible ? "Hide heatmap" : "Show heatmap";
      this.opacityInput.value = String(Math.round(s.opacity * 100));
      this.opacityOutput.textContent = Math.round(s.opacity * 100) + "\u00a0%";
    }
  };

  /* Zoom by `factor` keeping the image point under canvas pixel (x, y) in place. */
  Viewer.prototype.zoomBy = function (factor, x, y) {
    var s = this.state;
    var zoom = Math.max(MIN_ZOOM, Math.min(MAX_ZOOM, s.zoom * factor));
    if (!this.width || zoom === s.zoom) return;
    if (x !== undefined) {
      var before = this.scale();
      var dx = x - this.canvas.width / 2;
      var dy = y - this.canvas.height / 2;
      var after = before * (zoom / s.zoom);
      s.centerX += dx / before - dx / after;
      s.centerY += dy / before - dy / after;
    }
    s.zoom = zoom;
    this.draw();
  };

  /* Move the image by (dx, dy) canvas pixels. */
  Viewer.prototype.panBy = function (dx, dy) {
    if (!this.width) return;
    var scale = this.scale();
    this.state.centerX -= dx / scale;
    this.state.centerY -= dy / scale;
    this.draw();
  };

  Viewer.prototype.setWindow = function (center, width, preset) {
    this.state.windowWidth = Math.max(1, Math.min(512, width));
    this.state.windowCenter = Math.max(-128, Math.min(384, center));
    this.state.preset = preset || "custom";
    this.compose();
  };

  Viewer.prototype.applyPreset = function (name) {
    if (name === "custom") return;
    if (name === "original") return this.setWindow(128, 256, "original");
    if (name === "auto") {
      var auto = this.autoWindow || { center: 128, width: 256 };
      return this.setWindow(auto.center, auto.width, "auto");
    }
    for (var i = 0; i < PRESETS.length; i++) {
      if (PRESETS[i].value === name) {
        return this.setWindow(PRESETS[i].center, PRESETS[i].width, name);
      }
    }
  };

  Viewer.prototype.setOverlayVisible = function (visible) {
    if (!this.overlayButton) return;
    this.state.overlayVisible = !!visible;
    if (visible && this.state.opacity === 0) this.state.opacity = 1;
    this.compose();
    this.root.dispatchEvent(new CustomEvent("bsv:overlay", { detail: { visible: !!visible } }));
  };

  Viewer.prototype.setOpacity = function (opacity) {
    this.state.opacity = Math.max(0, Math.min(1, opacity));
    this.compose();
  };

  Viewer.prototype.setTool = function (tool) {
    this.state.tool = tool === "window" ? "window" : "pan";
    this.updateControls();
  };

  Viewer.prototype.reset = function () {
    var s = this.state;
    s.zoom = 1;
    s.centerX = this.width / 2;
    s.centerY = this.height / 2;
    this.setWindow(128, 256, "original");
  };

  Viewer.prototype.getState = function () {
    var s = this.state;
    return {
      zoom: s.zoom,
      centerX: s.centerX,
      centerY: s.centerY,
      windowCenter: s.windowCenter,
      windowWidth: s.windowWidth,
      preset: s.preset,
      overlayVisible: s.overlayVisible,
      opacity: s.opacity,
      tool: s.tool
    };
  };

  Viewer.prototype.setState = function (state) {
    var s = this.state;
    Object.keys(state).forEach(function (key) {
      if (key in s) s[key] = state[key];
    });
    this.compose();
  };

  Viewer.prototype.on = function (name, listener) {
    if (name === "change") this.listeners.push(listener);
    return this;
  };

  Viewer.prototype.isFullscreen = function () {
    return document.fullscreenElement === this.root;
  };

  Viewer.prototype.toggleFullscreen = function () {
    var self = this;
    var done = function () {
      self.resize();
      self.canvas.focus();
    };
    if (this.isFullscreen()) {
      document.exitFullscreen().then(done, done);
    } else if (this.root.requestFullscreen) {
      this.root.requestFullscreen().then(done, function () {
        self.status.textContent = "This browser refused full screen.";
      });
    }
  };

  /* Canvas pixel coordinates of a pointer event. */
  Viewer.prototype.at = function (event) {
    var box = this.canvas.getBoundingClientRect();
    var ratio = this.canvas.width / box.width;
    return { x: (event.clientX - box.left) * ratio, y: (event.clientY - box.top) * ratio };
  };

  Viewer.prototype.bindPointer = function () {
    var self = this;
    var canvas = this.canvas;
    var pointers = this.pointers;
    var pinch = null;

    canvas.addEventListener(
      "wheel",
      function (event) {
        if (self.options.wheel === "host" && !event.ctrlKey) return; // the page's (slices)
        event.preventDefault();
        var point = self.at(event);
        var delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
        self.zoomBy(Math.exp(-delta * 0.0015), point.x, point.y);
      },
      { passive: false }
    );
    canvas.addEventListener("contextmenu", function (event) {
      event.preventDefault(); // the right button adjusts window/level
    });
    canvas.addEventListener("dblclick", function () {
      self.reset();
    });
    canvas.addEventListener("pointerdown", function (event) {
      try {
        canvas.setPointerCapture(event.pointerId); // keep the drag when it leaves the canvas
      } catch (e) {
        /* a pointer the browser no longer tracks: the drag still works inside the canvas */
      }
      var tool = self.state.tool;
      if (event.button === 2 || event.shiftKey) tool = tool === "window" ? "pan" : "window";
      if (event.button === 1) tool = "pan";
      pointers[event.pointerId] = { point: self.at(event), tool: tool };
      var ids = Object.keys(pointers);
      if (ids.length === 2) pinch = pinchOf();
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      var entry = pointers[event.pointerId];
      if (!entry) return;
      var point = self.at(event);
      var ids = Object.keys(pointers);
      if (ids.length >= 2) {
        entry.point = point;
        var next = pinchOf();
        if (pinch && pinch.distance > 0) {
          self.zoomBy(next.distance / pinch.distance, next.x, next.y);
          self.panBy(next.x - pinch.x, next.y - pinch.y);
        }
        pinch = next;
        return;
      }
      var dx = point.x - entry.point.x;
      var dy = point.y - entry.point.y;
      entry.point = point;
      if (entry.tool === "window") {
        var ratio = 256 / Math.max(self.canvas.width, 256); // one image width = full range
        var s = self.state;
        self.setWindow(s.windowCenter - dy * ratio, s.windowWidth + dx * ratio);
      } else {
        self.panBy(dx, dy);
      }
    });
    function end(event) {
      delete pointers[event.pointerId];
      pinch = Object.keys(pointers).length === 2 ? pinchOf() : null;
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);

    function pinchOf() {
      var ids = Object.keys(pointers);
      var a = pointers[ids[0]].point;
      var b = pointers[ids[1]].point;
      return {
        x: (a.x + b.x) / 2,
        y: (a.y + b.y) / 2,
        distance: Math.hypot(a.x - b.x, a.y - b.y)
      };
    }
  };

  Viewer.prototype.bindKeys = function () {
    var self = this;
    this.canvas.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      var step = Math.round(self.canvas.width / 20);
      var s = self.state;
      var handled = true;
      var key = event.key;
      var arrow = key.indexOf("Arrow") === 0;
      if (self.hostKeys[key] && !(event.shiftKey && arrow)) return; // the page's key
      if (event.shiftKey && arrow) {
        if (key === "ArrowLeft") self.setWindow(s.windowCenter, s.windowWidth - 8);
        else if (key === "ArrowRight") self.setWindow(s.windowCenter, s.windowWidth + 8);
        else if (key === "ArrowUp") self.setWindow(s.windowCenter - 8, s.windowWidth);
        else self.setWindow(s.windowCenter + 8, s.windowWidth);
      } else if (key === "+" || key === "=") self.zoomBy(1.25);
      else if (key === "-" || key === "_") self.zoomBy(0.8);
      else if (key === "ArrowLeft") self.panBy(step, 0);
      else if (key === "ArrowRight") self.panBy(-step, 0);
      else if (key === "ArrowUp") self.panBy(0, step);
      else if (key === "ArrowDown") self.panBy(0, -step);
      else if (key === "0") self.reset();
      else if (key === "f" || key === "F") self.toggleFullscreen();
      else if ((key === "h" || key === "H") && self.overlayButton) {
        self.setOverlayVisible(!s.overlayVisible);
      } else handled = false;
      if (handled) {
        event.preventDefault();
        event.stopPropagation(); // not also a review-desk shortcut
      }
    });
  };

  Viewer.prototype.destroy = function () {
    window.removeEventListener("resize", this.onResize);
    document.removeEventListener("fullscreenchange", this.onResize);
    if (this.observer) this.observer.disconnect();
    [this.toolbar, this.stage, this.status, this.root.querySelector(".bsv-keys")].forEach(
      function (node) {
        if (node && node.parentNode) node.parentNode.removeChild(node);
      }
    );
    var fallback = this.root.querySelector(".bsv-fallback");
    if (fallback) fallback.hidden = false;
    this.root.classList.remove("bsv-ready");
    this.root.brainscanViewer = null;
  };

  function mount(element, options) {
    if (element.brainscanViewer) return element.brainscanViewer;
    var viewer = new Viewer(element, options || {});
    element.brainscanViewer = viewer;
    return viewer;
  }

  function mountAll(root) {
    var nodes = (root || document).querySelectorAll("[data-brainscan-viewer]");
    return Array.prototype.map.call(nodes, function (node) {
      return mount(node, {
        image: node.getAttribute("data-image"),
        overlay: node.getAttribute("data-overlay") || null,
        overlayVisible: node.getAttribute("data-overlay-visible") !== "false",
        label: node.getAttribute("data-label") || ""
      });
    });
  }

  window.BrainscanViewer = { mount: mount, mountAll: mountAll, colour: jet };
  // Deferred on the workspace pages; in the admin's <head> (Media) it waits for the page.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      mountAll(document);
    });
  } else {
    mountAll(document);
  }
})();
