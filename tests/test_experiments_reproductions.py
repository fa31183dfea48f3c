"""Tests of actlab.experiments.reproductions (notebook 12 and make reproduce): the registry, the runner, the cache
and each paper module, fast, on tiny settings."""
import dataclasses
import importlib
import json
import math
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from actlab.cache import load_arrays, save_arrays
from actlab.data import Dataset
from actlab.experiments.rectifiers import born_dead_fraction
from actlab.experiments import reproductions as rp
from actlab.experiments.reproductions import _common as common
from actlab.experiments.reproductions import born_dead as bd
from actlab.experiments.reproductions import gelu_mlp, krizhevsky, saturation, selu
from actlab.parallel import map_runs


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    """Every test gets an empty data folder (ACTLAB_DATA is read at call time)."""
    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path))


def _binomial_se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-4) / n)


def _store(paper, rows, seconds: float = 1.0):
    """Store a full result of paper for the current code, data and settings, as make reproduce does; (path, key)."""
    s = paper.settings(True)
    key = common.cache_key(paper, s, paper.data(s)[0])
    return common.save_result(key, rows, seconds), key


def test_data_dir_is_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path / "elsewhere"))
    assert rp.data_dir() == tmp_path / "elsewhere"
    path, _ = _store(selu, [])
    assert path.parent == tmp_path / "elsewhere" / "cache"


def test_the_registry_finds_the_five_papers_and_each_follows_the_protocol():
    assert rp.names() == ("born_dead", "gelu_mlp", "krizhevsky", "saturation", "selu")
    for name, paper in rp.papers().items():
        assert paper.NAME == name and paper.TITLE
        short, full = paper.settings(False), paper.settings(True)
        assert not short.full and full.full
        assert len(short.seeds) >= 3 and len(full.seeds) >= 5
        assert len(paper.items(short)) <= len(paper.items(full)), f"{name}: the short run does more than the full one"


def test_settings_short_is_smaller_than_full_where_the_paper_is_long():
    assert bd.settings(False).trials < bd.settings(True).trials
    assert krizhevsky.settings(False).epochs < krizhevsky.settings(True).epochs
    full = krizhevsky.settings(True)
    assert full.target == 0.25 and len(full.lrs) >= 2
    full = gelu_mlp.settings(True)
    assert full.depth == 8 and full.width == 128 and len(full.lrs) >= 2


def test_batched_born_dead_agrees_with_the_one_net_at_a_time_definition():
    """Two implementations (batched here, one MLP at a time in experiments.rectifiers) of the same probability: they must agree
    within 4 binomial standard errors of the difference."""
    ours = bd.born_dead(6, 2, "he", trials=600, seed=1)
    theirs = born_dead_fraction(6, 2, trials=300, seed=1)
    p = (ours + theirs) / 2
    assert abs(ours - theirs) < 4 * math.sqrt(max(p * (1 - p), 1e-4) * (1 / 600 + 1 / 300))


def test_single_input_bound_formula_and_measurements_stay_below_it():
    assert bd.single_input_bound(1, 2) == pytest.approx(0.25)
    assert bd.single_input_bound(3, 1) == pytest.approx(1 - 0.5 ** 3)
    for depth, width in ((3, 2), (8, 3)):
        p = bd.born_dead(depth, width, "he", trials=500, seed=0)
        assert p <= bd.single_input_bound(depth, width) + 3 * _binomial_se(p, 500)
    with pytest.raises(ValueError, match="width"):
        bd.single_input_bound(3, 0)


def test_shallow_or_wide_nets_are_never_born_dead_and_deep_narrow_ones_often_are():
    assert bd.born_dead(1, 2, "he", trials=300) == 0.0  # one layer: dead at all 256 inputs needs a half-plane miss
    assert bd.born_dead(5, 64, "he", trials=100) == 0.0
    assert bd.born_dead(30, 2, "he", trials=300) > 0.9


