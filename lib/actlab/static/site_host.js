// The explorer on the course website, with no kernel: a static host for the same front end as in JupyterLab
// (explorer.js, drawn with the vendored uPlot that the page loads first as a classic script).
//
// tools/build_site.py embeds, in each explorer's output, the state actlab.explore.embedded_state computed with the
// registry: the product grid of every slider's steps (the curves for every combination of parameter values), as
// gzip + base64. This host decodes it, renders the controls in plain HTML (a range input per parameter, two for the
// input range) and gives explorer.js the model interface anywidget gives it (get/set/on/off/save_changes/send, bytes
// as DataView, host.getModel for the sliders). It plays the kernel's part: it sends explorer.js the curve at the
// current values and each slider's family with the others held (cut from the grid), puts back a value the
// activation's constraint refuses (to the nearest allowed step, saying why), and keeps the window at least
// min_width wide, as actlab.explore.Explorer does. No formula is written here: every value drawn is the registry's.
// Until the live view draws, the page shows the explorer's static picture; a browser without JavaScript, or one
// without DecompressionStream, keeps it.
import explorer, { widened } from "./explorer.js";

const SERIES = 3; // per curve: f(x), autograd f'(x), analytic f'(x)

class Model {
  // What anywidget gives a front end: attributes with change events (no kernel: save_changes and send do nothing).
  constructor(attributes) {
    this.attributes = { ...attributes };
    this.listeners = new Map();
  }
  get(name) {
    return this.attributes[name];
  }
  set(name, value) {
    const old = this.attributes[name];
    this.attributes[name] = value;
    if (old !== value) for (const callback of [...(this.listeners.get(`change:${name}`) || [])]) callback();
  }
  on(event, callback) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(callback);
  }
  off(event, callback) {
    if (!event) return this.listeners.clear();
    if (callback) this.listeners.get(event)?.delete(callback);
    else this.listeners.delete(event);
  }
  save_changes() {}
  send() {}
}

