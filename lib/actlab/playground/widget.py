"""The playground's widget: the controls (made from settings.SETTINGS), the buttons and the one live loop.

While it trains, an asyncio task on the kernel's event loop trains in slices of SLICE seconds and yields after
each, sending a frame fps times a second to the browser, which draws it (board.Board: a few KB of arrays a frame),
so button clicks, slider moves and other cells run in between (checked in tests/test_browser_playground.py). One
loop at most, whatever the clicks: pause and reset cancel it, and start waits for a cancelled one to end
(Playground._stop). There is no training thread: training and drawing take turns
on the kernel's one thread. A frame that costs much CPU (a big net) lowers the frame rate rather than training's
share of the time below TRAIN_SHARE; the per-layer statistics and panels come every LAYER_EVERY-th frame.
Widget callbacks never raise: a refused value is shown in the status line with its reason (_guarded).
"""
from __future__ import annotations

import asyncio
import base64
import functools
import math
import time
from io import BytesIO

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ..activations import activation_names, lookup
from ..checks import check_number
from ..cores import sharing_enabled
from ..seeding import one_thread
from .board import Board
from .engine import Engine
from .settings import LIVE, SETTINGS, Setting, code_line, settings_doc
from .view import View

FPS = 25  # frames per second the live view aims at (the browser draws them: issue 22's target is at least 20)
TRAIN_SHARE = 0.85  # the least share of the live loop's time left to training: a costly frame lowers the frame rate
LAYER_EVERY = 2  # the per-layer statistics and panels are measured and drawn every LAYER_EVERY-th frame
SLICE = 0.03  # seconds of training between two yields to the event loop: bounds the delay before a click is seen
READOUT_PERIOD = 0.2  # seconds between two readout texts while training (the board itself gets every frame)


def _guarded(method):
    """A widget callback that never raises: any error is shown in the widget's status line with its reason."""

    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - shown to the reader, never raised into the kernel
            self._refuse(exc)

    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper



# Layout: JupyterLab at 1366x768 gives the output about 935 x 650 px with the file browser open, a projector at
# 1024x768 and 125% zoom about 390 px wide. Controls have fixed widths and wrap onto a new line rather than shrink
# or leave the screen; a slider is never narrower than SLIDER_PX, so its track (its width less the description,
# the readout and margins: about 180 px) keeps at least 150 px: a 1-512 width or five decades of learning rate
# can then be set with the mouse. Checked in tests/test_browser_layout.py.
STYLE = {"description_width": "72px"}  # every description the same width: the controls line up
SLIDER_PX = 330  # the least width of a slider, description and readout included
WIDTHS = {"dropdown": "200px", "number": "180px", "checkbox": "110px"}  # the other controls' widths


def _slider_layout() -> widgets.Layout:
    """A slider: at least SLIDER_PX wide, growing into the free width of its line up to 1.4 times that (the
    sliders of a row stay about as long as each other)."""
    return widgets.Layout(width="auto", min_width=f"{SLIDER_PX}px", max_width=f"{1.4 * SLIDER_PX:.0f}px",
                          flex=f"1 1 {SLIDER_PX}px")


def _fixed(width: str) -> widgets.Layout:
    """A control of a fixed width that neither grows nor shrinks in its row."""
    return widgets.Layout(width=width, flex="0 0 auto")


def _row(children, width: str = "100%", flex: str | None = None) -> widgets.HBox:
    """A row of controls that wraps onto a new line when the width runs out (width, flex: its own CSS layout)."""
    return widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap", align_items="center",
                                                              width=width, flex=flex))