def test_asymmetric_init_puts_one_positive_beta_entry_in_each_unit():
    gen = torch.Generator().manual_seed(0)
    he = bd.init_weights("he", 50, 7, 5, gen)
    rai = bd.init_weights("rai", 50, 7, 5, gen)
    assert he.shape == rai.shape == (50, 8, 5)
    assert torch.all(he[:, -1] == 0)  # He: zero biases
    nonzero_bias = rai[:, -1] != 0
    assert torch.all(rai[:, -1][nonzero_bias] > 0) and 0 < nonzero_bias.float().mean() < 0.5  # ~1/8 picked
    assert torch.all((rai > 0).sum(1) >= 1)
    with pytest.raises(ValueError, match="init"):
        bd.init_weights("xavier", 1, 2, 2, gen)


def test_asymmetric_init_lowers_the_born_dead_fraction_of_deep_narrow_nets():
    he, rai = bd.born_dead(10, 2, "he", trials=500, seed=3), bd.born_dead(10, 2, "rai", trials=500, seed=3)
    assert he - rai > 4 * math.sqrt(_binomial_se(he, 500) ** 2 + _binomial_se(rai, 500) ** 2)


def test_born_dead_rejects_bad_sizes():
    with pytest.raises(ValueError, match="depth"):
        bd.born_dead(0, 2)
    with pytest.raises(ValueError, match="trials"):
        bd.born_dead(3, 2, trials=0)


def test_shapeset_images_labels_and_determinism():
    a, b, c = (saturation.shapeset(60, seed=seed, size=16) for seed in (4, 4, 5))
    assert a.x_train.shape == (60, 256) and a.x_test.shape == (12, 256) and len(a.classes) == 9
    assert torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)
    assert a.x_train.min() >= 0 and a.x_train.max() <= 1
    assert set(a.y_train.tolist()) <= set(range(9))
    assert torch.all(a.x_train.max(1).values >= 0.4)  # every image shows a shape (grey level >= 0.4)
    two = a.y_train >= 3
    assert (a.x_train[two] > 0).float().sum(1).mean() > (a.x_train[~two] > 0).float().sum(1).mean()
    with pytest.raises(ValueError, match="n must"):
        saturation.shapeset(5)


def test_layer_activations_recorded_per_layer_and_step():
    item = {"seed": 0, "depth": 3, "width": 16, "steps": 40, "every": 20, "n_train": 100, "lr": 0.1, "image": 8}
    out = saturation.run(item)
    steps = sorted({r["step"] for r in out["records"]})
    assert steps[0] == 0 and steps[-1] >= 40 and all(s % 20 == 0 for s in steps)
    assert {r["layer"] for r in out["records"]} == {1, 2, 3}
    assert all(0 <= r["p02"] <= r["mean"] <= r["p98"] <= 1 for r in out["records"])
    first = [r for r in out["records"] if r["step"] == 0]
    assert all(abs(r["mean"] - 0.5) < 0.1 for r in first)  # zero biases, small weights: sigmoid near 1/2


def test_selu_fixed_point_and_the_gain_that_breaks_it():
    base = {"seed": 0, "depth": 20, "width": 128, "n": 300}
    lecun = selu.run({**base, "activation": "selu", "init": "lecun"})["layers"][-1]
    gain = selu.run({**base, "activation": "selu", "init": "gain_selu"})["layers"][-1]
    assert 0.5 < lecun["var"] < 2 and abs(lecun["mean"]) < 0.2  # within a factor 2 of the fixed point (0, 1)
    assert gain["var"] < 0.25  # weights 3/4 as large: the variance shrinks layer after layer


def test_epochs_to_interpolates_and_censors():
    assert krizhevsky.epochs_to([0.9, 0.5, 0.2], 0.25) == pytest.approx(1 + 0.25 / 0.3)
    assert krizhevsky.epochs_to([0.9, 0.8], 0.25) == math.inf
    assert krizhevsky.epochs_to([0.2, 0.1], 0.25) == 0.0


def _row(activation, lr, seed, epochs_to_target, epochs=10):
    return {"activation": activation, "lr": lr, "seed": seed, "epochs_to_target": epochs_to_target, "epochs": epochs}


