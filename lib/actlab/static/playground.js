// The playground's live view, drawn in the browser (anywidget front end; actlab/playground/board.py prepends
// uPlot.iife.min.js, which defines `uPlot`). The kernel sends compact little-endian arrays (board.py's docstring
// gives each layout): the boundary colours on the GRID x GRID grid (uint8 RGB), the data points once per data set,
// the history rows recorded since the last frame (float32), and every per-layer panel's plotted values with its
// y limits (float32). Everything drawn was computed by the library (engine.py, panels.py): no formula is written
// here, only the drawing. Messages are applied as they come; drawing happens once per animation frame.

function bytesOf(view) {
  // A DataView (or ArrayBuffer) as a Uint8Array over the same memory.
  if (!view || !view.byteLength) return new Uint8Array(0);
  return new Uint8Array(view.buffer ?? view, view.byteOffset ?? 0, view.byteLength);
}

function floatsOf(view) {
  // A DataView (or ArrayBuffer) of float32 values as a Float32Array (copied: offsets may be unaligned).
  if (!view || !view.byteLength) return new Float32Array(0);
  const buffer = view.buffer ?? view;
  const start = view.byteOffset ?? 0;
  return new Float32Array(buffer.slice(start, start + view.byteLength));
}

function finite(v) {
  return typeof v === "number" && Number.isFinite(v);
}

function shown(v) {
  return finite(v) ? Number(v.toPrecision(4)).toString() : "–";
}

class History {
  // The loss rows received so far, one growing Float64Array per column (LOSS_COLUMNS).
  constructor(columns) {
    this.columns = columns;
    this.n = 0;
    this.data = columns.map(() => new Float64Array(256));
    this.lowest = Infinity;
    this.highest = -Infinity;
  }

  truncate(n) {
    if (n >= this.n) return;
    this.n = n;
    this.lowest = Infinity;
    this.highest = -Infinity;
    this.track(0, n);
  }

  append(rows) {
    const c = this.columns.length;
    const k = Math.floor(rows.length / c);
    if (this.n + k > this.data[0].length) {
      const size = Math.max(2 * this.data[0].length, this.n + k);
      this.data = this.data.map((old) => {
        const grown = new Float64Array(size);
        grown.set(old.subarray(0, this.n));
        return grown;
      });
    }
    for (let i = 0; i < k; i++) for (let j = 0; j < c; j++) this.data[j][this.n + i] = rows[i * c + j];
    this.track(this.n, this.n + k);
    this.n += k;
  }

  track(from, to) {
    // The lowest and highest positive train and test losses (for the log axis).
    for (const name of ["train_loss", "test_loss"]) {
      const col = this.data[this.columns.indexOf(name)];
      for (let i = from; i < to; i++) {
        const v = col[i];
        if (v > 0 && Number.isFinite(v)) {
          if (v < this.lowest) this.lowest = v;
          if (v > this.highest) this.highest = v;
        }
      }
    }
  }

  column(name) {
    return this.data[this.columns.indexOf(name)].subarray(0, this.n);
  }

  last(name) {
    return this.n ? this.data[this.columns.indexOf(name)][this.n - 1] : NaN;
  }
}

function axisStyle(style, label) {
  return {
    label,
    stroke: "#000000",
    font: `${style.small_px}px sans-serif`,
    labelFont: `${style.font_px}px sans-serif`,
    labelSize: style.font_px + 6,
    grid: { stroke: "rgba(0, 0, 0, 0.12)", width: 1 },
    ticks: { stroke: "rgba(0, 0, 0, 0.4)", width: 1, size: 4 },
    gap: 3,
  };
}

function decades(u, splits) {
  // Only the powers of ten of a log axis's splits (uPlot also splits at 2..9 x 10^k): grid and ticks at decades.
  return splits.map((v) => (Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-6 ? v : null));
}

function logAxis(axis) {
  const label = (v) => (v >= 0.01 && v < 1e4 ? String(v) : v.toExponential(0));
  return { ...axis, size: 48, grid: { ...axis.grid, filter: decades }, ticks: { ...axis.ticks, filter: decades },
    values: (u, splits) => splits.map((v) => (v == null ? "" : label(v))) };
}

