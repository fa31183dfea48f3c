// The explorer's plot, drawn in the browser (anywidget front end; actlab/explore.py prepends uPlot.iife.min.js,
// which defines `uPlot`). The kernel sends every curve as float32 bytes: the curve at its parameters ("current")
// and, for each parameter, the curve at every step of its slider with the other parameters held at the current
// values. A parameter or input-range move is drawn from those arrays with no kernel round trip; values that differ
// from the current ones in two parameters at once wait for the kernel's next message ("updating").
// No activation formula is written here: every value drawn was computed by the registry (torch).

const SERIES = 3; // per curve: f(x), autograd f'(x), analytic f'(x)

const FLOATS = new WeakMap(); // DataView -> its Float32Array: a family the kernel did not resend is not copied again

function floats(view) {
  // A DataView (or ArrayBuffer) of little-endian float32 values as a Float32Array (copied: offsets may be unaligned).
  if (!view || !view.byteLength) return new Float32Array(0);
  if (!FLOATS.has(view)) FLOATS.set(view, copy(view));
  return FLOATS.get(view);
}

function copy(view) {
  const buffer = view.buffer ?? view;
  const start = view.byteOffset ?? 0;
  return new Float32Array(buffer.slice(start, start + view.byteLength));
}

function near(a, b, tolerance) {
  return Math.abs(a - b) <= tolerance;
}

function sameShown(painted, shown, arrays) {
  // Whether the plots already show exactly this: the same label, window, y limits and curve values.
  return (
    painted.shown.length === shown.length &&
    painted.shown.every((v, i) => v === shown[i]) &&
    arrays.every((a, k) => a.length === painted.arrays[k].length && a.every((v, i) => Object.is(v, painted.arrays[k][i])))
  );
}

export function widened(low, high, width, lowest, highest, movedLow) {
  // The window [low, high] at least width wide, pushing the end that did not move (the high end when movedLow) within
  // [lowest, highest], as the kernel's Explorer._widened does to the slider; null if it is wide enough already.
  if (high - low >= width - 1e-9) return null;
  if (movedLow) {
    high = Math.min(highest, low + width);
    return [high - width, high];
  }
  low = Math.max(lowest, high - width);
  return [low, low + width];
}

function padded(low, high) {
  // Axis limits around [low, high] with an 8% margin; a flat line gets a unit band (as the static figure does).
  if (!Number.isFinite(low) || !Number.isFinite(high)) return [-1, 1];
  const span = high - low;
  if (span < 1e-9) return [low - 1, high + 1];
  return [low - 0.08 * span, high + 0.08 * span];
}

function shown(v) {
  // A number as Python's :g prints it, for the description.
  return Number(v.toPrecision(6)).toString();
}

function legendValue(u, v) {
  // The legend's readout under the cursor (uPlot passes the raw value, or nothing off the data).
  return typeof v === "number" && Number.isFinite(v) ? shown(v) : "–";
}