function bytesOf(base64) {
  // base64 text as bytes.
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

async function inflate(base64) {
  // base64 of gzip as an ArrayBuffer (the browser's own DecompressionStream).
  const stream = new Blob([bytesOf(base64)]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

class Grid {
  // The embedded state: every combination of slider values (row-major over meta.params), its label or refusal, and
  // its curves.
  constructor(meta, curves) {
    this.meta = meta;
    this.params = meta.params;
    this.n = meta.grid.points;
    this.curves = new Float32Array(curves);
  }

  combo(indices) {
    return indices.reduce((at, i, k) => at * this.params[k].values.length + i, 0);
  }

  refused(indices) {
    return this.meta.combos.refused[this.combo(indices)];
  }

  curve(indices, target, offset) {
    // Copy the curves of a combination into target at offset (NaN for a refused one).
    const at = this.meta.combos.index[this.combo(indices)];
    const size = SERIES * this.n;
    if (at < 0) target.fill(NaN, offset, offset + size);
    else target.set(this.curves.subarray(at * size, (at + 1) * size), offset);
  }

  message(indices) {
    // What explorer.js receives from a kernel at these slider positions: meta and the float32 buffers.
    const size = SERIES * this.n;
    const current = new Float32Array(size);
    this.curve(indices, current, 0);
    const values = Object.fromEntries(this.params.map((p, k) => [p.name, p.values[indices[k]]]));
    const families = [];
    const buffers = {};
    this.params.slice(0, this.meta.family_slots).forEach((p, k) => {
      const steps = p.values.map((_, i) => indices.map((j, m) => (m === k ? i : j)));
      const data = new Float32Array(steps.length * size);
      steps.forEach((at, i) => this.curve(at, data, i * size));
      buffers[`family${k}`] = new DataView(data.buffer);
      families.push({
        param: p.name, slot: k, low: p.values[0], step: p.step * this.meta.every, values: p.values,
        labels: steps.map((at) => this.meta.combos.labels[this.combo(at)]),
        refused: steps.map((at) => this.meta.combos.refused[this.combo(at)]),
      });
    });
    const meta = {
      name: this.meta.name, grid: this.meta.grid, min_width: this.meta.min_width, window: this.meta.window,
      style: this.meta.style, families,
      params: this.params.map((p) => ({ name: p.name, low: p.values[0], high: p.values.at(-1), step: p.step * this.meta.every })),
      current: { values, label: this.meta.combos.labels[this.combo(indices)] },
    };
    return { meta, current: new DataView(current.buffer), buffers };
  }
}

function nearest(values, value) {
  // The index of the value nearest to value.
  return values.reduce((best, v, i) => (Math.abs(v - value) < Math.abs(values[best] - value) ? i : best), 0);
}

function shown(v) {
  // A number as Python's :g prints it (as explorer.js shows it).
  return Number(Number(v).toPrecision(6)).toString();
}

function rangeInput(label, min, max, step, value, id) {
  // A labelled <input type=range> with a readout; returns {row, input, output}.
  const row = document.createElement("div");
  row.className = "actlab-site-slider";
  const name = document.createElement("label");
  name.htmlFor = id;
  name.textContent = label;
  const input = document.createElement("input");
  Object.assign(input, { type: "range", id, min: String(min), max: String(max), step: String(step), value: String(value) });
  const output = document.createElement("output");
  output.htmlFor = id;
  row.append(name, input, output);
  return { row, input, output };
}

let counter = 0;

function controls(grid, indices, windowValue) {
  // The sliders: one per parameter (over its site steps, by index) and the input range's two ends.
  const box = document.createElement("div");
  box.className = "actlab-site-controls";
  const prefix = `actlab-site-${++counter}`;
  const params = grid.params.map((p, k) => {
    const one = rangeInput(p.name, 0, p.values.length - 1, 1, indices[k], `${prefix}-${p.name}`);
    one.input.title = p.doc || "";
    return one;
  });
  const { min, max, step } = grid.meta.window_slider;
  const low = rangeInput("x from", min, max, step, windowValue[0], `${prefix}-x-low`);
  const high = rangeInput("x to", min, max, step, windowValue[1], `${prefix}-x-high`);
  low.row.classList.add("actlab-site-window");
  high.row.classList.add("actlab-site-window");
  box.append(...params.map((p) => p.row), low.row, high.row);
  const note = document.createElement("p");
  note.className = "actlab-site-note";
  const thinned = grid.meta.every > 1
    ? ` Here a slider moves ${grid.meta.every} of the notebook's steps at a time (${grid.params.map((p) => `${p.name} by ${shown(p.step * grid.meta.every)}`).join(", ")}), to keep the page small.`
    : "";
  note.textContent = `Drawn in your browser from curves the course's registry computed when this site was built (no kernel). ${grid.meta.display} only: the notebook's explorer switches activations.${thinned}`;
  box.append(note);
  return { box, params, low, high };
}

function nearestAllowed(grid, indices, k, wanted, old) {
  // The step of parameter k nearest to wanted on the way back to old that the constraint allows (as the kernel's
  // Explorer._nearest_allowed); old if none between.
  const direction = Math.sign(old - wanted);
  for (let i = wanted; i !== old; i += direction) {
    const trial = indices.map((j, m) => (m === k ? i : j));
    if (!grid.refused(trial)) return i;
  }
  return old;
}

async function start(container) {
  const script = container.querySelector("script.actlab-explorer-state");
  const state = JSON.parse(script.textContent);
  if (state.format !== "actlab-explorer/1") throw new Error(`unknown explorer state format ${state.format}`);
  const [metaBytes, curves] = await Promise.all([inflate(state.meta), inflate(state.curves)]);
  const grid = new Grid(JSON.parse(new TextDecoder().decode(metaBytes)), curves);
  let indices = grid.params.map((p) => nearest(p.values, p.default)); // the default (a step: site_steps)
  let kernelAt = indices.slice(); // the slider positions the view's meta was last sent for

  const sliders = grid.params.map((p, k) => new Model({ value: p.values[indices[k]] }));
  const { min, max } = grid.meta.window_slider;
  const windowModel = new Model({ value: grid.meta.window.slice(), min, max });
  const first = grid.message(indices);
  const view = new Model({
    meta: first.meta, current: first.current, ...first.buffers, error: "",
    slider_refs: sliders.map((_, k) => `slider${k}`), window_ref: "window",
  });
  const models = Object.fromEntries([...sliders.map((m, k) => [`slider${k}`, m]), ["window", windowModel]]);
  const host = { getModel: async (ref) => models[ref] };

  const ui = controls(grid, indices, grid.meta.window);
  const plot = document.createElement("div");
  plot.className = "actlab-site-plot";
  const live = document.createElement("div");
  live.className = "actlab-site-live";
  live.append(ui.box, plot);

  function send() {
    // Re-centre the view's curves on the current slider positions (what the kernel does after a move).
    const message = grid.message(indices);
    for (const [name, value] of Object.entries(message.buffers)) view.set(name, value);
    view.set("current", message.current);
    view.set("meta", { ...message.meta, version: (view.get("meta").version || 0) + 1 });
    kernelAt = indices.slice();
  }

  function readouts() {
    grid.params.forEach((p, k) => {
      const text = shown(p.values[indices[k]]);
      ui.params[k].input.value = String(indices[k]);
      ui.params[k].output.textContent = text;
      ui.params[k].input.setAttribute("aria-valuetext", `${p.name} = ${text}`);
    });
    const [low, high] = windowModel.get("value");
    ui.low.input.value = String(low);
    ui.high.input.value = String(high);
    ui.low.output.textContent = shown(low);
    ui.high.output.textContent = shown(high);
  }

  ui.params.forEach(({ input }, k) => {
    input.addEventListener("input", () => {
      let wanted = Number(input.value);
      // Another slider moved since the view's curves were sent: send those at the current positions first.
      if (indices.some((i, m) => m !== k && i !== kernelAt[m])) send();
      const trial = indices.map((j, m) => (m === k ? wanted : j));
      const problem = grid.refused(trial);
      if (problem) {
        const p = grid.params[k];
        wanted = nearestAllowed(grid, indices, k, wanted, indices[k]);
        view.set("error", `${p.name}=${shown(p.values[Number(input.value)])} refused: ${problem}`);
      } else view.set("error", "");
      indices = indices.map((j, m) => (m === k ? wanted : j));
      readouts();
      sliders[k].set("value", grid.params[k].values[wanted]);
    });
  });

  for (const end of [ui.low, ui.high]) {
    end.input.addEventListener("input", () => {
      // The window at least min_width wide, pushing the other end (limits permitting), as Explorer._widened does.
      const wanted = [Number(ui.low.input.value), Number(ui.high.input.value)];
      windowModel.set("value", widened(...wanted, grid.meta.min_width, min, max, end === ui.low) || wanted);
      readouts();
    });
  }

  readouts();
  container.append(live);
  try {
    explorer.render({ model: view, el: plot, host });
  } catch (error) {
    live.remove(); // no dead sliders beside the static picture
    throw error;
  }
  plot.querySelector(".actlab-plot").addEventListener("actlab-drawn", () => {
    // The live view draws: it replaces the static picture.
    container.querySelector("img.actlab-static")?.remove();
    container.dataset.live = "true";
  }, { once: true });
}

for (const container of document.querySelectorAll(".actlab-site-explorer")) {
  if (typeof DecompressionStream === "undefined" || typeof uPlot === "undefined") continue; // the picture stays
  start(container).catch((error) => {
    container.dataset.live = "failed";
    console.error("actlab explorer:", error);
  });
}
