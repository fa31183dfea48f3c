"""Insert the live-playground sections into the course notebooks, each just before its "## Summary" cell.

Usage (from the repository root):  python tools/playground_cells.py [NOTEBOOK ...]
Without arguments it updates every notebook in SECTIONS under notebooks/ (matched by the two-digit prefix).
Idempotent: the cells it inserts carry the tag "playground" in their metadata and stable ids "pg-NN-k"; a re-run
removes every tagged cell and inserts the current section again, so the notebook ends up the same. A notebook
without a markdown cell that starts with "## Summary" is an error (exit status 1, naming the file); no file is
written unless all of them are found. Cells are written without outputs, as the repository keeps them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

TAG = "playground"
SUMMARY = "## Summary"
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def md(text: str) -> tuple[str, str]:
    return "markdown", text.strip("\n")


def code(text: str) -> tuple[str, str]:
    return "code", text.strip("\n")


LIVE_NOTE = ("The live playground below starts where the static figure above ends: *start* trains on while the "
             "kernel stays free; *pause*, *step* and *reset* do what they say; the line at its bottom is the "
             "configuration as one line of Python that rebuilds the same run.")

SECTIONS: dict[str, list[tuple[str, str]]] = {
    "00": [
        md("""
## Playground: the spirals need a non-linearity

The playground trains a real PyTorch network on a 2-D data set and draws it as it learns: the decision boundary
with the points (filled: training, ringed: test), the loss curves, and one panel per hidden layer (activation
histogram, saturated, near-dead and dead fraction in the course's terms of `actlab.vocabulary`, gradient norm,
update/weight ratio). Here it trains the same network, three
hidden layers of 16 units, on the spirals twice: once with a Leaky ReLU of slope 1 on both sides, which is the
identity $f(x) = x$ (so the whole network is one linear map), and once with tanh.

**Guided task.** """ + LIVE_NOTE + """ It starts from the linear
network. Press *start*: however long it trains, the boundary stays a straight line. Pause, pick `tanh` (or
`relu`) as the activation and press *start* again: the same weights, now with a non-linearity between them, bend
the boundary around the arms. Then look for the smallest depth and width that still fit the spirals.
"""),
        code("""
import actlab

PG_SPIRALS = {"dataset": "spirals", "depth": 3, "width": 16, "init": "kaiming"}  # He et al. 2015: sqrt(2 / fan_in)
PG_IDENTITY = {"activation": "leaky_relu", "params": {"alpha": 1.0}}  # slope 1 on both sides: f(x) = x
pg = actlab.playground(**PG_SPIRALS, **PG_IDENTITY).run(300)
pg.plot(title="linear: three hidden layers with f(x) = x, after 300 steps")
"""),
        code("""
pg_tanh = actlab.playground(**PG_SPIRALS, activation="tanh").run(300)
pg_tanh.plot(title="the same network with tanh, after 300 steps")
"""),
        code("""
seeds_linear = actlab.over_seeds(
    lambda seed: actlab.playground.summary(300, seed=seed, **PG_SPIRALS, **PG_IDENTITY))
seeds_tanh = actlab.over_seeds(
    lambda seed: actlab.playground.summary(300, seed=seed, **PG_SPIRALS, activation="tanh"))
print(f"test accuracy after 300 steps, linear: {actlab.describe(seeds_linear['test_acc'])}")
print(f"test accuracy after 300 steps, tanh:   {actlab.describe(seeds_tanh['test_acc'])}")
actlab.claim_greater(seeds_tanh["test_acc"], seeds_linear["test_acc"],
                     "tanh beats the linear network on the spirals by at least 10 points of test accuracy",
                     min_difference=0.1).check()
"""),
        code("""
pg  # live: the linear network; press start, then switch the activation
"""),
    ],
    "02": [
        md("""
## Playground: fifteen sigmoid layers

The same experiment on a small scale you can watch: 15 hidden sigmoid layers of 32 units (initialised by the
registry's scheme for sigmoid, Xavier), plain SGD with momentum at learning rate 0.1, on the spirals. In the layer panel of the figure,
look at the update/weight ratio (Karpathy's rule of thumb: near $10^{-3}$, the dashed guide, for a layer that
learns): the layers near the output sit near the guide, the first layers lie orders of magnitude below it, on the
bottom edge where their float32 weights did not move at all. The two views after it show the same run over time:
the update ratio of every layer at every recorded step, and each layer's histogram of outputs over the steps (the
"colorful dimension" of the fastai course): the first layers' histograms stay put.