function makeLossPlot(target, meta, size) {
  const style = meta.style;
  const colours = meta.loss_colours;
  const line = style.line_px;
  return new uPlot(
    {
      title: "loss (train: full set, test: held out)",
      width: size[0],
      height: size[1],
      scales: {
        x: { time: false, auto: false },
        y: { distr: 3, log: 10, auto: false },
        acc: { auto: false },
      },
      axes: [
        { ...axisStyle(style, "step"), size: 40 },
        logAxis(axisStyle(style, "cross-entropy loss")),
        { ...axisStyle(style, "test accuracy"), scale: "acc", side: 1, size: 44, grid: { show: false } },
      ],
      series: [
        { label: "step", value: (u, v) => shown(v) },
        { label: "train", stroke: colours.train_loss, width: line, points: { show: false }, value: (u, v) => shown(v) },
        { label: "test", stroke: colours.test_loss, width: line, points: { show: false }, value: (u, v) => shown(v) },
        { label: "test acc.", stroke: colours.test_acc, width: line * 0.75, dash: [5, 3], scale: "acc",
          points: { show: false }, value: (u, v) => shown(v) },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },
      pxAlign: 0,
    },
    [[], [], [], []],
    target,
  );
}

function guideHook(spec, smallPx) {
  // The panel's dashed reference level with its text (panels.Lines' guide) in the course's small font, under the lines.
  return (u) => {
    if (!spec.guide) return;
    const [level, text] = spec.guide;
    const y = u.valToPos(level, "y", true);
    const { ctx, bbox } = u;
    if (y < bbox.top || y > bbox.top + bbox.height) return;
    ctx.save();
    ctx.strokeStyle = "#000000";
    ctx.lineWidth = devicePixelRatio;
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(bbox.left, y);
    ctx.lineTo(bbox.left + bbox.width, y);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#000000";
    ctx.font = `${Math.round(smallPx * devicePixelRatio)}px sans-serif`;
    ctx.textAlign = "right";
    ctx.textBaseline = "top";
    ctx.fillText(text, bbox.left + bbox.width - 3 * devicePixelRatio, y + 3 * devicePixelRatio);
    ctx.restore();
  };
}

function makePanel(target, spec, meta, size) {
  // One per-layer panel: 'lines' over the layers, or 'histograms' (one line per layer over its value range).
  const style = meta.style;
  const line = style.line_px;
  const layerTicks = { incrs: [1, 2, 5, 10, 20, 50], values: (u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : "")) };
  let series;
  let axes;
  if (spec.kind === "histograms") {
    series = spec.colours.map((colour, i) => ({ label: `layer ${i + 1}`, stroke: colour, width: line * 0.6,
      spanGaps: true, points: { show: false } }));
    axes = [{ ...axisStyle(style, spec.xlabel), size: 30 }, { show: false }];
  } else {
    series = spec.series.map((s) => ({ label: s.label, stroke: s.colour, width: line * 0.75, dash: s.dash ? [5, 3] : undefined,
      points: { show: true, size: 5, fill: s.colour, stroke: s.colour } }));
    axes = [{ ...axisStyle(style, spec.xlabel), ...layerTicks, size: 30 }, { ...axisStyle(style, ""), size: 34, labelSize: 0 }];
  }
  return new uPlot(
    {
      title: spec.title,
      width: size[0],
      height: size[1],
      scales: { x: { time: false, auto: false }, y: { auto: false } },
      axes,
      series: [{ label: spec.kind === "histograms" ? "output" : "layer" }, ...series],
      cursor: { drag: { x: false, y: false } },
      legend: { show: spec.kind !== "histograms" && series.length > 1, live: false },
      hooks: { drawAxes: [guideHook(spec, style.small_px)] },
      pxAlign: 0,
    },
    [[], ...series.map(() => [])],
    target,
  );
}

function histogramData(values, depth, bins) {
  // uPlot's aligned data from per-layer (centres, heights): the union of the centres as x, each layer's heights at
  // its own centres and null elsewhere (drawn joined across the gaps).
  const xs = [];
  for (let i = 0; i < depth * bins; i++) xs.push(values[i]);
  const x = Float64Array.from(new Set(xs)).sort();
  const index = new Map(Array.from(x, (v, i) => [v, i]));
  const ys = [];
  for (let l = 0; l < depth; l++) {
    const y = new Array(x.length).fill(null);
    for (let b = 0; b < bins; b++) y[index.get(values[l * bins + b])] = values[depth * bins + l * bins + b];
    ys.push(y);
  }
  return [x, ...ys];
}