def control(setting: Setting, value) -> widgets.Widget:
    """The control a setting's widget kind names, at value, over the setting's valid (or shown) range."""
    s = setting
    low, high = s.shown or (s.low, s.high)
    slider = dict(value=value, description=s.label, continuous_update=False, layout=_slider_layout(), style=STYLE)
    if s.widget == "dropdown":
        made = widgets.Dropdown(options=s.choices, value=value, description=s.label, layout=_fixed(WIDTHS["dropdown"]),
                                style=STYLE)
    elif s.widget == "slider" and s.integer:
        made = widgets.IntSlider(min=low, max=high, **slider)
    elif s.widget == "slider":
        made = widgets.FloatSlider(min=low, max=high, step=s.step, **slider)
    elif s.widget == "log_slider":
        made = widgets.FloatLogSlider(base=10, min=math.log10(low), max=math.log10(high), step=s.step,
                                      readout_format=".2g", **slider)
    elif s.widget == "number":
        made = widgets.BoundedIntText(value=value, min=low, max=high, description=s.label,
                                      layout=_fixed(WIDTHS["number"]), style=STYLE)
    elif s.widget == "checkbox":
        made = widgets.Checkbox(value=value, description=s.label, indent=False, layout=_fixed(WIDTHS["checkbox"]))
    else:  # text: an empty field means None
        made = widgets.Text(value=value or "", description=s.label, placeholder="x1, x2, label per row",
                            continuous_update=False, style=STYLE,
                            layout=widgets.Layout(width="auto", min_width="300px", max_width="460px", flex="1 1 300px"))
    return made


def _html_with_class(css_class: str, layout=None) -> widgets.HTML:
    """An HTML widget carrying a CSS class (the browser tests find it by that)."""
    html = widgets.HTML(layout=layout) if layout is not None else widgets.HTML()
    html.add_class(css_class)
    return html


