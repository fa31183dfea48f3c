"""The playground's one table of settings: SETTINGS drives the checks, the controls, the docstring and the config line.

Each Setting names its default, its valid values (choices, or a numeric range), the control that shows it (widget
kind and row) and whether a change applies live (the next step, weights kept) or rebuilds the run from its seed, as
TensorFlow Playground's State.PROPS drives its URL and controls (Smilkov and Carter 2016). Adding a setting is one
row here; the Engine reads it from the checked configuration.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ..activations import lookup
from ..checks import check_choice, check_number
from ..data import TOY_KINDS
from ..models import INITS
from ..training import OPTIMIZERS

MAX_DEPTH, MAX_WIDTH, MAX_POINTS, MAX_SEED = 32, 512, 20000, 2**31 - 1


@dataclass(frozen=True)
class Setting:
    """One setting: name, default, valid values, control and whether it applies live.

    choices: the valid values (a choice setting), else None; low, high (open_low: low excluded): the valid range of a
    number (integer=True: whole numbers); widget: 'dropdown', 'slider', 'log_slider', 'number', 'checkbox', 'text',
    or 'layers' (the per-layer activation pickers, built by the widget from the registry); row: the control row (0-4);
    label: the control's description; step: a slider's step (a log slider's, in decades); shown: the (low, high) the
    control offers where it is narrower than the valid range; live: True when a change keeps the weights."""

    name: str
    default: object
    widget: str
    row: int
    label: str
    live: bool = False
    choices: tuple | None = None
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    integer: bool = False
    step: float = 1.0
    shown: tuple | None = None
    doc: str = ""

    def check(self, value):
        """The value if valid (an int for an integer setting); ValueError naming the setting and its range."""
        if self.choices is not None:
            return check_choice(self.name, value, self.choices)
        if self.widget == "checkbox":
            if not isinstance(value, bool):  # 1 == True, so check_choice would let 1 through
                raise ValueError(f"{self.name} must be True or False, got {value!r}")
            return value
        return (int if self.integer else float)(
            check_number(self.name, value, self.low, self.high, integer=self.integer, low_open=self.open_low))

    def valid(self) -> str:
        """The valid values in words, for the docstring."""
        if self.choices is not None:
            return ", ".join(map(str, self.choices))
        if self.widget == "checkbox":
            return "True or False"
        if self.integer:
            return f"integer in [{int(self.low)}, {int(self.high)}]"
        return f"{'(' if self.open_low else '['}{self.low:g}, {self.high:g}]"


SETTINGS = (
    Setting("dataset", "spirals", "dropdown", 0, "data", choices=TOY_KINDS, doc="toy_2d's kind"),
    Setting("n", 1000, "number", 0, "points", low=8, high=MAX_POINTS, integer=True, doc="points"),
    Setting("noise", 0.1, "slider", 0, "noise", low=0, high=2, step=0.05),
    Setting("test_fraction", 0.25, "slider", 0, "test share", low=0, high=0.9, open_low=True, step=0.05,
            shown=(0.05, 0.9),
            doc="refused where a class keeps fewer than 2 training points or no test point: data.check_split"),
    Setting("depth", 4, "slider", 1, "depth", low=1, high=MAX_DEPTH, integer=True, doc="hidden layers"),
    Setting("width", 16, "slider", 1, "width", low=1, high=MAX_WIDTH, integer=True, doc="units per hidden layer"),
    Setting("activation", "relu", "layers", 2, "activation", live=True,
            doc="a registry name, or a list of one per layer"),
    Setting("params", None, "layers", 2, "params", live=True, doc="a dict of the activation's parameters, or one per layer"),
    Setting("init", "recommended", "dropdown", 1, "init", choices=INITS,
            doc="models.INITS, applied by models.init_linear as in MLP and LeNet"),
    Setting("batch_norm", False, "checkbox", 1, "batch norm"),
    Setting("optimizer", "adam", "dropdown", 3, "optimiser", live=True, choices=OPTIMIZERS,
            doc="training.make_optimizer's"),
    Setting("lr", 0.01, "log_slider", 3, "lr", live=True, low=0, high=10, open_low=True, step=0.1,
            shown=(1e-4, 10)),
    Setting("batch_size", 32, "number", 3, "batch", live=True, low=1, high=MAX_POINTS, integer=True),
    Setting("seed", 0, "number", 3, "seed", low=0, high=MAX_SEED, integer=True),
    Setting("csv", None, "text", 0, "csv file", doc="a file of rows x1, x2, label (points.read_csv), or None"),
)
BY_NAME = {s.name: s for s in SETTINGS}
DEFAULTS = {s.name: s.default for s in SETTINGS}
LIVE = tuple(s.name for s in SETTINGS if s.live)  # take effect on the next step, weights kept


def per_layer(name: str, value, depth: int, check) -> list:
    """value for every layer: one value repeated, or a list of exactly depth values, each checked."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * depth
    if len(values) != depth:
        raise ValueError(f"{name}: a list needs one entry per layer ({depth}), got {len(values)}")
    return [check(v) for v in values]


def check_config(config: dict) -> dict:
    """A validated, complete configuration; raises ValueError (or TypeError) naming the bad field and its range."""
    unknown = sorted(set(config) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(map(repr, unknown))}; valid: {', '.join(DEFAULTS)}")
    c = {**DEFAULTS, **config}
    for s in SETTINGS:
        if s.widget not in ("layers", "text"):
            c[s.name] = s.check(c[s.name])
    names = per_layer("activation", c["activation"], c["depth"], lambda a: lookup(a).name)
    params = per_layer("params", c["params"] or {}, c["depth"], lambda p: dict(p or {}))
    for layer, (name, p) in enumerate(zip(names, params), 1):
        try:
            lookup(name).resolve(**p)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"layer {layer}: {exc}") from None
    c["activation"], c["params"] = names, params
    if c["batch_norm"] and c["batch_size"] < 2:
        raise ValueError("batch_size must be at least 2 with batch_norm=True (batch statistics need two examples)")
    if c["csv"] is not None and not Path(c["csv"]).is_file():
        raise ValueError(f"csv: no such file {c['csv']!r}")
    return c


def code_line(config: dict, data_name: str | None = None) -> str:
    """The configuration as one line of Python that rebuilds the same run: actlab.playground(...)."""
    c = check_config(config)
    out = {k: v for k, v in c.items() if k not in ("activation", "params") and v != DEFAULTS[k]}
    if len(set(c["activation"])) == 1 and all(p == c["params"][0] for p in c["params"]):
        if c["activation"][0] != DEFAULTS["activation"]:
            out["activation"] = c["activation"][0]
        if c["params"][0]:
            out["params"] = c["params"][0]
    else:
        out["activation"] = c["activation"]
        if any(c["params"]):
            out["params"] = c["params"]
    args = ", ".join(f"{k}={out[k]!r}" for k in DEFAULTS if k in out)
    if data_name:
        args = f"data={data_name}" + (", " + args if args else "")
    return f"actlab.playground({args})"


def settings_doc() -> str:
    """The settings as docstring lines: name (default; valid values; live or rebuilt): what it is."""
    lines = []
    for s in SETTINGS:
        valid = "" if s.widget in ("layers", "text") else f"; {s.valid()}"
        note = f": {s.doc}" if s.doc else ""
        lines.append(f"    {s.name} (default {s.default!r}{valid}; {'live' if s.live else 'rebuilds'}){note}")
    return "\n".join(lines)