**Guided tasks.** """ + LIVE_NOTE + """ (1) Press *start* and watch
the first layers' update ratios: do they ever reach the guide? (2) Pause, set the activation to `relu` for all
layers and resume: which panel changes first? (3) *Reset* with depth 4, then 8: from what depth does the first
layer stop learning? Does `batch norm` change that?
"""),
        code("""
import actlab

PG_DEEP_SIGMOID = {"dataset": "spirals", "depth": 15, "width": 32, "activation": "sigmoid", "optimizer": "sgd",
                   "lr": 0.1}
pg = actlab.playground(**PG_DEEP_SIGMOID).run(200)
pg.plot(title="15 sigmoid layers after 200 steps")
"""),
        code("""
pg.plot_update_ratios(title="15 sigmoid layers: log10 update/weight ratio per layer (dark: layer 1, input side)")
"""),
        code("""
pg.plot_colorful_dimension()
"""),
        code("""
seeds_deep = actlab.over_seeds(lambda seed: actlab.playground.summary(60, seed=seed, **PG_DEEP_SIGMOID))
print(f"layer 1,  log10 update/weight ratio over 60 steps: {actlab.describe(seeds_deep['ratio_first'])}")
print(f"layer 15, log10 update/weight ratio over 60 steps: {actlab.describe(seeds_deep['ratio_last'])}")
print("(-7.2 = log10 2^-24, float32's relative resolution: a weight that did not move)")
actlab.claim_less(seeds_deep["ratio_first"], seeds_deep["ratio_last"] - 2,
                  "layer 1's relative updates are at least 100 times smaller than layer 15's").check()
"""),
        code("""
pg  # live: 15 sigmoid layers
"""),
    ],
    "03": [
        md("""
## Playground: fifteen tanh layers

The 15-layer network of notebook 02 again, now with tanh (initialised by the registry's scheme for tanh,
Xavier with gain 1, as `actlab.MLP` does). First Karpathy's view
at initialisation: every layer's histogram of outputs in one plot, with its saturated share (slope below 1% of the
activation's peak slope: `print(actlab.vocabulary.SATURATED)`).
Then the run and its update/weight ratios per layer: compare them with the sigmoid network's. The check below
measures, over seeds, how far layer 1's relative update lags behind layer 15's for each activation.

**Guided tasks.** """ + LIVE_NOTE + """ (1) Press *start* and compare
the update-ratio panel with notebook 02's. (2) Set `init` to `small` (or `default`) and *reset*: the gradient
vanishes again, so the initialisation matters as much as the activation. (3) Back on `recommended`, raise the
learning rate until the saturated fraction climbs: what happens to the loss?
"""),
        code("""
import actlab

PG_DEEP = {"dataset": "spirals", "depth": 15, "width": 32, "optimizer": "sgd", "lr": 0.1}
pg = actlab.playground(**PG_DEEP, activation="tanh")
pg.plot_activation_histograms(title="15 tanh layers at initialisation (dark: layer 1, light: layer 15)")
"""),
        code("""
pg.run(200).plot(title="15 tanh layers after 200 steps")
"""),
        code("""
pg.plot_update_ratios(title="15 tanh layers: log10 update/weight ratio per layer (dark: layer 1, input side)")
"""),
        code("""
seeds_by_act = {name: actlab.over_seeds(lambda seed: actlab.playground.summary(60, seed=seed, **PG_DEEP,
                                                                              activation=name))
                for name in ("tanh", "sigmoid")}
lag_by_act = {name: run["ratio_last"] - run["ratio_first"] for name, run in seeds_by_act.items()}
for name, decades in lag_by_act.items():
    print(f"{name:7s}: layer 15 minus layer 1, log10 update/weight ratio: {actlab.describe(decades)}")
actlab.claim_less(lag_by_act["tanh"], lag_by_act["sigmoid"],
                  "tanh's first layer lags its last by at least 2 decades less than sigmoid's",
                  min_difference=2).check()
"""),
        code("""