class Playground(widgets.VBox):
    """The live playground widget; `run(steps)` trains headless. Settings as in actlab.playground.

    clock: the monotonic clock (seconds) the live loop paces its frames by, time.perf_counter; tests replace it
    with a fake one so that no verdict depends on the machine's load.
    """

    def __init__(self, data=None, fps: float = FPS, **config):
        self.engine = Engine(config, data)
        self.data_name = "data" if data is not None else None
        self.fps = float(check_number("fps", fps, 0.5, 60))
        self.view = View(self.engine)
        self._task = None
        self._running = False
        self._syncing = False
        self._code_for, self._readout_at = None, -math.inf  # the code line's configuration; readout time
        self._share_cores = None  # CoreTurns(enabled=...) for the live loop; False when ACTLAB_SHARE_CORES is bad
        self.clock = time.perf_counter
        self.frames, self.frame_times, self.frame_cpu = 0, [], []
        self._build_controls()
        self.board = Board(layout=widgets.Layout(width="100%", max_width="1000px"))  # the view, drawn in the browser
        super().__init__([self.controls, self._picture(), self.code])
        self.add_class("actlab-playground")
        if not self.engine.history:
            self.engine.record()
        self.redraw()

    # -- headless API
    def run(self, steps: int, record_every: int = 10) -> "Playground":
        """Train `steps` steps synchronously (no event loop needed), then redraw once."""
        self.engine.run(steps, record_every)
        self.redraw()
        return self

    @property
    def history(self):
        """DataFrame: one row per record (step, train/test loss and accuracy, mean mini-batch loss)."""
        return self.engine.history_frame()

    @property
    def layer_stats(self):
        """DataFrame: one row per (record, hidden layer) with mean, std, saturated, dead, near-dead and near-zero
        fractions (actlab.vocabulary's terms on the PROBE training points, via actlab.stats.layer_stats), gradient
        norm and log10 update ratio."""
        return self.engine.layer_frame()

    @property
    def config(self) -> dict:
        """The current settings, as actlab.playground(**config) takes them."""
        c = dict(self.engine.config)
        c["activation"], c["params"] = list(c["activation"]), [dict(p) for p in c["params"]]
        return c

    def code_line(self) -> str:
        """One line of Python that rebuilds this configuration (user arrays appear as data=data)."""
        return code_line(self.engine.config, self.data_name)

    def plot(self, title: str = "") -> Figure:
        """A static figure of the current state: boundary, loss and the layer panel, stacked (title on top)."""
        fig = Figure(figsize=(10.5, 6.2), dpi=80, layout="constrained")
        if title:
            fig.suptitle(title, fontsize=11)
        top, bottom = fig.subfigures(2, 1, height_ratios=[3.3, 2.7])
        ax_b, ax_l = top.subplots(1, 2, width_ratios=[1, 1.3])
        frames = self.view.frame()
        for ax, jpeg in zip((ax_b, ax_l), frames[:2]):
            ax.imshow(Image.open(BytesIO(jpeg)))
            ax.set_axis_off()
        ax = bottom.subplots()  # the layer figure: one panel per entry of PANELS
        ax.imshow(Image.open(BytesIO(frames[2])))
        ax.set_axis_off()
        return fig

    def plot_colorful_dimension(self, title: str = "") -> Figure:
        """fastai's colorful dimension of this run: each hidden layer's output histogram over the recorded steps."""
        from ..stats import plot_colorful_dimension

        return plot_colorful_dimension(self.engine, title)

    def updates(self):
        """DataFrame of the recorded update ratios as stats.plot_update_ratios takes them: step, parameter
        (linears.{i}.weight, input side first) and log10_ratio (-inf where a weight did not move)."""
        frame = self.layer_stats
        frame = frame[frame["step"] > 0]  # the record at step 0 comes before any update
        return frame.assign(parameter=[f"linears.{layer - 1}.weight" for layer in frame["layer"]],
                            log10_ratio=frame["update_ratio"])[["step", "parameter", "log10_ratio"]]

    def plot_update_ratios(self, title: str = "") -> Figure:
        """Karpathy's view of this run: each hidden layer's log10 update/weight ratio over the recorded steps,
        with the 1e-3 guide; raises ValueError before the first recorded update."""
        from ..stats import plot_update_ratios

        return plot_update_ratios(self.updates(), title)

    def plot_activation_histograms(self, title: str = "") -> Figure:
        """Karpathy's layout at the current weights: every hidden layer's output histogram on the probe points."""
        from ..stats import plot_activation_histograms

        with self.engine.own_generator():  # RReLU draws in training mode: from the run's generator
            return plot_activation_histograms(self.engine.model, self.engine.probe, title)

    def plot_gradient_histograms(self, title: str = "") -> Figure:
        """The UvA view at the current weights: a histogram of each weight tensor's gradient on the training set."""
        from ..stats import plot_gradient_histograms

        with self.engine.own_generator():
            return plot_gradient_histograms(self.engine.model, self.engine.x_train, self.engine.y_train, title)

    def static_png(self) -> bytes:
        """The view's Matplotlib images of the current state stacked into one PNG, for viewers without widgets."""
        images = [Image.open(BytesIO(v)).convert("RGB") for v in self.view.frame()]
        width = max(images[0].width + images[1].width, images[2].width)
        sheet = Image.new("RGB", (width, max(images[0].height, images[1].height) + images[2].height), "white")
        sheet.paste(images[0], (0, 0))
        sheet.paste(images[1], (images[0].width, 0))
        sheet.paste(images[2], (0, max(images[0].height, images[1].height)))
        buffer = BytesIO()
        sheet.save(buffer, format="png")
        return buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        return {**data, "image/png": base64.b64encode(self.static_png()).decode("ascii")}, metadata

    # -- controls
    def _build_controls(self) -> None:
        """The setting widgets in rows (SETTINGS' row), the layer/activation pickers with the parameter sliders, the
        status line, and the buttons beside the readout (step, loss, accuracy): self.controls, shown above the
        picture so that a laptop screen holds the controls, the start button, the readout and the picture."""
        self.w = self._setting_widgets()
        for name, control in self.w.items():
            control.observe(functools.partial(self._on_widget, name), names="value")
        c = self.engine.config
        self.layer_pick = widgets.Dropdown(options=self._layer_options(), value="all", description="layer",
                                           layout=_fixed("150px"), style=STYLE)
        self.act_pick = widgets.Dropdown(options=activation_names(), value=c["activation"][0],
                                         description="activation", layout=_fixed("250px"), style=STYLE)
        self.param_box = _row([], width="auto", flex=f"1 1 {SLIDER_PX}px")  # the sliders _param_sliders makes
        self.layer_pick.observe(self._on_layer_pick, names="value")
        self.act_pick.observe(self._on_activation, names="value")
        self.buttons = {name: self._button(name, icon) for name, icon in
                        (("start", "play"), ("pause", "pause"), ("step", "step-forward"), ("reset", "undo"))}
        self.status = _html_with_class("actlab-status", widgets.Layout(width="100%"))
        self.readout = _html_with_class("actlab-readout", widgets.Layout(flex="1 1 300px", min_width="0"))
        self.code = widgets.Textarea(layout=widgets.Layout(width="99%", height="3.2em"), disabled=False)
        self.code.add_class("actlab-code")
        rows = [[self.w[s.name] for s in SETTINGS if s.row == row and s.name in self.w] for row in range(4)]
        rows[2] = [self.layer_pick, self.act_pick, self.param_box]  # the per-layer activation pickers
        self.controls = widgets.VBox([_row(row) for row in rows]
                                     + [self.status, _row([*self.buttons.values(), self.readout])])
        self._sync_controls()

    def _picture(self) -> widgets.Widget:
        """The view: the board (board.Board, drawn in the browser): the decision boundary beside the loss curves, the
        per-layer panels below, at most 1000 px wide and scaled to the width there is. The one place the picture is
        put together."""
        self.board.add_class("actlab-picture")
        return self.board

    def _setting_widgets(self) -> dict:
        """One control per setting of SETTINGS (but the per-layer activation and params), at its current value."""
        c = self.engine.config
        return {s.name: control(s, c[s.name]) for s in SETTINGS if s.widget != "layers"}

    def _on_widget(self, name: str, change: dict) -> None:
        """A setting widget moved: pass its value on (an empty csv field means no file)."""
        self._on_setting(name, (change["new"] or None) if name == "csv" else change["new"])

    def _button(self, name: str, icon: str) -> widgets.Button:
        """A control button calling self._on_<name>, with a CSS class the browser tests find it by."""
        button = widgets.Button(description=name, icon=icon, layout=widgets.Layout(width="auto", flex="0 0 auto"))
        button.add_class(f"actlab-{name}")
        button.on_click(getattr(self, f"_on_{name}"))
        return button

    def _layer_options(self) -> list:
        return ["all"] + list(range(1, self.engine.config["depth"] + 1))

    def _selected_layers(self) -> list[int]:
        pick = self.layer_pick.value
        return list(range(self.engine.config["depth"])) if pick == "all" else [pick - 1]

    def _param_sliders(self) -> None:
        """One slider per parameter of the chosen activation, at the selected layer's values."""
        name = lookup(self.act_pick.value).name
        current = self.engine.config["params"][self._selected_layers()[0]]
        same = self.engine.config["activation"][self._selected_layers()[0]] == name
        sliders = []
        for p in lookup(name).params:
            slider = widgets.FloatSlider(value=current.get(p.name, p.default) if same else p.default, min=p.low,
                                         max=p.high, step=p.step, description=p.name, continuous_update=False,
                                         readout_format=".3g", layout=_slider_layout(), style=STYLE)
            slider.observe(self._on_param, names="value")
            sliders.append(slider)
        self.param_box.children = sliders

    def _set_status(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#333"
        self.status.value = f"<span style='color:{colour}'>{text}</span>"

    def _refuse(self, exc: Exception) -> None:
        """Show why a value was refused and put the controls back to the settings in use."""
        self._set_status(f"refused: {exc}", error=True)
        self._sync_controls()

    def _sync_controls(self) -> None:
        """Make every control show the engine's configuration (without triggering the callbacks)."""
        c = self.engine.config
        self._syncing = True
        try:
            for name, control in self.w.items():
                value = (c[name] or "") if name == "csv" else c[name]
                if control.value != value:
                    control.value = value
            own_data = self.engine.data_arrays is not None or bool(c["csv"])
            for name in ("dataset", "noise", "n"):  # they do not apply to the reader's own points
                self.w[name].disabled = own_data
            self.w["csv"].disabled = self.engine.data_arrays is not None
            if list(self.layer_pick.options) != self._layer_options():
                self.layer_pick.options = self._layer_options()
                self.layer_pick.value = "all"
            self.act_pick.value = c["activation"][self._selected_layers()[0]]
            self._param_sliders()
        finally:
            self._syncing = False

    @_guarded
    def _on_setting(self, name: str, value) -> None:
        if self._syncing:
            return
        rebuilt = self._apply(**{name: value})
        what = "rebuilt from the seed" if rebuilt else ("applied on resume" if not self._running else "applied")
        self._set_status(f"{name} = {value!r}: {what}")

    def _apply(self, **changes) -> bool:
        """Apply settings to the engine; redraw the whole view when the run was rebuilt. Returns whether it was."""
        before = self.engine.step_count
        changed = self.engine.update(**changes)
        rebuilt = any(k not in LIVE for k in changed) or (before and self.engine.step_count == 0)
        if rebuilt:
            self.engine.record()
            self.view.layout()
            self._sync_controls()
        elif any(k in changed for k in ("activation", "params")):
            self.view.layout()  # histogram ranges follow the activations
        self.redraw()
        return bool(rebuilt)

    @_guarded
    def _on_layer_pick(self, change=None) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.act_pick.value = self.engine.config["activation"][self._selected_layers()[0]]
            self._param_sliders()
        finally:
            self._syncing = False

    def _layer_settings(self, name: str, params: dict) -> dict:
        acts, plist = list(self.engine.config["activation"]), [dict(p) for p in self.engine.config["params"]]
        for i in self._selected_layers():
            acts[i], plist[i] = name, dict(params)
        return {"activation": acts, "params": plist}

    @_guarded
    def _on_activation(self, change=None) -> None:
        if self._syncing:
            return
        name = lookup(self.act_pick.value).name
        self._apply(**self._layer_settings(name, {}))
        self._syncing = True
        try:
            self._param_sliders()
        finally:
            self._syncing = False
        where = "all layers" if self.layer_pick.value == "all" else f"layer {self.layer_pick.value}"
        self._set_status(f"{where}: {lookup(name).display} ({'applied' if self._running else 'applied on resume'})")

    @_guarded
    def _on_param(self, change=None) -> None:
        if self._syncing:
            return
        params = {s.description: s.value for s in self.param_box.children}
        self._apply(**self._layer_settings(lookup(self.act_pick.value).name, params))
        self._set_status(f"{lookup(self.act_pick.value).label(**params)}: {'applied' if self._running else 'applied on resume'}")

    @_guarded
    def _on_start(self, button=None) -> None:
        """Start the live loop unless one runs (clicking again does nothing); see _stop for the one-loop rule."""
        if self._running:
            return
        loop = self._event_loop()
        if loop is None:
            self._set_status("refused: no running event loop here (outside a notebook kernel); use run(steps)",
                             error=True)
            return
        if self.engine.status == "diverged":
            self._set_status(f"refused: {self.engine.message}", error=True)
            return
        self._share_cores, why = self._turns_setting()
        self._running = True
        self.engine.status = "training"
        self._set_status(f"training{why}", error=bool(why))
        self._task = loop.create_task(self._loop(self._task))  # the new loop waits until the old one has ended

    @staticmethod
    def _turns_setting() -> tuple[bool | None, str]:
        """(share_cores for Engine.train_for, a note for the status line): with an ACTLAB_SHARE_CORES that is not a
        boolean word the live loop trains without taking turns at the cores, and the status line says why."""
        try:
            sharing_enabled()
        except ValueError as exc:
            return False, f" without taking turns at the cores: {exc}"
        return None, ""

    @staticmethod
    def _event_loop():
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            try:
                from tornado.ioloop import IOLoop

                return IOLoop.current(instance=False).asyncio_loop if IOLoop.current(instance=False) else None
            except Exception:  # noqa: BLE001 - no kernel loop: the caller says so
                return None

    def _stop(self) -> bool:
        """Stop the live loop: cancel its task (it ends at its next yield, before another step); whether it ran.

        The widget owns at most one live loop, self._task: start makes a new one only when none runs, and the new
        one first waits for the cancelled one to end, so two loops never train at once whatever the clicks."""
        was_running, self._running = self._running, False
        if self._task is not None:
            self._task.cancel()
        return was_running

    @_guarded
    def _on_pause(self, button=None) -> None:
        was_running = self._stop()
        if self.engine.status == "training":
            self.engine.status = "paused"
        self._set_status(f"paused at step {self.engine.step_count}")  # training has stopped: say so at once
        if was_running:  # then show the state the pause froze (one frame, a few ms later), readout included
            if self.engine.history and self.engine.history[-1]["step"] != self.engine.step_count:
                self.engine.record()
            self.redraw()

    @_guarded
    def _on_step(self, button=None) -> None:
        if self._running or self.engine.status == "diverged":
            return
        self.engine.step(measure=True)
        self.engine.record()
        self.redraw()
        self._set_status(f"one step: now at step {self.engine.step_count}")

    @_guarded
    def _on_reset(self, button=None) -> None:
        self._stop()
        self.engine.build()
        self.engine.record()
        self.view.layout()
        self.redraw()
        self._set_status("reset: the run starts again from its seed")

    @one_thread()  # a frame's small tensors: two threads waiting for a loaded core made a 4 ms frame take 28 ms
    def _frame(self) -> None:
        """End a frame: a step (measuring update ratios on layer frames), a record, a redraw (its cost is kept).

        Every LAYER_EVERY-th frame is a layer frame: it also records the per-layer statistics and redraws
        the layer panel; the others redraw the boundary, the loss curves and the readout only."""
        start, cpu = self.clock(), time.thread_time()
        layers = self.frames % LAYER_EVERY == 0
        self.engine.step(measure=layers)
        self.engine.record(layers=layers)
        self.redraw()
        self.frame_times.append(self.clock() - start)
        # CPU of this thread (the measured step, the record, the redraw): process time would add what torch's other
        # OpenMP threads spend spinning at their barriers, and count a 12 ms frame as 30 ms (then the floor below
        # held the playground at 4-5 frames/s).
        self.frame_cpu.append(time.thread_time() - cpu)
        self.frames += 1

    def _training_budget(self) -> float:
        """Seconds to train before the next frame: what the last frame left of 1/fps, but at least enough that
        a typical frame (the median CPU time of the last 10) takes no more than 1 - TRAIN_SHARE of the time.

        CPU time, not wall time: a frame that waits for a core another process holds (a loaded machine, the
        browser on the same cores) does not lower the frame rate; a frame that computes long (a deep, wide
        net) does, and training keeps its share."""
        if not self.frame_times:
            return 1 / self.fps
        floor = float(np.median(self.frame_cpu[-10:])) * TRAIN_SHARE / (1 - TRAIN_SHARE)
        # Frames are due every 1/fps from the last one's due time, so the loop's own overhead (and frames that
        # cost more than the one before) does not pile up into a lower rate; a period already late is not made up.
        now = self.clock()
        self._due = max(getattr(self, "_due", 0.0) + 1 / self.fps, now)
        frame = float(np.median(self.frame_times[-4:]))
        return max(self._due - now - frame, floor, 0.001)

    async def _loop(self, previous: asyncio.Task | None = None) -> None:
        """Train in slices of at most SLICE seconds, yielding to the event loop after each; redraw fps times a second.

        previous: the loop this one replaces (cancelled by pause or reset); this one starts once it has ended."""
        if previous is not None and not previous.done():
            await asyncio.wait({previous})
        try:
            while self._running and self.engine.status != "diverged":
                start, steps = self.clock(), 0
                budget = self._training_budget()
                while self._running and self.clock() - start < budget and self.engine.status != "diverged":
                    steps += self.engine.train_for(min(SLICE, budget - (self.clock() - start)), self._share_cores)
                    await asyncio.sleep(0)  # let clicks, slider moves and other cells run
                if not self._running or self.engine.status == "diverged":
                    break
                self._frame()
                self._rate = (steps + 1, self.clock() - start)
                await asyncio.sleep(0)
        except Exception as exc:  # noqa: BLE001 - the task must not die silently
            self._running = False
            self._refuse(exc)
        if self.engine.status == "diverged":  # not reached when pause or reset cancelled the loop
            self._running = False
            self.engine.record()
            self.redraw()
            self._set_status(self.engine.message, error=True)

    def redraw(self) -> None:
        """Send the current state to the board (the browser draws it), the readout and the configuration line."""
        self.board.show(self.engine)
        if self._code_for is not self.engine.config:  # the line changes only with the configuration
            self.code.value, self._code_for = self.code_line(), self.engine.config
        now = self.clock()
        if self._running and now - self._readout_at < READOUT_PERIOD:
            return  # a text at 25 Hz is not read, and each one is a message for the server and the browser
        self._readout_at = now
        row = self.engine.history[-1] if self.engine.history else {}
        rate = ""
        if getattr(self, "_rate", None) and self._running:
            steps, seconds = self._rate
            rate = f" · {steps / seconds:,.0f} steps/s · {1 / seconds:.1f} frames/s"
        self.readout.value = (f"<span class='actlab-step'>step {self.engine.step_count}</span> · train loss "
                              f"{row.get('train_loss', math.nan):.4f} · test loss {row.get('test_loss', math.nan):.4f}"
                              f" · test accuracy {row.get('test_acc', math.nan):.3f}{rate}")


def playground(data=None, **config) -> Playground:
    """The live training playground; data=(x, y) arrays with 2 features (labels 0..K-1, K <= 10), or settings.
    Bad values raise ValueError naming the setting. Settings (all optional):
"""
    return Playground(data=data, **config)


playground.__doc__ = playground.__doc__ + settings_doc()
