"""One vocabulary: dead, near-dead, saturated and vanishing mean one thing, relative to each activation's peak slope,
in the library and in every notebook; a notebook that writes its own threshold for one of them is found."""
import ast
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

import actlab
from actlab import vocabulary as v
from actlab.diagnostics import slope
from actlab.experiments import basics

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------------------
# Peak slopes from the registry
# ---------------------------------------------------------------------------------------------------------------

def test_peak_slopes_match_their_closed_forms():
    assert v.peak_slope("sigmoid") == 0.25 and v.peak_slope("tanh") == 1.0 and v.peak_slope("relu") == 1.0
    assert v.peak_slope("heaviside") == 0.0  # its derivative is 0 wherever it exists
    # SELU's slope approaches lambda * alpha just left of 0 (Klambauer et al. 2017's constants)
    assert v.peak_slope("selu") == pytest.approx(1.0507009873554805 * 1.6732632423543772, rel=1e-7)
    # GELU' = Phi(x) + x phi(x) peaks where its derivative phi(x)(2 - x^2) vanishes: x = sqrt 2
    root2 = math.sqrt(2)
    assert v.peak_slope("gelu") == pytest.approx(stats.norm.cdf(root2) + root2 * stats.norm.pdf(root2), rel=1e-6)
    assert v.peak_slope("elu", alpha=2.0) == pytest.approx(2.0, rel=1e-7)  # alpha e^x just left of 0
    with pytest.raises(ValueError, match="alpha"):
        v.peak_slope("leaky_relu", alpha=-3.0)


def test_a_module_is_judged_at_its_own_parameters():
    assert v.module_peak_slope(nn.Sigmoid()) == 0.25
    assert v.module_peak_slope(nn.ELU(alpha=2.0)) == pytest.approx(2.0, rel=1e-7)  # read from the module
    assert v.module_peak_slope(actlab.get_activation("elu", alpha=2.0)) == pytest.approx(2.0, rel=1e-7)
    assert v.module_peak_slope(nn.LeakyReLU(0.2)) == 1.0
    with pytest.raises(ValueError, match="registry knows no activation 'Linear'"):
        v.module_peak_slope(nn.Linear(2, 2))


# ---------------------------------------------------------------------------------------------------------------
# The definitions on known slopes
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_sigmoid_and_tanh_saturate_where_notebook_01_says(name):
    """Saturation is relative to the peak: both saturate just beyond basics.saturation_point(name, 0.01)."""
    module = actlab.get_activation(name)
    x_star = basics.saturation_point(name, 0.01)
    z = torch.tensor([[x_star - 0.01, x_star + 0.01, -(x_star + 0.01)]], dtype=torch.float64)
    flags = v.is_saturated(slope(module, z), v.module_peak_slope(module))
    assert flags.tolist() == [[False, True, True]]


def test_a_sigmoid_unit_is_not_saturated_at_a_slope_an_absolute_rule_would_call_saturated():
    d = slope(nn.Sigmoid(), torch.tensor([[5.0]]))  # sigmoid'(5) = 0.0066: below 0.01, but 2.7% of the peak 1/4
    assert d.item() < 0.01 and not v.is_saturated(d, 0.25).item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_leaky_relus_default_slope_is_neither_near_dead_nor_dead(dtype):
    module = nn.LeakyReLU()  # negative slope 0.01: exactly 1% of its peak slope 1
    z = torch.full((50, 3), -1e4, dtype=dtype)  # every input far on the negative side
    d = slope(module, z)
    peak = v.module_peak_slope(module)
    assert not v.is_near_dead(d, peak).any() and not v.is_dead(d).any() and not v.is_saturated(d, peak).any()
    learned = nn.PReLU(init=0.005).to(dtype)  # a slope below Leaky ReLU's floor
    assert v.is_near_dead(slope(learned, z), v.module_peak_slope(learned)).all()


def test_dead_means_a_slope_of_exactly_zero_on_every_input():
    z = torch.tensor([[-1.0, 0.0, 2.0], [-3.0, 0.0, -1.0]])  # unit 1 sits at 0, where PyTorch takes relu'(0) = 0
    d = slope(nn.ReLU(), z)
    assert v.is_dead(d).tolist() == [True, True, False]
    assert v.is_near_dead(d, 1.0).tolist() == [True, True, False]  # a dead unit is near-dead
    # float32 rounds sigmoid' to exactly 0 beyond z = 16.6: no gradient flows, though the output is 1, not 0
    far = slope(nn.Sigmoid(), torch.tensor([[17.0, 16.0], [30.0, 16.0]]))
    assert v.is_dead(far).tolist() == [True, False]
    # a channel of a convolution is one unit: it is dead only if every position of every example is
    conv = torch.zeros(2, 2, 3, 3)
    conv[1, 1, 2, 2] = 1.0
    assert v.is_dead(conv).tolist() == [True, False]