def test_tuned_rates_and_censored_ratios():
    rows = [_row("relu", 0.01, s, 4.0) for s in range(3)] + [_row("relu", 0.1, s, 2.0) for s in range(3)]
    rows += [_row("tanh", 0.01, s, 8.0) for s in range(3)] + [_row("tanh", 0.1, 0, math.inf),
                                                              _row("tanh", 0.1, 1, math.inf), _row("tanh", 0.1, 2, 1.0)]
    assert krizhevsky.tuned(rows, "relu") == 0.1 and krizhevsky.tuned(rows, "tanh") == 0.01  # median inf loses
    out = krizhevsky.speedup(rows)
    assert out["ratio"] == [4.0, 4.0, 4.0] and out["censored"] == [False] * 3
    rows = [_row("relu", 0.1, 0, 2.0), _row("tanh", 0.1, 0, math.inf), _row("relu", 0.1, 1, 2.0),
            _row("tanh", 0.1, 1, 3.0)]
    out = krizhevsky.speedup(rows)
    assert out["censored"] == [True, False] and out["ratio"] == [5.0, 1.5]  # tanh censored at 10: ratio >= 5
    with pytest.raises(ValueError, match="gelu"):
        krizhevsky.tuned(rows, "gelu")


def test_any_executor_gives_identical_numbers():
    items = bd.items(bd.settings(False))[:6]
    sequential = map_runs(bd.run, items)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pooled = map_runs(common.Logged(bd.run, "born_dead"), items, pool)  # progress lines change nothing
    assert sequential == pooled
    assert sequential == map_runs(bd.run, items)  # and from the same process, again


def test_full_results_are_cached_atomically_and_shown_when_present(monkeypatch):
    assert not rp.result("born_dead").full  # nothing cached: the short run
    path, key = _store(bd, [{"marker": 1}], 12.0)
    assert load_arrays(path)[1]["rows"] == [{"marker": 1}] and list(path.parent.glob("*.tmp")) == []
    shown = rp.result("born_dead")
    assert shown.full and shown.from_cache and shown.rows == [{"marker": 1}] and "FULL" in shown.which()
    monkeypatch.setattr(torch, "__version__", "0.0")  # another torch: another key, the stored result is not shown
    assert not rp.result("born_dead").full


def test_a_file_holding_another_key_is_not_served(tmp_path):
    """A file under this key's name whose stored key differs (renamed by hand, say) is refused with a warning."""
    path, key = _store(bd, [{"marker": 1}])
    save_arrays(path, {}, {"key": {**key, "torch": "0.0"}, "rows": [{"marker": 2}], "seconds": 1.0})
    with pytest.warns(UserWarning, match="stored key differs"):
        assert not rp.result("born_dead").full


def test_a_changed_setting_misses_the_cache(monkeypatch):
    """make reproduce's result is served only for the full settings it ran with: one changed field misses it."""
    _store(bd, [{"marker": 1}])
    assert rp.result("born_dead").full
    full = bd.settings(True)
    tiny = bd.Settings(False, seeds=(0,), depths=(1,), widths=(2,), trials=2)
    monkeypatch.setattr(bd, "settings", lambda full_run=False: (dataclasses.replace(full, trials=full.trials + 1)
                                                                if full_run else tiny))
    shown = rp.result("born_dead")
    assert not shown.full and shown.settings["trials"] == 2


def test_the_key_changes_with_settings_data_and_paper():
    full, short = selu.settings(True), selu.settings(False)
    path = lambda paper, s, fp: common.cache_file(common.cache_key(paper, s, fp))  # noqa: E731
    assert path(selu, full, "a") != path(selu, full, "b")
    assert path(selu, full, "a") != path(selu, short, "a")
    assert path(selu, full, "a") != path(bd, bd.settings(True), "a")


def test_the_key_changes_with_the_paper_s_code(tiny_paper):
    """A paper module kept outside the library (not in the library's digest): its own source is in the key."""
    paper = rp.paper("tiny_paper")
    before = common.cache_key(paper, paper.settings(True), "a")
    source = tiny_paper / "tiny_paper.py"
    source.write_text(source.read_text().replace(".mean().item()", ".median().item()"))
    assert common.cache_key(paper, paper.settings(True), "a")["code"] != before["code"]