pg  # live: 15 tanh layers
"""),
    ],
    "04": [
        md("""
## Playground: ReLU learns fast, and can die

Four hidden ReLU layers of 32 units on the spirals with Adam: at learning rate 0.01 the network fits the spirals
in a few hundred steps. The second figure is the same network at learning rate 0.3: watch the black line
(the dead fraction: units whose slope is exactly 0 on every probe point, `print(actlab.vocabulary.DEAD)`) and the
boundary, frozen.

**Guided task: make the network die, then rescue it with one change.** """
           + LIVE_NOTE + """ It starts from the healthy network. Raise `lr` to
0.3 and press *start*: the dead fraction climbs and the loss stops falling. Then change one thing and *reset*:
the learning rate back down? `leaky_relu`? `batch norm`? A smaller `init`? Which rescues it, and which only hides
the symptom? Notebook 05 measures the answers.
"""),
        code("""
import actlab

PG_RELU = {"dataset": "spirals", "depth": 4, "width": 32, "activation": "relu", "optimizer": "adam"}
pg = actlab.playground(**PG_RELU, lr=0.01).run(200)
pg.plot(title="ReLU, learning rate 0.01, after 200 steps")
"""),
        code("""
actlab.playground(**PG_RELU, lr=0.3).run(200).plot(title="the same network at learning rate 0.3, after 200 steps")
"""),
        code("""
pg  # live: the healthy ReLU network; raise lr to 0.3 to kill it
"""),
    ],
    "05": [
        md("""
## Playground: watch units die, then rescue them

Four hidden ReLU layers of 32 units on the spirals, Adam at learning rate 0.3. The first figure is the network after
200 steps; the second shows each layer's histogram of outputs over the steps (the fastai course's "colorful
dimension"): the moment the outputs collapse onto 0 is visible as the step where the colour leaves everything but
the bottom row. The check decides over seeds that the dead fraction rises under this learning rate, and that a
learning rate 100 times lower leaves fewer dead units.

**Guided task: rescue the network with one change.** """ + LIVE_NOTE + """
It starts dead. Change one setting and *reset* (or just resume, for the learning rate and the activation,
which apply on the next step): lower `lr`; `leaky_relu` or `elu`; `batch norm`; another `init`. Which change
brings the dead fraction down *and* the test accuracy up? Does a dead unit ever come back if you only lower the
learning rate and resume, without a reset?
"""),
        code("""
import actlab

PG_KILLER = {"dataset": "spirals", "depth": 4, "width": 32, "activation": "relu", "optimizer": "adam", "lr": 0.3}
pg = actlab.playground(**PG_KILLER).run(200)
pg.plot(title="ReLU at learning rate 0.3, after 200 steps")
"""),
        code("""
pg.plot_colorful_dimension(title="ReLU at learning rate 0.3: each layer's outputs over training (log colour)")
"""),
        code("""
seeds_killed = actlab.over_seeds(lambda seed: actlab.playground.summary(100, seed=seed, **PG_KILLER))
seeds_gentle = actlab.over_seeds(
    lambda seed: actlab.playground.summary(100, seed=seed, **{**PG_KILLER, "lr": 0.003}))
print(f"dead fraction at lr=0.3,   at init: {actlab.describe(seeds_killed['dead_start'])}")
print(f"dead fraction at lr=0.3,   after 100 steps: {actlab.describe(seeds_killed['dead_end'])}")
print(f"dead fraction at lr=0.003, after 100 steps: {actlab.describe(seeds_gentle['dead_end'])}")
print(actlab.claim_greater(seeds_killed["dead_end"], seeds_killed["dead_start"],
                           "lr=0.3 raises the dead fraction by at least 0.2", min_difference=0.2).check())
print(actlab.claim_greater(seeds_killed["dead_end"], seeds_gentle["dead_end"],
                           "lr=0.3 leaves more dead units than lr=0.003").check())
"""),
        code("""
pg  # live: the dead network; rescue it with one change
"""),
    ],
}


def _alternatives(names: tuple[str, str], family: str, checked: tuple[str, ...],
                  note: str = "") -> list[tuple[str, str]]:
    """The section of notebooks 06-08: the lesson's two activations where ReLU loses many of its units.

    checked: the activations whose 'fewer dead units' verdict is asserted (not those for which it holds by
    construction); note: a comment saying why one is not.
    """
    first, second = names
    checks = "\n".join(f'dead_verdicts["{name}"].check()' for name in checked)
    return [
        md(f"""