def test_near_dead_elu_units_are_not_dead():
    d = slope(nn.ELU(), torch.full((10, 4), -20.0))  # e^-20: far below 1% of the peak, not 0
    assert v.is_near_dead(d, 1.0).all() and not v.is_dead(d).any()


def test_saturated_fraction_counts_entries_and_reads_nan_as_unknown():
    d = np.array([[0.0, 0.5], [0.001, 0.02]])
    assert v.saturated_fraction(d, 1.0) == 0.5 and isinstance(v.is_saturated(d, 1.0), np.ndarray)
    assert math.isnan(v.saturated_fraction(np.array([[0.0, math.nan]]), 1.0))
    with pytest.raises(ValueError, match="peak"):
        v.is_saturated(d, math.nan)
    with pytest.raises(ValueError, match="unit_dim"):
        v.is_dead(np.zeros(3))


def test_vanishing_is_below_a_thousandth_of_the_last_layer():
    norms = {"layer 1": 9e-4, "layer 2": 2e-3, "out": 1.0}
    assert v.is_vanishing(norms) == {"layer 1": True, "layer 2": False, "out": False}
    assert v.is_vanishing([1e-6, 1e-5, 1e-2]).tolist() == [True, False, False]  # 1e-5 is not below 1e-3 x 1e-2
    for bad in ([1.0], [math.nan, 1.0], [1.0, 0.0], [-1.0, 1.0]):
        with pytest.raises(ValueError, match="norm"):
            v.is_vanishing(bad)


def test_the_glossary_states_each_threshold_and_reason():
    table = v.glossary()
    assert list(table.index) == ["dead", "near-dead", "saturated", "vanishing"]
    assert table.loc["near-dead", "threshold"].startswith("NEAR_DEAD_FRACTION = 0.01")
    assert all(table.reason.str.len() > 40) and "Maas" in str(v.NEAR_DEAD)


# ---------------------------------------------------------------------------------------------------------------
# The diagnostics use the vocabulary
# ---------------------------------------------------------------------------------------------------------------

def one_layer(activation: nn.Module, bias: float) -> nn.Sequential:
    """Linear(4, 6) with every bias set to `bias` and small weights, then the activation, then Linear(6, 2)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), activation, nn.Linear(6, 2))
    with torch.no_grad():
        model[0].weight.mul_(0.01)
        model[0].bias.fill_(bias)
    return model


def test_dead_units_reports_the_vocabularys_dead_and_near_dead():
    x = (torch.randn(100, 4, generator=torch.Generator().manual_seed(1)), None)
    sigmoid = actlab.dead_units(one_layer(nn.Sigmoid(), 50.0), x).loc["1"]  # output 1 everywhere, slope exactly 0
    assert sigmoid.dead == 6 and sigmoid.near_dead == 6 and sigmoid.saturated_fraction == 1.0
    elu = actlab.dead_units(one_layer(nn.ELU(), -20.0), x).loc["1"]
    assert elu.dead == 0 and elu.near_dead_fraction == 1.0
    leaky = actlab.dead_units(one_layer(nn.LeakyReLU(), -20.0), x).loc["1"]
    assert leaky.dead == 0 and leaky.near_dead == 0 and leaky.saturated_fraction == 0.0
    assert not actlab.dead_masks(one_layer(nn.ELU(), -20.0), x)["1"].any()
    assert actlab.dead_masks(one_layer(nn.Sigmoid(), 50.0), x)["1"].all()


def test_layer_stats_judges_the_sigmoid_against_its_own_peak():
    z = torch.full((8, 3), 5.0)
    a, d = torch.sigmoid(z), slope(nn.Sigmoid(), z)
    assert actlab.layer_stats(z, a, d, peak_slope=0.25)["saturated_fraction"] == 0.0
    rows = actlab.activation_stats(one_layer(nn.Sigmoid(), 5.0), torch.randn(16, 4))
    assert rows[0]["saturated_fraction"] == 0.0 and rows[0]["near_dead_fraction"] == 0.0


# ---------------------------------------------------------------------------------------------------------------
# No notebook writes its own threshold for a vocabulary word
# ---------------------------------------------------------------------------------------------------------------

TERM = re.compile(r"dead|saturat|vanish|flat|slope_floor", re.I)
QUANTITY = re.compile(r"slope|deriv|grad|f'|prime", re.I)
KEYWORDS = re.compile(r"^(threshold|fraction|floor|slope_floor|.*(dead|saturat|vanish).*)$", re.I)
WRITTEN = re.compile(r"(dead|saturat|vanish|flat)[^\n]{0,60}?(<=?|≤|\bbelow\b|\bunder\b|less than)\s*[-+]?(\d*\.\d+|\d+e-\d+)",
                     re.I)


def _float_literal(node) -> bool:
    """A float constant, possibly negated (0.01, -1e-3); integers are counts and sizes, not thresholds."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, float)