class Curves {
  // Every array the kernel sent for one activation, and the choice of the one to draw for given slider values.
  constructor(model) {
    this.meta = model.get("meta") || {};
    const grid = this.meta.grid || { low: -20, high: 20, points: 2 };
    this.n = grid.points;
    this.x = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) this.x[i] = grid.low + ((grid.high - grid.low) * i) / (this.n - 1);
    this.current = floats(model.get("current"));
    this.families = (this.meta.families || []).map((f) => ({ ...f, data: floats(model.get(`family${f.slot}`)) }));
    this.extent = new Map();
  }

  pick(values) {
    // {data, offset, label} for the slider values, {refused, param} for a step the constraint refuses, or null.
    const held = this.meta.current?.values || {};
    const names = Object.keys(held);
    const moved = names.filter((k) => !near(values[k], held[k], 1e-9 * Math.max(1, Math.abs(held[k]))));
    if (moved.length === 0) return { data: this.current, offset: 0, label: this.meta.current.label };
    if (moved.length > 1) return null;
    const family = this.families.find((f) => f.param === moved[0]);
    if (!family) return null;
    const i = Math.round((values[family.param] - family.low) / family.step);
    if (i < 0 || i >= family.values.length || !near(family.values[i], values[family.param], family.step * 1e-3))
      return null;
    if (family.refused[i]) return { refused: family.refused[i], param: family.param };
    return { data: family.data, offset: i * SERIES * this.n, label: family.labels[i] };
  }

  limits(low, high) {
    // Y limits of the function and derivative panels holding every curve sent (all steps of all sliders) inside
    // [low, high], so the axes stay still while a slider is dragged.
    const key = `${low},${high}`;
    if (this.extent.has(key)) return this.extent.get(key);
    const i0 = Math.max(0, Math.floor(((low - this.x[0]) / (this.x[this.n - 1] - this.x[0])) * (this.n - 1)));
    const i1 = Math.min(this.n - 1, Math.ceil(((high - this.x[0]) / (this.x[this.n - 1] - this.x[0])) * (this.n - 1)));
    const span = [[Infinity, -Infinity], [Infinity, -Infinity]];
    const scan = (data, offset) => {
      for (let s = 0; s < SERIES; s++) {
        const panel = span[s === 0 ? 0 : 1];
        const base = offset + s * this.n;
        for (let i = i0; i <= i1; i++) {
          const v = data[base + i];
          if (Number.isFinite(v)) {
            if (v < panel[0]) panel[0] = v;
            if (v > panel[1]) panel[1] = v;
          }
        }
      }
    };
    if (this.current.length) scan(this.current, 0);
    for (const f of this.families)
      for (let k = 0; k < f.values.length; k++) if (!f.refused[k]) scan(f.data, k * SERIES * this.n);
    const result = [padded(...span[0]), padded(...span[1])];
    this.extent.set(key, result);
    return result;
  }
}

function readStyle(meta) {
  const s = meta.style || {};
  return {
    font: `${s.font_px || 15}px sans-serif`,
    small: `${s.small_px || 14}px sans-serif`,
    title: s.title_px || 17,
    line: s.line_px || 2,
    function: s.function || "#0072B2",
    derivative: s.derivative || "#D55E00",
    reference: s.reference || "#000000",
  };
}

function axisSize(self, values, axisIdx, cycleNum) {
  // Room for the longest tick label (uPlot's own recipe for auto-sized axes).
  const axis = self.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  let size = axis.ticks.size + axis.gap;
  const longest = (values ?? []).reduce((a, v) => (v.length > a.length ? v : a), "");
  if (longest !== "") {
    self.ctx.font = axis.font[0];
    size += self.ctx.measureText(longest).width / devicePixelRatio;
  }
  return Math.ceil(size);
}

function zeroLines(u) {
  // The lines through the origin, light grey, under the curves (as the static figure draws them).
  const { ctx, bbox } = u;
  ctx.save();
  ctx.strokeStyle = "#999999";
  ctx.lineWidth = devicePixelRatio;
  const x0 = u.valToPos(0, "x", true);
  const y0 = u.valToPos(0, "y", true);
  ctx.beginPath();
  if (x0 >= bbox.left && x0 <= bbox.left + bbox.width) {
    ctx.moveTo(x0, bbox.top);
    ctx.lineTo(x0, bbox.top + bbox.height);
  }
  if (y0 >= bbox.top && y0 <= bbox.top + bbox.height) {
    ctx.moveTo(bbox.left, y0);
    ctx.lineTo(bbox.left + bbox.width, y0);
  }
  ctx.stroke();
  ctx.restore();
}