## Playground: {family} where ReLU loses its units

Four hidden layers of 32 units on the spirals, Adam at learning rate 0.03: enough for a large share of ReLU units
to die during training (notebook 05), here with `{first}`. The runs below put ReLU, `{first}` and `{second}` side
by side over seeds and print, from the data, whether each ends with fewer dead units than ReLU and whether it
reaches a higher test accuracy: fewer dead units is not the same thing as a better network. The words are the
library's (`actlab.vocabulary`): a unit is *dead* when its slope is exactly 0 on every probe point (no gradient
reaches its weights), *near-dead* when its slope is below 1% of the activation's peak slope on every probe point
(`print(actlab.vocabulary.DEAD)`, `print(actlab.vocabulary.NEAR_DEAD)`). A Leaky ReLU unit is never dead, and
with its default slope 0.01 (exactly 1% of its peak) never near-dead either.

**Guided tasks.** """ + LIVE_NOTE + f""" (1) Press *start* and watch the dead fraction (black) stay down.
(2) Switch the activation to `{second}`, then to `relu`, while it trains: which panel changes? (3) Raise `lr` to
0.3, notebook 05's killing rate, and *reset*: does `{first}` survive it, or is the learning rate the problem?
"""),
        code(f"""
import actlab

PG_ALIVE = {{"dataset": "spirals", "depth": 4, "width": 32, "optimizer": "adam", "lr": 0.03}}
pg = actlab.playground(**PG_ALIVE, activation="{first}").run(200)
pg.plot(title="{first} at learning rate 0.03, after 200 steps")
"""),
        code(f"""
seeds_by_act = {{name: actlab.over_seeds(lambda seed: actlab.playground.summary(200, seed=seed, **PG_ALIVE,
                                                                              activation=name))
                for name in ("relu", "{first}", "{second}")}}
for name, run in seeds_by_act.items():
    print(f"{{name:10s}} dead fraction {{actlab.describe(run['dead_end'], 2)}}; "
          f"near-dead {{actlab.describe(run['near_dead_end'], 2)}}; "
          f"test accuracy {{actlab.describe(run['test_acc'], 2)}}")
seeds_relu = seeds_by_act["relu"]
dead_verdicts = {{name: actlab.claim_less(seeds_by_act[name]["dead_end"], seeds_relu["dead_end"],
                                         f"{{name}} ends with fewer dead units than ReLU")
                 for name in ("{first}", "{second}")}}
for name, verdict in dead_verdicts.items():
    print(verdict)
    print(actlab.claim_greater(seeds_by_act[name]["test_acc"], seeds_relu["test_acc"],
                               f"{{name}} reaches a higher test accuracy than ReLU"))
{note}{checks}
"""),
        code(f"""
pg  # live: {first}
"""),
    ]


SECTIONS["06"] = _alternatives(("leaky_relu", "prelu"), "Leaky ReLU and PReLU", ("prelu",),
                               "# Leaky ReLU's slope is never 0 (at least 0.01), so it has no dead units by "
                               "construction: not a check\n")
SECTIONS["07"] = _alternatives(("elu", "selu"), "ELU and SELU", ("elu", "selu"))
SECTIONS["08"] = _alternatives(("gelu", "silu"), "GELU and SiLU/Swish", ("gelu", "silu"))
SECTIONS["09"] = [
    md("""
## Per-layer statistics of the slides' CNN

Two of the diagnostics the best teachers use, on the slides' CNN (LeNet) and a batch of the course's images, for
a few of the activations compared above. First the UvA tutorial's view at initialisation: one histogram of weight
gradients per layer (the title gives its standard deviation), sigmoid against ReLU. Then Karpathy's view of the
activations: every layer's output histogram in one plot, with its saturated share, after a short training run
recorded by `actlab.LayerStatsMonitor`, and the update/weight ratio of every layer over that run with the
$10^{-3}$ guide.
"""),
    code("""
import torch

import actlab

