/* vaestudio report: the snapshot slider and the live latent plane. The decoder is built with TensorFlow.js
   layers from the page's data and run on its cpu backend (exact float32 and present in every browser). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var state = window.vaestudioReport = {ready: false, error: null, point: null, decodes: 0, busy: false};

  // -- the snapshot slider ----------------------------------------------------------------------------------
  var slider = document.getElementById("snapshot-slider");
  var gridImage = document.getElementById("snapshot-grid");
  var gridLabel = document.getElementById("snapshot-label");
  function showSnapshot(index) {
    var snapshot = data.snapshots[index];
    gridImage.src = snapshot.grid;
    gridLabel.textContent = snapshot.label + " — step " + snapshot.step + ", frame " + snapshot.frame +
      (index === data.chosen ? " (the report's snapshot)" : "");
  }
  slider.addEventListener("input", function () { showSnapshot(Number(slider.value)); });
  showSnapshot(Number(slider.value));

  // -- the latent plane ------------------------------------------------------------------------------------
  var spec = data.decoder;
  var RANGE = data.plane.range;
  var plane = document.getElementById("latent-plane");
  var picture = document.getElementById("decoded");
  var readout = document.getElementById("plane-point");
  var status = document.getElementById("plane-status");
  var planeContext = plane.getContext("2d");
  var pictureContext = picture.getContext("2d");

  function floats(text) {
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }

  function buildDecoder() {
    var model = tf.sequential();
    model.add(tf.layers.dense({inputShape: [spec.latent_dim], units: spec.base * spec.base * spec.base_channels,
                               activation: "relu"}));
    model.add(tf.layers.reshape({targetShape: [spec.base, spec.base, spec.base_channels]}));
    spec.filters.forEach(function (filters) {
      model.add(tf.layers.conv2dTranspose({filters: filters, kernelSize: spec.kernel, strides: 2, padding: "same",
                                           activation: "relu"}));
    });
    model.add(tf.layers.conv2dTranspose({filters: spec.channels, kernelSize: spec.kernel, strides: 1,
                                         padding: "same"}));
    model.setWeights(spec.weights.map(function (w) { return tf.tensor(floats(w.data), w.shape, "float32"); }));
    return model;
  }

  function displayValues(logits) {
    if (spec.likelihood !== "continuous_bernoulli") return tf.sigmoid(logits);
    // The continuous Bernoulli's mean 1/(1 - exp(-eta)) - 1/eta, its series near eta = 0.
    var small = tf.less(tf.abs(logits), 1e-2);
    var safe = tf.where(small, tf.onesLike(logits), logits);
    var mean = tf.sub(tf.div(1, tf.sub(1, tf.exp(tf.neg(safe)))), tf.div(1, safe));
    var series = tf.add(0.5, tf.sub(tf.div(logits, 12), tf.div(tf.pow(logits, 3), 720)));
    return tf.clipByValue(tf.where(small, series, mean), 0, 1);
  }

  function drawPlane(point) {
    var w = plane.width, h = plane.height;
    planeContext.fillStyle = "#fafafa";
    planeContext.fillRect(0, 0, w, h);
    planeContext.strokeStyle = "#e0e0e0";
    for (var v = -Math.floor(RANGE); v <= RANGE; v++) {
      var x = (v / RANGE + 1) / 2 * w, y = (1 - v / RANGE) / 2 * h;
      planeContext.beginPath(); planeContext.moveTo(x, 0); planeContext.lineTo(x, h); planeContext.stroke();
      planeContext.beginPath(); planeContext.moveTo(0, y); planeContext.lineTo(w, y); planeContext.stroke();
    }
    planeContext.strokeStyle = "#999";
    planeContext.beginPath(); planeContext.moveTo(w / 2, 0); planeContext.lineTo(w / 2, h); planeContext.stroke();
    planeContext.beginPath(); planeContext.moveTo(0, h / 2); planeContext.lineTo(w, h / 2); planeContext.stroke();
    var means = data.plane.means, labels = data.plane.labels;
    for (var i = 0; i < means.length; i++) {
      planeContext.fillStyle = data.plane.colours[labels[i] % data.plane.colours.length];
      planeContext.fillRect((means[i][0] / RANGE + 1) / 2 * w - 1, (1 - means[i][1] / RANGE) / 2 * h - 1, 2, 2);
    }
    if (point) {
      var px = (point[0] / RANGE + 1) / 2 * w, py = (1 - point[1] / RANGE) / 2 * h;
      planeContext.strokeStyle = "#d62728"; planeContext.lineWidth = 2;
      planeContext.beginPath(); planeContext.arc(px, py, 6, 0, 2 * Math.PI); planeContext.stroke();
      planeContext.lineWidth = 1;
    }
  }

  var model = null, busy = false, pending = null;

  function latentPoint(planeXY) {
    var z = new Array(spec.latent_dim).fill(0);
    z[data.plane.axes[0]] = planeXY[0];
    if (spec.latent_dim > 1) z[data.plane.axes[1]] = planeXY[1];
    return z;
  }

  async function decode(planeXY) {
    if (busy) { pending = planeXY; return; }
    busy = state.busy = true;
    try {
      var z = latentPoint(planeXY);
      var values = tf.tidy(function () { return displayValues(model.predict(tf.tensor2d([z], [1, z.length]))); });
      var flat = await values.data();
      values.dispose();
      var size = spec.image_size, channels = spec.channels;
      var image = pictureContext.createImageData(size, size);
      for (var p = 0; p < size * size; p++) {
        for (var c = 0; c < 3; c++) {
          var v = flat[p * channels + (channels === 1 ? 0 : c)];
          image.data[p * 4 + c] = Math.min(255, Math.max(0, Math.round(v * 255)));
        }
        image.data[p * 4 + 3] = 255;
      }
      pictureContext.putImageData(image, 0, 0);
      drawPlane(planeXY);
      readout.textContent = z.map(function (v, d) { return "z" + (d + 1) + " = " + v.toFixed(2); })
        .filter(function (_, d) { return d === data.plane.axes[0] || d === data.plane.axes[1]; }).join(", ") +
        (spec.latent_dim > 2 ? " (the other dimensions 0)" : "");
      state.point = z;
      state.decodes += 1;
    } finally {
      busy = false;
    }
    if (pending) { var next = pending; pending = null; await decode(next); }
    state.busy = busy || pending !== null;
  }

  function pointerAt(event) {
    var box = plane.getBoundingClientRect();
    var fx = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    var fy = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    return [(2 * fx - 1) * RANGE, (1 - 2 * fy) * RANGE];
  }

  var dragging = false;
  plane.addEventListener("pointerdown", function (event) {
    if (!model) return;
    dragging = true;
    plane.setPointerCapture(event.pointerId);
    decode(pointerAt(event));
  });
  plane.addEventListener("pointermove", function (event) { if (dragging && model) decode(pointerAt(event)); });
  plane.addEventListener("pointerup", function () { dragging = false; });
  plane.addEventListener("pointercancel", function () { dragging = false; });

  async function start() {
    drawPlane(null);
    await tf.setBackend("cpu");
    await tf.ready();
    model = buildDecoder();
    await decode([0, 0]);
    status.textContent = "Drag over the plane: each point is decoded in this page by TensorFlow.js (" +
      tf.getBackend() + " backend).";
    state.ready = true;
  }

  if (typeof tf === "undefined") {
    state.error = "TensorFlow.js is not in this page";
    status.textContent = state.error;
  } else {
    start().catch(function (error) {
      state.error = String(error);
      status.textContent = "The latent plane could not start: " + error;
      console.error(error);
    });
  }
})();