def _name(node) -> str:
    """The called or assigned name: 'saturation_point' of basics.saturation_point(...), '' if none."""
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def own_thresholds(source: str) -> list[str]:
    """The places in one code cell that write a number where a vocabulary threshold belongs.

    Found: (1) a keyword argument threshold=, fraction=, floor= or one naming a term, given a float literal;
    (2) a call of a function named for a term (saturation_point, near_dead_...) with a float literal argument;
    (3) an inequality between a slope or gradient and an expression holding a float literal (slope < 0.01);
    (4) a name for a term assigned a float literal (NEAR_DEAD_SLOPE = 0.1); (5) a string that writes a term with
    its own bound ("near-dead (|f'| < 0.1)"); (6) a parameter threshold, fraction, floor or one naming a term with
    a float literal default (def unit_status(..., threshold=0.1)). Comments are prose and are not read; IPython
    magics are skipped.
    """
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    found = []
    for node in ast.walk(ast.parse(code)):  # the source of a node only for a hit: get_source_segment splits it all
        if isinstance(node, ast.keyword) and node.arg and KEYWORDS.match(node.arg) and _float_literal(node.value):
            found.append(f"keyword {ast.get_source_segment(code, node)}")
        elif isinstance(node, ast.Call) and TERM.search(_name(node.func)) and any(map(_float_literal, node.args)):
            found.append(f"call {ast.get_source_segment(code, node)}")
        elif isinstance(node, ast.Compare) and any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in node.ops):
            sides = [node.left, *node.comparators]
            texts = [ast.get_source_segment(code, s) or "" for s in sides]
            floats = [any(_float_literal(n) for n in ast.walk(s)) for s in sides]
            if any(QUANTITY.search(t) and not f for t, f in zip(texts, floats)) and any(floats):
                found.append(f"comparison {ast.get_source_segment(code, node)}")
        elif isinstance(node, ast.Assign) and _float_literal(node.value) and \
                any(TERM.search(_name(t)) for t in node.targets):
            found.append(f"assignment {ast.get_source_segment(code, node)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and WRITTEN.search(node.value):
            found.append(f"text {node.value!r}")
        elif isinstance(node, ast.arguments):
            named = [*node.posonlyargs, *node.args][-len(node.defaults):] if node.defaults else []
            for arg, default in [*zip(named, node.defaults), *zip(node.kwonlyargs, node.kw_defaults)]:
                if default is not None and KEYWORDS.match(arg.arg) and _float_literal(default):
                    found.append(f"default {arg.arg}={ast.get_source_segment(code, default)}")
    return found


def notebook_code(path: Path) -> list[str]:
    """The source of every code cell of a notebook."""
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_the_threshold_scan_finds_what_it_forbids_and_passes_the_vocabulary():
    offending = [
        "basics.saturation_point('sigmoid', 0.01)",
        "status = rx.unit_status(model, data, threshold=0.1)",
        "flat = slope.abs() < 0.01",
        "near = slopes <= 0.25 * 1e-2",
        "NEAR_DEAD_SLOPE = 0.1",
        "def saturation_point(name, fraction=0.01): pass",
        "ax.plot([], [], label=\"near-dead (|f'| < 0.1)\")",
        "print('saturated units (slope below 0.01)')",
    ]
    for source in offending:
        assert own_thresholds(source), source
    allowed = [
        "v = actlab.vocabulary.is_near_dead(slopes, actlab.vocabulary.peak_slope('relu'))",
        "assert pushed['ELU']['vanishing_fraction'].iloc[-1] > 0.5",  # a share of units, not a threshold
        "whole = h.final['dead/hidden.act1'] == 1.0",
        "born = born_dead.born_dead(10, 2, 'he', trials=300)",
        "%matplotlib inline\nx = 1  # slope below 0.01 in a comment is prose",
        "actlab.claim_greater(dead_high, dead_safe, 'more dead units', min_difference=0.2)",
    ]
    for source in allowed:
        assert not own_thresholds(source), source


def notebook_offences() -> list[str]:
    """Every place in the notebooks that writes its own threshold for a vocabulary word, as 'notebook: what'."""
    return [f"{path.name}: {hit}" for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
            for source in notebook_code(path) for hit in own_thresholds(source)]


def test_no_notebook_writes_its_own_threshold_for_a_vocabulary_word():
    offences = notebook_offences()
    assert not offences, "use actlab.vocabulary instead of these thresholds:\n" + "\n".join(offences)


def test_no_experiment_module_writes_its_own_threshold_for_a_vocabulary_word():
    offences = [f"{path.name}: {hit}" for path in sorted((ROOT / "lib" / "actlab" / "experiments").rglob("*.py"))
                for hit in own_thresholds(path.read_text())]
    assert not offences, "use actlab.vocabulary instead of these thresholds:\n" + "\n".join(offences)