stats_data = actlab.cifar_like(512, 256, seed=0)
stats_x, stats_y = stats_data.inputs("train")[:256], stats_data.labels("train")[:256]
torch.manual_seed(0)
actlab.plot_gradient_histograms(actlab.LeNet("sigmoid"), stats_x, stats_y,
                                title=f"LeNet with sigmoid at initialisation, weight gradients ({stats_data.source})")
"""),
    code("""
torch.manual_seed(0)
actlab.plot_gradient_histograms(actlab.LeNet("relu"), stats_x, stats_y,
                                title=f"LeNet with ReLU at initialisation, weight gradients ({stats_data.source})")
"""),
    code("""
torch.manual_seed(0)
stats_net = actlab.LeNet("relu")
stats_monitor = actlab.LayerStatsMonitor(stats_x, every=4)
actlab.train(stats_net, stats_data, epochs=1, lr=0.01, callbacks=[stats_monitor], progress=False)
actlab.plot_activation_histograms(stats_net, stats_x, title="LeNet with ReLU after one epoch: outputs per layer")
"""),
    code("""
actlab.plot_update_ratios(stats_monitor, title="LeNet with ReLU: log10 update/weight ratio per layer, one epoch")
"""),
]


def section_cells(number: str) -> list[dict]:
    """The tagged cells of a notebook's section, ids pg-NN-1, pg-NN-2, ... (no outputs)."""
    cells = []
    for k, (kind, text) in enumerate(SECTIONS[number], 1):
        lines = text.splitlines(keepends=True)
        cell_id, metadata = f"pg-{number}-{k}", {"tags": [TAG]}
        if kind == "code":  # keys in nbformat's (alphabetical) order
            cells.append({"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": metadata,
                          "outputs": [], "source": lines})
        else:
            cells.append({"cell_type": "markdown", "id": cell_id, "metadata": metadata, "source": lines})
    return cells


def _is_summary(cell: dict) -> bool:
    text = "".join(cell.get("source", []))
    return cell.get("cell_type") == "markdown" and text.lstrip().startswith(SUMMARY)


def insert_section(notebook: dict, number: str, name: str = "notebook") -> dict:
    """notebook (nbformat JSON) with its tagged cells replaced by the section, just before '## Summary'.

    Raises ValueError naming the notebook when it has no markdown cell starting with '## Summary'.
    """
    kept = [c for c in notebook["cells"] if TAG not in c.get("metadata", {}).get("tags", [])]
    where = next((i for i, c in enumerate(kept) if _is_summary(c)), None)
    if where is None:
        raise ValueError(f"{name}: no markdown cell starts with {SUMMARY!r}; the playground section goes just "
                         "before it, so add one (or pass another notebook)")
    ids = {c.get("id") for c in kept}
    new = section_cells(number)
    clash = sorted(ids & {c["id"] for c in new})
    if clash:
        raise ValueError(f"{name}: untagged cells already use the ids {', '.join(clash)}")
    return {**notebook, "cells": kept[:where] + new + kept[where:]}


def number_of(path: Path) -> str:
    """The two-digit prefix of a notebook file name that SECTIONS is keyed by; ValueError if it has no section."""
    number = path.name[:2]
    if number not in SECTIONS:
        raise ValueError(f"{path}: no playground section for notebook {number!r}; known: {', '.join(SECTIONS)}")
    return number


def default_paths() -> list[Path]:
    """The notebook files under notebooks/ that have a section (one per number; ValueError if one is missing)."""
    paths = []
    for number in SECTIONS:
        found = sorted(NOTEBOOKS.glob(f"{number}_*.ipynb"))
        if len(found) != 1:
            raise ValueError(f"expected one notebooks/{number}_*.ipynb, found {len(found)}")
        paths.append(found[0])
    return paths


def main(argv: list[str]) -> int:
    """Update the given notebooks (default: all with a section); all are checked before any is written."""
    try:
        paths = [Path(a) for a in argv] if argv else default_paths()
        updated = {}
        for path in paths:
            notebook = json.loads(path.read_text(encoding="utf-8"))
            updated[path] = insert_section(notebook, number_of(path), str(path))
    except (ValueError, OSError) as exc:
        print(f"playground_cells: {exc}", file=sys.stderr)
        return 1
    for path, notebook in updated.items():
        path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path}: {len(SECTIONS[number_of(path)])} playground cells before {SUMMARY!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