def test_the_key_is_the_same_in_another_process(tmp_path):
    """make reproduce and the notebook are two processes: a key that differed between them would never be served."""
    code = ("from actlab.experiments import reproductions as rp\n"
            "from actlab.experiments.reproductions import _common as c\n"
            "for p in rp.papers().values():\n    print(c.cache_file(c.cache_key(p, p.settings(True), 'x')).name)")
    path = os.pathsep.join(filter(None, [str(Path(rp.__file__).parents[3]), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "ACTLAB_DATA": str(tmp_path), "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    here = [common.cache_file(common.cache_key(p, p.settings(True), "x")).name for p in rp.papers().values()]
    assert done.stdout.split() == here


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="name"):
        rp.result("dying")
    with pytest.raises(ValueError, match="name"):
        rp.paper("dying")


def test_main_runs_one_short_reproduction_and_prints_its_verdict(capsys):
    assert rp.main(["--only", "born_dead"]) == 0
    out = capsys.readouterr().out
    assert "born_dead" in out and "SHORT" in out
    assert "born_dead: init he, depth 1, width 2, seed 0:" in out  # one progress line per run
    assert "holds: the asymmetric initialisation leaves fewer deep nets" in out  # the paper's verdict
    with pytest.raises(SystemExit):
        rp.main(["--workers", "0"])


@pytest.mark.slow  # two processes (about 12 s of CPU): make test runs it, make test-fast does not
def test_make_reproduce_s_command_runs_on_two_workers(tmp_path):
    """The command make reproduce runs (python -m on the package, its __main__.py), with spawned workers: a class
    defined in a module run as __main__ could not be imported by the workers, and WORKERS=2 stopped at once."""
    path = os.pathsep.join(filter(None, [str(Path(rp.__file__).parents[3]), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "ACTLAB_DATA": str(tmp_path), "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-m", "actlab.experiments.reproductions", "--workers", "2", "--only",
                           "born_dead"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "born_dead: SHORT run" in done.stdout and "born_dead: init rai, depth 20, width 4, seed 2:" in done.stdout


def test_a_cold_start_never_builds_the_full_data(monkeypatch):
    seen = []
    monkeypatch.setattr(krizhevsky, "data", lambda s: seen.append(s.full) or ("fp", "source"))
    monkeypatch.setattr(rp, "map_runs", lambda run, items, executor=None: [])
    assert not rp.result("krizhevsky").full
    assert seen == [False]  # only the short run's data: no cached full result, so no full data fingerprint


TINY_PAPER = '''"""A paper module written by a test: the protocol and nothing else."""
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from actlab.seeding import seeded

NAME = "tiny_paper"
TITLE = "A tiny paper: uniform draws are positive"


@dataclass(frozen=True)
class Settings:
    full: bool
    seeds: tuple
    n: int


def settings(full=False):
    return Settings(full, (0, 1, 2, 3, 4) if full else (0, 1, 2), 8 if full else 4)


def data(s):
    return "no-data", "uniform draws (no data set)"


def items(s):
    return [{"seed": seed, "n": s.n} for seed in s.seeds]


def run(item):
    with seeded(item["seed"]):
        return {**item, "value": torch.rand(item["n"]).mean().item()}


def plot(rows):
    return Figure()


def verdict(result, family):
    return [str(family.greater([r["value"] for r in result.rows], 0.0, "tiny: the draws' mean is positive"))]
'''


@pytest.fixture
def tiny_paper(tmp_path, monkeypatch):
    """A new paper module placed in the package (a folder added to its __path__), removed afterwards."""
    folder = tmp_path / "more_papers"
    folder.mkdir()
    (folder / "tiny_paper.py").write_text(TINY_PAPER)
    monkeypatch.setattr(rp, "__path__", [*rp.__path__, str(folder)])
    yield folder
    sys.modules.pop(f"{rp.__name__}.tiny_paper", None)


def test_a_new_paper_module_is_found_and_run_by_the_runner(tiny_paper, capsys):
    assert "tiny_paper" in rp.names() and rp.paper("tiny_paper").TITLE.startswith("A tiny paper")
    assert rp.main(["--only", "tiny_paper"]) == 0
    out = capsys.readouterr().out
    assert "tiny_paper: SHORT run" in out and "tiny_paper: seed 2:" in out
    assert "holds: tiny: the draws' mean is positive" in out
    short = rp.result("tiny_paper")
    assert [r["seed"] for r in short.rows] == [0, 1, 2] and all(r["n"] == 4 for r in short.rows)


def test_make_reproduce_s_full_results_are_what_the_notebook_reads(tiny_paper, monkeypatch, capsys):
    """make reproduce (main --full) stores the full runs through actlab.cache; result(), the notebook's call, then
    shows them; a changed full setting misses them."""
    assert not rp.result("tiny_paper").full
    assert rp.main(["--full", "--only", "tiny_paper"]) == 0
    assert "cached in" in capsys.readouterr().out
    shown = rp.result("tiny_paper")
    assert shown.full and shown.from_cache and len(shown.rows) == 5 and shown.settings["n"] == 8
    paper = rp.paper("tiny_paper")
    monkeypatch.setattr(paper, "settings", lambda full=False: paper.Settings(full, (0, 1, 2, 3, 4), 9 if full else 4))
    assert not rp.result("tiny_paper").full


def test_a_module_without_the_protocol_is_refused_by_name(tiny_paper):
    (tiny_paper / "half_paper.py").write_text('NAME = "half_paper"\n')
    importlib.invalidate_caches()  # the folder's listing, cached by the import system, is read again
    try:
        with pytest.raises(TypeError, match="half_paper.*TITLE"):
            rp.papers()
    finally:
        sys.modules.pop(f"{rp.__name__}.half_paper", None)


def test_selu_closed_forms_give_the_authors_constants():
    """Klambauer et al.'s closed forms (their getSELUparameters.ipynb) against the 31-digit constants of their
    selu.py (github.com/bioinf-jku/SNNs): equal to float64 rounding (a few ulp of ~1.7)."""
    alpha, lam = selu.selu_constants()
    assert alpha == pytest.approx(1.6732632423543772848170429916717, abs=1e-14)
    assert lam == pytest.approx(1.0507009873554804934193349852946, abs=1e-14)


def test_unit_norm_rows_sets_every_linear_row_to_norm_one_with_random_directions():
    """Hendrycks and Gimpel's initialisation: each unit's incoming weight vector has Euclidean norm 1."""
    from actlab.models import MLP

    torch.manual_seed(0)
    model = gelu_mlp.unit_norm_rows_(MLP(3, 16, "gelu", in_features=5, out_features=4))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4
    for layer in linears:
        norms = layer.weight.detach().norm(dim=1)
        assert torch.allclose(norms, torch.ones_like(norms), atol=1e-6)
    first = linears[0].weight.detach()
    assert first.unique().numel() == first.numel()  # random directions, not a constant pattern
    # Over many rows of width n the mean squared entry is 1/n (a unit vector's n entries): n = 5 here.
    rows = gelu_mlp.unit_norm_rows_(torch.nn.Linear(5, 4000)).weight.detach()
    assert (rows ** 2).mean().item() == pytest.approx(1 / 5, rel=1e-5)
    assert abs(rows.mean().item()) < 4 * math.sqrt(1 / 5 / rows.numel())


def test_full_saturation_run_has_the_papers_four_hidden_layers():
    """Glorot and Bengio's figure 2 is a four-hidden-layer sigmoid net (their five-layer net never desaturated)."""
    assert saturation.settings(True).depth == 4 and saturation.settings(False).depth == 4


def test_a_cached_full_result_says_how_it_was_computed():
    """Thread counts and CPU kernels change training's last bits: a shown full result names the ones it ran with."""
    _store(selu, [], 1.0)
    kernels = torch.backends.cpu.get_cpu_capability()
    assert f"computed them in 1 s, 1 torch thread(s) per run, {kernels} CPU kernels" in rp.result("selu").which()


def test_an_edited_cache_file_is_not_served():
    """The cached file carries a sha256 of its contents: rows edited by hand (checksum left as it was) are refused
    with a warning and the short run is shown."""
    path, _ = _store(bd, [{"born_dead": 0.5}])
    assert rp.result("born_dead").full
    with np.load(path) as f:
        meta = json.loads(f["__meta__"].tobytes())
    meta["rows"] = [{"born_dead": 0.0}]  # the edit; its sha256 is the one of the original rows
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    with pytest.warns(UserWarning, match="checksum"):
        shown = rp.result("born_dead")
    assert not shown.full


def test_the_key_holds_the_cpu_kernels_and_threads_per_run(monkeypatch):
    """A result computed with other CPU kernels is not served (its last bits may differ): they are in the key."""
    _, key = _store(selu, [])
    assert rp.result("selu").full
    assert key["machine"] == {"threads_per_run": 1, "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "OTHER")
    assert not rp.result("selu", use_cache=True).full


def test_every_run_is_pinned_to_one_thread_and_the_callers_setting_comes_back():
    before = torch.get_num_threads()
    assert common.OneThread(lambda item: torch.get_num_threads())({}) == common.THREADS_PER_RUN == 1
    assert torch.get_num_threads() == before


def test_gelu_rates_are_chosen_on_validation_loss_per_activation():
    """Each activation at its own rate, by median validation loss (not training loss); a diverged run loses."""
    rows = [{"activation": a, "lr": lr, "seed": s, "val_loss": val, "final_loss": train}
            for a in gelu_mlp.ACTIVATIONS for s in (0, 1, 2)
            for lr, val, train in ((1e-3, 1.0 if a == "gelu" else 2.0, 0.1), (1e-4, 1.5, 0.5))]
    rows[0]["val_loss"] = math.nan  # one gelu seed diverged at 1e-3: the median of (inf, 1, 1) is still 1
    assert gelu_mlp.rates(rows) == {"gelu": 1e-3, "relu": 1e-4, "elu": 1e-4}


def test_the_gelu_runs_never_read_the_test_split(monkeypatch):
    """Tuning uses a validation split of the training images: a test split of NaN changes nothing."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(120, 6, generator=gen), torch.arange(120) % 3
    clean = Dataset(x[:100], y[:100], x[100:], y[100:], ("a", "b", "c"), "tiny")
    poisoned = Dataset(x[:100], y[:100], torch.full_like(x[100:], math.nan), y[100:], ("a", "b", "c"), "tiny")
    item = {"activation": "gelu", "lr": 1e-3, "seed": 0, "epochs": 2, "n_train": 100, "depth": 2, "width": 8,
            "validation": 0.2}
    outs = []
    for data in (clean, poisoned):
        monkeypatch.setattr(gelu_mlp, "images", lambda n, data=data: data)
        outs.append(gelu_mlp.run(item))
    assert math.isfinite(outs[1]["val_loss"]) and outs[0] == outs[1]


def test_krizhevsky_rates_are_chosen_without_the_test_split(monkeypatch):
    """Krizhevsky et al. chose each network's rate for training speed: the runs' numbers (training errors, epochs to
    target) and hence tuned() never read the test split; a test split of NaN changes none of them."""
    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(80, 3, 32, 32, generator=gen), torch.arange(80) % 10
    clean = Dataset(x[:64], y[:64], x[64:], y[64:], tuple("abcdefghij"), "tiny images")
    poisoned = Dataset(x[:64], y[:64], torch.full_like(x[64:], math.nan), y[64:], tuple("abcdefghij"), "tiny images")
    item = {"activation": "tanh", "lr": 0.03, "seed": 0, "epochs": 2, "n_train": 64, "target": 0.85}
    outs = []
    for data in (clean, poisoned):
        monkeypatch.setattr(krizhevsky, "images", lambda n, data=data: data)
        outs.append(krizhevsky.run(item))
    assert outs[0]["errors"] == outs[1]["errors"] and outs[0]["epochs_to_target"] == outs[1]["epochs_to_target"]
    assert krizhevsky.tuned(outs[:1], "tanh") == 0.03