function makePlot(target, title, yLabel, series, style) {
  const axis = (label) => ({
    label,
    stroke: "#000000",
    font: style.small,
    labelFont: style.font,
    grid: { stroke: "rgba(0, 0, 0, 0.12)", width: 1 },
    ticks: { stroke: "rgba(0, 0, 0, 0.4)", width: 1, size: 5 },
    size: axisSize,
  });
  return new uPlot(
    {
      title,
      width: 400,
      height: 280,
      scales: { x: { time: false, auto: false }, y: { auto: false } },
      axes: [{ ...axis("x"), size: 50 }, axis(yLabel)],
      pxAlign: 0, // curves at sub-pixel positions: no staircase on sloped lines
      series: [{ label: "x", value: legendValue }, ...series.map((one) => ({ points: { show: false }, ...one }))],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      hooks: { drawAxes: [zeroLines] },
    },
    [[], ...series.map(() => [])],
    target,
  );
}

function render({ model, el, host }) {
  const root = document.createElement("div");
  root.className = "actlab-plot";
  const panels = document.createElement("div");
  panels.className = "actlab-panels";
  panels.setAttribute("role", "img");
  const description = document.createElement("p");
  description.className = "actlab-description";
  description.id = `actlab-description-${Math.random().toString(36).slice(2)}`;
  description.setAttribute("aria-live", "polite");
  panels.setAttribute("aria-describedby", description.id);
  const message = document.createElement("p");
  message.className = "actlab-message";
  message.setAttribute("role", "status");
  root.append(panels, description, message);
  el.append(root);

  let curves = new Curves(model);
  const style = readStyle(curves.meta);
  root.style.setProperty("--actlab-title-px", `${style.title}px`);
  root.style.setProperty("--actlab-small-px", style.small.split("px")[0] + "px");
  const plotF = makePlot(panels, " ", "f(x)", [{ label: "f(x)", stroke: style.function, width: style.line, value: legendValue }], style);
  const plotD = makePlot(panels, "derivative f'(x)", "f'(x)", [
    { label: "autograd", stroke: style.derivative, width: style.line, value: legendValue },
    { label: "analytic", stroke: style.reference, width: style.line / 2, dash: [6, 4], value: legendValue },
  ], style);
  const titleF = plotF.root.querySelector(".u-title");

  let sliders = []; // [{name, model}]
  let windowModel = null;
  let accepted = {}; // the last slider values drawn (a refused step goes back to these)
  let lastWindow = null;
  let drawn = 0;
  let painted = null; // what the plots show now: {shown: [label, values, window, y limits], arrays: [y, dy, dya]}
  let subscriptions = [];
  let generation = 0;

  const values = () => Object.fromEntries(sliders.map((s) => [s.name, s.model.get("value")]));
  const windowValue = () => (windowModel ? windowModel.get("value") : model.get("meta")?.window || [-6, 6]);

  function describe(label, low, high, pending) {
    const text = `Plot of ${label} and its derivative on [${shown(low)}, ${shown(high)}]`;
    description.textContent = pending ? `${text} (updating…)` : text;
    root.dataset.label = label;
    root.dataset.name = curves.meta.name || "";
    root.dataset.window = JSON.stringify([low, high]);
  }

  function widen(low, high) {
    // The window at least meta.min_width wide (widened), pushing the handle that did not move; null if wide enough.
    const movedLow = !lastWindow || low !== lastWindow[0];
    return widened(low, high, curves.meta.min_width || 1, windowModel.get("min"), windowModel.get("max"), movedLow);
  }

  function draw() {
    const now = values();
    let [low, high] = windowValue();
    const wider = windowModel ? widen(low, high) : null;
    if (wider) [low, high] = wider; // drawn at the minimum width; the kernel moves the handle (it alone writes)
    lastWindow = [low, high];
    let choice = curves.pick(now);
    if (choice && choice.refused) {
      // The step is refused by the activation's constraint: say so, keep drawing the last values accepted. The
      // kernel, when there is one, puts the slider back (one authority: two reverting raced each other).
      message.textContent = `${choice.param}=${shown(now[choice.param])} refused: ${choice.refused}`;
      now[choice.param] = accepted[choice.param];
      choice = curves.pick(now);
    } else if (choice) {
      const same = Object.keys(now).every((k) => near(now[k], accepted[k], 1e-9 * Math.max(1, Math.abs(now[k]))));
      if (!same) message.textContent = model.get("error") || ""; // a new value clears an old refusal
      accepted = now;
    }
    const [limitsF, limitsD] = curves.limits(low, high);
    if (choice && choice.data) {
      const { data, offset, label } = choice;
      const n = curves.n;
      const y = data.subarray(offset, offset + n);
      const dy = data.subarray(offset + n, offset + 2 * n);
      const dya = data.subarray(offset + 2 * n, offset + 3 * n);
      const shown = [label, JSON.stringify(now), low, high, ...limitsF, ...limitsD];
      if (painted && sameShown(painted, shown, [y, dy, dya])) return; // a late echo of what is on screen: no repaint
      painted = { shown, arrays: [y, dy, dya].map((a) => a.slice()) };
      plotF.batch(() => {
        plotF.setData([curves.x, y], false);
        plotF.setScale("x", { min: low, max: high });
        plotF.setScale("y", { min: limitsF[0], max: limitsF[1] });
      });
      plotD.batch(() => {
        plotD.setData([curves.x, dy, dya], false);
        plotD.setScale("x", { min: low, max: high });
        plotD.setScale("y", { min: limitsD[0], max: limitsD[1] });
      });
      titleF.textContent = label;
      describe(label, low, high, false);
      root.dataset.params = JSON.stringify(now);
    } else {
      // values two sliders apart from the kernel's: the window still moves, the curves wait for the kernel
      painted = null;
      for (const [plot, limits] of [[plotF, limitsF], [plotD, limitsD]])
        plot.batch(() => {
          plot.setScale("x", { min: low, max: high });
          plot.setScale("y", { min: limits[0], max: limits[1] });
        });
      describe(root.dataset.label || "", low, high, true);
    }
    root.dataset.drawn = String(++drawn);
    root.dispatchEvent(new CustomEvent("actlab-drawn", { detail: { drawn } }));
  }

  async function subscribe() {
    // Listen to the parameter sliders and the input-range slider (ipywidgets models) in the browser.
    const mine = ++generation;
    for (const [m, callback] of subscriptions) m.off("change:value", callback);
    subscriptions = [];
    const refs = model.get("slider_refs") || [];
    const names = (model.get("meta")?.params || []).map((p) => p.name);
    const models = await Promise.all(refs.map((ref) => host.getModel(ref)));
    const windowRef = model.get("window_ref");
    const win = windowRef ? await host.getModel(windowRef) : null;
    if (mine !== generation) return; // a newer activation arrived meanwhile
    sliders = models.map((m, i) => ({ name: names[i], model: m }));
    windowModel = win;
    for (const m of [...models, ...(win ? [win] : [])]) {
      m.on("change:value", draw);
      subscriptions.push([m, draw]);
    }
    draw();
  }

  let subscribed = null; // the slider references listened to
  function reload() {
    // New curves from the kernel: listen to new sliders if the activation changed, then draw.
    curves = new Curves(model);
    const refs = JSON.stringify([model.get("slider_refs"), model.get("window_ref")]);
    if (refs === subscribed) return draw();
    subscribed = refs;
    subscribe();
  }

  const resize = new ResizeObserver(() => {
    const width = panels.clientWidth;
    const each = width >= 2 * 320 ? Math.floor(width / 2) - 8 : width;
    for (const plot of [plotF, plotD]) plot.setSize({ width: Math.max(240, each), height: 280 });
  });
  resize.observe(panels);

  model.on("change:meta", reload);
  model.on("change:error", () => (message.textContent = model.get("error") || ""));
  root.actlab = { plots: [plotF, plotD], curves: () => curves, values, draw };
  reload();
  return () => {
    resize.disconnect();
    for (const [m, callback] of subscriptions) m.off("change:value", callback);
    plotF.destroy();
    plotD.destroy();
  };
}

export default { render };