function render({ model, el }) {
  const root = el; // the widget's own element: its first child is the picture (boundary and loss), then the panels
  root.classList.add("actlab-board");
  const picture = document.createElement("div");
  picture.className = "actlab-board-picture";
  const canvas = document.createElement("canvas");
  canvas.className = "actlab-board-boundary";
  canvas.setAttribute("role", "img");
  const lossBox = document.createElement("div");
  lossBox.className = "actlab-board-loss";
  const panelBox = document.createElement("div");
  panelBox.className = "actlab-board-panels";
  picture.append(canvas, lossBox);
  root.append(picture, panelBox);

  const grid = document.createElement("canvas"); // the GRID x GRID colours, scaled up (smoothed) onto `canvas`
  const gridCtx = grid.getContext("2d", { willReadFrequently: true });
  const dots = document.createElement("canvas"); // the points, drawn once per data set
  const ctx = canvas.getContext("2d");

  let meta = null;
  let history = null;
  let lossPlot = null;
  let panels = [];
  let side = 264;
  let pointsOf = null;
  let asked = false;
  let dirty = { grid: true, loss: true, layers: true };
  let scheduled = false;
  let drawn = 0;

  function build() {
    // A new layout (a rebuilt run): the plots, the canvases and the history start again.
    meta = model.get("meta") || {};
    if (!meta.grid) return;
    asked = false; // a new run: a history reply lost for the old one is asked for again if rows are missing
    for (const p of [lossPlot, ...panels.map((p) => p.plot)]) if (p) p.destroy();
    lossBox.replaceChildren();
    panelBox.replaceChildren();
    root.style.setProperty("--actlab-title-px", `${meta.style.title_px}px`);
    root.style.setProperty("--actlab-small-px", `${meta.style.small_px}px`);
    side = meta.sizes.boundary;
    const ratio = window.devicePixelRatio || 1;
    for (const c of [canvas, dots]) {
      c.width = Math.round(side * ratio);
      c.height = Math.round(side * ratio);
    }
    canvas.style.width = canvas.style.height = `${side}px`;
    grid.width = grid.height = meta.grid;
    history = history && history.columns.join() === meta.loss_columns.join() ? history : new History(meta.loss_columns);
    lossPlot = makeLossPlot(lossBox, meta, meta.sizes.loss);
    panels = meta.panels.map((spec) => {
      const box = document.createElement("div");
      box.className = `actlab-board-panel actlab-panel-${spec.name}`;
      panelBox.append(box);
      return { spec, plot: makePanel(box, spec, meta, meta.sizes.panel) };
    });
    root.dataset.version = String(meta.version);
    pointsOf = null;
    dirty = { grid: true, loss: true, layers: true };
    resize();
  }

  function drawPoints() {
    // The data points over the boundary: training points filled with a white rim, test points as rings.
    const data = floatsOf(model.get("points"));
    const [x0, x1, y0, y1] = meta.extent;
    const c = dots.getContext("2d");
    const ratio = dots.width / side;
    c.setTransform(ratio, 0, 0, ratio, 0, 0);
    c.clearRect(0, 0, side, side);
    for (let i = 0; i + 3 < data.length; i += 4) {
      const u = ((data[i] - x0) / (x1 - x0)) * (side - 1);
      const v = (1 - (data[i + 1] - y0) / (y1 - y0)) * (side - 1);
      const colour = meta.colours[data[i + 2] % meta.colours.length];
      c.beginPath();
      c.arc(u, v, 2.5, 0, 2 * Math.PI);
      if (data[i + 3] === 0) {
        c.fillStyle = colour;
        c.fill();
        c.strokeStyle = "#ffffff";
        c.lineWidth = 1;
      } else {
        c.strokeStyle = colour;
        c.lineWidth = 2;
      }
      c.stroke();
    }
    pointsOf = model.get("points");
  }

  function drawBoundary() {
    const rgb = bytesOf(model.get("grid"));
    const n = meta.grid;
    if (rgb.length !== n * n * 3) return;
    const image = gridCtx.createImageData(n, n);
    for (let i = 0, j = 0; i < n * n; i++) {
      image.data[j++] = rgb[3 * i];
      image.data[j++] = rgb[3 * i + 1];
      image.data[j++] = rgb[3 * i + 2];
      image.data[j++] = 255;
    }
    gridCtx.putImageData(image, 0, 0);
    if (pointsOf !== model.get("points")) drawPoints();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "low"; // bilinear, as the static figure's PIL resize
    ctx.drawImage(grid, 0, 0, canvas.width, canvas.height);
    ctx.drawImage(dots, 0, 0);
  }

  function drawLoss() {
    const step = history.column("step");
    const last = history.n ? step[history.n - 1] : 0;
    const xmax = Math.max(128, 2 ** Math.ceil(Math.log2(Math.max(last, 1))));
    const low = Math.min(0.01, 10 ** Math.floor(Math.log10(Number.isFinite(history.lowest) ? history.lowest : 1)));
    const high = Math.max(5, 10 ** Math.ceil(Math.log10(Number.isFinite(history.highest) ? history.highest : 1)));
    lossPlot.batch(() => {
      lossPlot.setData([step, history.column("train_loss"), history.column("test_loss"), history.column("test_acc")], false);
      lossPlot.setScale("x", { min: 0, max: xmax });
      lossPlot.setScale("y", { min: low, max: high });
      lossPlot.setScale("acc", { min: 0, max: 1 });
    });
  }

  function drawLayers() {
    const data = floatsOf(model.get("layers"));
    if (!data.length) return;
    let at = 0;
    for (const { spec, plot } of panels) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const [ylow, yhigh] = [data[at], data[at + 1]];
      const values = data.subarray(at + 2, at + 2 + size);
      at += 2 + size;
      let series;
      let xlim;
      if (spec.kind === "histograms") {
        const [, depth, bins] = spec.shape;
        series = histogramData(values, depth, bins);
        xlim = [series[0][0], series[0][series[0].length - 1]];
      } else {
        const [keys, depth] = spec.shape;
        const x = Float64Array.from({ length: depth }, (_, i) => i + 1);
        series = [x];
        for (let k = 0; k < keys; k++) series.push(Array.from(values.subarray(k * depth, (k + 1) * depth), (v) => (Number.isNaN(v) ? null : v)));
        xlim = [0.5, depth + 0.5];
      }
      plot.batch(() => {
        plot.setData(series, false);
        plot.setScale("x", { min: xlim[0], max: xlim[1] });
        plot.setScale("y", { min: ylow, max: yhigh });
      });
    }
  }

  const drawMs = []; // the last 200 draws' durations (ms), for the browser suite's summary

  function draw() {
    scheduled = false;
    if (!meta || !meta.grid || !history) return;
    const start = performance.now();
    if (dirty.grid) drawBoundary();
    if (dirty.loss) drawLoss();
    if (dirty.layers) drawLayers();
    dirty = { grid: false, loss: false, layers: false };
    const step = history.last("step");
    canvas.setAttribute("aria-label", `Decision boundary of the network and the data points at step ${shown(step)}; train loss ${shown(history.last("train_loss"))}, test accuracy ${shown(history.last("test_acc"))}`);
    root.dataset.drawn = String(++drawn);
    root.dataset.frame = String(model.get("frame"));
    queueMicrotask(() => {
      // after uPlot's own commits (queued as microtasks by setData and setScale, before this one)
      drawMs.push(performance.now() - start);
      if (drawMs.length > 200) drawMs.shift();
    });
  }

  function schedule() {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(draw);
    }
  }

  function ingest() {
    // Apply the frame's history rows now (every message counts, even when drawing skips a frame).
    const at = model.get("loss_at");
    if (at <= history.n) {
      history.truncate(at);
      history.append(floatsOf(model.get("loss")));
    } else if (!asked) {
      asked = true; // rows before `at` were sent before this view existed: ask for them once
      model.send({ type: "history" });
    }
  }

  function onFrame() {
    if (!meta || (model.get("meta") || {}).version !== meta.version) build();
    if (!meta || !meta.grid) return;
    ingest();
    dirty = { grid: true, loss: true, layers: dirty.layers || layersOf !== model.get("layers") };
    layersOf = model.get("layers");
    root.dataset.received = String(model.get("frame"));
    schedule();
  }
  let layersOf = null;

  model.on("msg:custom", (message, buffers) => {
    if (message?.type !== "history" || !history) return;
    history.truncate(0);
    history.append(floatsOf(buffers?.[0]));
    asked = false;
    dirty.loss = true;
    schedule();
  });

  function resize() {
    // Panels share the width they are given (at most their own width each; wrapped below 180 px).
    const width = root.clientWidth;
    if (!width || !meta || !meta.sizes) return;
    const [pw, ph] = meta.sizes.panel;
    const count = Math.max(1, panels.length);
    const each = Math.max(180, Math.min(pw, Math.floor((width - 8 * (count - 1)) / count)));
    for (const { plot } of panels) plot.setSize({ width: each, height: ph });
    const [lw, lh] = meta.sizes.loss;
    lossPlot.setSize({ width: Math.max(260, Math.min(lw, width - side - 8)), height: lh });
  }
  const observer = new ResizeObserver(() => resize());
  observer.observe(root);

  model.on("change:frame", onFrame);
  model.on("change:meta", () => {
    build();
    onFrame();
  });
  root.actlab = {
    // for the browser tests: what was drawn, as numbers
    gridHex: () => {
      const data = gridCtx.getImageData(0, 0, grid.width, grid.height).data;
      let hex = "";
      for (let i = 0; i < data.length; i += 4)
        for (let k = 0; k < 3; k++) hex += data[i + k].toString(16).padStart(2, "0");
      return hex;
    },
    last: () => Object.fromEntries((history?.columns || []).map((c) => [c, history.last(c)])),
    rows: () => history?.n ?? 0,
    drawMs: () => drawMs.slice(),
    plots: () => [lossPlot, ...panels.map((p) => p.plot)],
  };
  onFrame();
  return () => {
    observer.disconnect();
    for (const p of [lossPlot, ...panels.map((p) => p.plot)]) if (p) p.destroy();
  };
}

export default { render };
