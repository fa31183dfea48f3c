"""Tests of actlab.experiments.reproductions (notebook 12 and make reproduce): fast, on tiny settings."""
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

from actlab.cache import load_arrays
from actlab.data import Dataset
from actlab.experiments.rectifiers import born_dead_fraction
from actlab.experiments import reproductions as rp
from actlab.parallel import map_runs


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    """Every test gets an empty data folder (ACTLAB_DATA is read at call time)."""
    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path))


def _binomial_se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-4) / n)


def test_data_dir_is_read_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTLAB_DATA", str(tmp_path / "elsewhere"))
    assert rp.data_dir() == tmp_path / "elsewhere"
    assert rp.cache_file("selu", rp.settings(True), "x").parent == tmp_path / "elsewhere" / "cache"


def test_settings_short_is_smaller_and_both_have_enough_seeds():
    short, full = rp.settings(False), rp.settings(True)
    assert len(short.seeds) >= 3 and len(full.seeds) >= 5
    assert short.dead_trials < full.dead_trials and short.kriz_epochs < full.kriz_epochs
    assert full.kriz_target == 0.25 and full.gelu_depth == 8 and full.gelu_width == 128
    assert len(full.kriz_lrs) >= 2 and len(full.gelu_lrs) >= 2


def test_batched_born_dead_agrees_with_the_one_net_at_a_time_definition():
    """Two implementations (batched here, one MLP at a time in experiments.rectifiers) of the same probability: they must agree
    within 4 binomial standard errors of the difference."""
    ours = rp.born_dead(6, 2, "he", trials=600, seed=1)
    theirs = born_dead_fraction(6, 2, trials=300, seed=1)
    p = (ours + theirs) / 2
    assert abs(ours - theirs) < 4 * math.sqrt(max(p * (1 - p), 1e-4) * (1 / 600 + 1 / 300))


def test_single_input_bound_formula_and_measurements_stay_below_it():
    assert rp.single_input_bound(1, 2) == pytest.approx(0.25)
    assert rp.single_input_bound(3, 1) == pytest.approx(1 - 0.5 ** 3)
    for depth, width in ((3, 2), (8, 3)):
        p = rp.born_dead(depth, width, "he", trials=500, seed=0)
        assert p <= rp.single_input_bound(depth, width) + 3 * _binomial_se(p, 500)
    with pytest.raises(ValueError, match="width"):
        rp.single_input_bound(3, 0)


def test_shallow_or_wide_nets_are_never_born_dead_and_deep_narrow_ones_often_are():
    assert rp.born_dead(1, 2, "he", trials=300) == 0.0  # one layer: dead at all 256 inputs needs a half-plane miss
    assert rp.born_dead(5, 64, "he", trials=100) == 0.0
    assert rp.born_dead(30, 2, "he", trials=300) > 0.9


def test_asymmetric_init_puts_one_positive_beta_entry_in_each_unit():
    gen = torch.Generator().manual_seed(0)
    he = rp.init_weights("he", 50, 7, 5, gen)
    rai = rp.init_weights("rai", 50, 7, 5, gen)
    assert he.shape == rai.shape == (50, 8, 5)
    assert torch.all(he[:, -1] == 0)  # He: zero biases
    nonzero_bias = rai[:, -1] != 0
    assert torch.all(rai[:, -1][nonzero_bias] > 0) and 0 < nonzero_bias.float().mean() < 0.5  # ~1/8 picked
    assert torch.all((rai > 0).sum(1) >= 1)
    with pytest.raises(ValueError, match="init"):
        rp.init_weights("xavier", 1, 2, 2, gen)


def test_asymmetric_init_lowers_the_born_dead_fraction_of_deep_narrow_nets():
    he, rai = rp.born_dead(10, 2, "he", trials=500, seed=3), rp.born_dead(10, 2, "rai", trials=500, seed=3)
    assert he - rai > 4 * math.sqrt(_binomial_se(he, 500) ** 2 + _binomial_se(rai, 500) ** 2)


def test_born_dead_rejects_bad_sizes():
    with pytest.raises(ValueError, match="depth"):
        rp.born_dead(0, 2)
    with pytest.raises(ValueError, match="trials"):
        rp.born_dead(3, 2, trials=0)


def test_shapeset_images_labels_and_determinism():
    a, b, c = rp.shapeset(60, seed=4, size=16), rp.shapeset(60, seed=4, size=16), rp.shapeset(60, seed=5, size=16)
    assert a.x_train.shape == (60, 256) and a.x_test.shape == (12, 256) and len(a.classes) == 9
    assert torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)
    assert a.x_train.min() >= 0 and a.x_train.max() <= 1
    assert set(a.y_train.tolist()) <= set(range(9))
    assert torch.all(a.x_train.max(1).values >= 0.4)  # every image shows a shape (grey level >= 0.4)
    two = a.y_train >= 3
    assert (a.x_train[two] > 0).float().sum(1).mean() > (a.x_train[~two] > 0).float().sum(1).mean()
    with pytest.raises(ValueError, match="n must"):
        rp.shapeset(5)


def test_layer_activations_recorded_per_layer_and_step():
    item = {"seed": 0, "depth": 3, "width": 16, "steps": 40, "every": 20, "n_train": 100, "lr": 0.1, "image": 8}
    out = rp.run_saturation(item)
    steps = sorted({r["step"] for r in out["records"]})
    assert steps[0] == 0 and steps[-1] >= 40 and all(s % 20 == 0 for s in steps)
    assert {r["layer"] for r in out["records"]} == {1, 2, 3}
    assert all(0 <= r["p02"] <= r["mean"] <= r["p98"] <= 1 for r in out["records"])
    first = [r for r in out["records"] if r["step"] == 0]
    assert all(abs(r["mean"] - 0.5) < 0.1 for r in first)  # zero biases, small weights: sigmoid near 1/2


def test_selu_fixed_point_and_the_gain_that_breaks_it():
    base = {"seed": 0, "depth": 20, "width": 128, "n": 300}
    lecun = rp.run_selu({**base, "activation": "selu", "init": "lecun"})["layers"][-1]
    gain = rp.run_selu({**base, "activation": "selu", "init": "gain_selu"})["layers"][-1]
    assert 0.5 < lecun["var"] < 2 and abs(lecun["mean"]) < 0.2  # within a factor 2 of the fixed point (0, 1)
    assert gain["var"] < 0.25  # weights 3/4 as large: the variance shrinks layer after layer


def test_epochs_to_interpolates_and_censors():
    assert rp.epochs_to([0.9, 0.5, 0.2], 0.25) == pytest.approx(1 + 0.25 / 0.3)
    assert rp.epochs_to([0.9, 0.8], 0.25) == math.inf
    assert rp.epochs_to([0.2, 0.1], 0.25) == 0.0


def _row(activation, lr, seed, epochs_to_target, epochs=10):
    return {"activation": activation, "lr": lr, "seed": seed, "epochs_to_target": epochs_to_target, "epochs": epochs}


def test_tuned_rates_and_censored_ratios():
    rows = [_row("relu", 0.01, s, 4.0) for s in range(3)] + [_row("relu", 0.1, s, 2.0) for s in range(3)]
    rows += [_row("tanh", 0.01, s, 8.0) for s in range(3)] + [_row("tanh", 0.1, 0, math.inf),
                                                              _row("tanh", 0.1, 1, math.inf), _row("tanh", 0.1, 2, 1.0)]
    assert rp.tuned(rows, "relu") == 0.1 and rp.tuned(rows, "tanh") == 0.01  # median inf loses
    out = rp.speedup(rows)
    assert out["ratio"] == [4.0, 4.0, 4.0] and out["censored"] == [False] * 3
    rows = [_row("relu", 0.1, 0, 2.0), _row("tanh", 0.1, 0, math.inf), _row("relu", 0.1, 1, 2.0),
            _row("tanh", 0.1, 1, 3.0)]
    out = rp.speedup(rows)
    assert out["censored"] == [True, False] and out["ratio"] == [5.0, 1.5]  # tanh censored at 10: ratio >= 5
    with pytest.raises(ValueError, match="gelu"):
        rp.tuned(rows, "gelu")


def test_any_executor_gives_identical_numbers():
    items = rp.items("born_dead", rp.settings(False))[:6]
    sequential = map_runs(rp.run_born_dead, items)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pooled = map_runs(rp.Logged(rp.run_born_dead, "born_dead"), items, pool)  # progress lines change nothing
    assert sequential == pooled
    assert sequential == map_runs(rp.run_born_dead, items)  # and from the same process, again


def test_full_results_are_cached_atomically_and_shown_when_present(tmp_path):
    full = rp.settings(True)
    fp, _ = rp._data_identity("born_dead", full)
    path = rp.cache_file("born_dead", full, fp)
    assert not rp.result("born_dead").full  # nothing cached: the short run
    payload = {"key": rp._key("born_dead", full, fp), "rows": [{"marker": 1}], "seconds": 12.0}
    rp._save(path, payload)
    assert load_arrays(path)[1] == payload and list(path.parent.glob("*.tmp")) == []
    shown = rp.result("born_dead")
    assert shown.full and shown.from_cache and shown.rows == [{"marker": 1}] and "FULL" in shown.which()
    stale = {**payload, "key": {**payload["key"], "torch": "0.0"}}
    rp._save(path, stale)  # a key that no longer matches (another torch) is not shown
    assert not rp.result("born_dead").full


def test_cache_key_changes_with_settings_and_data():
    full = rp.settings(True)
    assert rp.cache_file("selu", full, "a") != rp.cache_file("selu", full, "b")
    assert rp.cache_file("selu", full, "a") != rp.cache_file("selu", rp.settings(False), "a")
    assert rp.cache_file("selu", full, "a") != rp.cache_file("born_dead", full, "a")


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="name"):
        rp.result("dying")
    with pytest.raises(ValueError, match="name"):
        rp.items("dying", rp.settings(False))


def test_main_runs_one_short_reproduction(capsys):
    assert rp.main(["--only", "born_dead"]) == 0
    out = capsys.readouterr().out
    assert "born_dead" in out and "SHORT" in out
    assert "born_dead: init he, depth 1, width 2, seed 0:" in out  # one progress line per run
    with pytest.raises(SystemExit):
        rp.main(["--workers", "0"])


def test_make_reproduce_s_command_runs_on_two_workers(tmp_path):
    """The command make reproduce runs (python -m, so the module is __main__), with spawned workers: a class of
    the module run as __main__ could not be imported by the workers, and WORKERS=2 stopped at once."""
    path = os.pathsep.join(filter(None, [str(Path(rp.__file__).parents[2]), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "ACTLAB_DATA": str(tmp_path), "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-m", "actlab.experiments.reproductions", "--workers", "2", "--only",
                           "born_dead"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "born_dead: SHORT run" in done.stdout and "born_dead: init rai, depth 20, width 4, seed 2:" in done.stdout


def test_a_cold_start_never_builds_the_full_data(monkeypatch):
    seen = []
    monkeypatch.setattr(rp, "_data_identity", lambda name, s: seen.append(s.full) or ("fp", "source"))
    monkeypatch.setattr(rp, "map_runs", lambda run, items, executor=None: [])
    assert not rp.result("krizhevsky").full
    assert seen == [False]  # only the short run's data: no cached full result, so no full data fingerprint


def test_selu_closed_forms_give_the_authors_constants():
    """Klambauer et al.'s closed forms (their getSELUparameters.ipynb) against the 31-digit constants of their
    selu.py (github.com/bioinf-jku/SNNs): equal to float64 rounding (a few ulp of ~1.7)."""
    alpha, lam = rp.selu_constants()
    assert alpha == pytest.approx(1.6732632423543772848170429916717, abs=1e-14)
    assert lam == pytest.approx(1.0507009873554804934193349852946, abs=1e-14)


def test_unit_norm_rows_sets_every_linear_row_to_norm_one_with_random_directions():
    """Hendrycks and Gimpel's initialisation: each unit's incoming weight vector has Euclidean norm 1."""
    from actlab.models import MLP

    torch.manual_seed(0)
    model = rp.unit_norm_rows_(MLP(3, 16, "gelu", in_features=5, out_features=4))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 4
    for layer in linears:
        norms = layer.weight.detach().norm(dim=1)
        assert torch.allclose(norms, torch.ones_like(norms), atol=1e-6)
    first = linears[0].weight.detach()
    assert first.unique().numel() == first.numel()  # random directions, not a constant pattern
    # Over many rows of width n the mean squared entry is 1/n (a unit vector's n entries): n = 5 here.
    rows = rp.unit_norm_rows_(torch.nn.Linear(5, 4000)).weight.detach()
    assert (rows ** 2).mean().item() == pytest.approx(1 / 5, rel=1e-5)
    assert abs(rows.mean().item()) < 4 * math.sqrt(1 / 5 / rows.numel())


def test_full_saturation_run_has_the_papers_four_hidden_layers():
    """Glorot and Bengio's figure 2 is a four-hidden-layer sigmoid net (their five-layer net never desaturated)."""
    assert rp.settings(True).sat_depth == 4 and rp.settings(False).sat_depth == 4


def test_a_cached_full_result_says_how_it_was_computed(tmp_path):
    """Thread counts and CPU kernels change training's last bits: a shown full result names the ones it ran with."""
    full = rp.settings(True)
    fp, _ = rp._data_identity("selu", full)
    rp._save(rp.cache_file("selu", full, fp), {"key": rp._key("selu", full, fp), "rows": [], "seconds": 1.0,
                                               "machine": rp.machine()})
    kernels = torch.backends.cpu.get_cpu_capability()
    assert f"computed them in 1 s, 1 torch thread(s) per run, {kernels} CPU kernels" in rp.result("selu").which()


def test_an_edited_cache_file_is_not_served(tmp_path):
    """The cached file carries a sha256 of its contents: rows edited by hand (checksum left as it was) are refused
    with a warning and the short run is shown (the old JSON cache served any edit)."""
    full = rp.settings(True)
    fp, _ = rp._data_identity("born_dead", full)
    path = rp.cache_file("born_dead", full, fp)
    rp._save(path, {"key": rp._key("born_dead", full, fp), "rows": [{"born_dead": 0.5}], "seconds": 1.0})
    assert rp.result("born_dead").full
    with np.load(path) as f:
        meta = json.loads(f["__meta__"].tobytes())
    meta["rows"] = [{"born_dead": 0.0}]  # the edit; its sha256 is the one of the original rows
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    with pytest.warns(UserWarning, match="checksum"):
        shown = rp.result("born_dead")
    assert not shown.full


def test_the_key_holds_the_cpu_kernels_and_threads_per_run(tmp_path, monkeypatch):
    """A result computed with other CPU kernels is not served (its last bits may differ): they are in the key."""
    full = rp.settings(True)
    fp, _ = rp._data_identity("selu", full)
    rp._save(rp.cache_file("selu", full, fp), {"key": rp._key("selu", full, fp), "rows": [], "seconds": 1.0})
    assert rp.result("selu").full
    assert rp._key("selu", full, fp)["machine"] == {"threads_per_run": 1,
                                                    "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "OTHER")
    assert not rp.result("selu", use_cache=True).full


def test_every_run_is_pinned_to_one_thread_and_the_callers_setting_comes_back():
    before = torch.get_num_threads()
    assert rp.OneThread(lambda item: torch.get_num_threads())({}) == rp.THREADS_PER_RUN == 1
    assert torch.get_num_threads() == before


def test_gelu_rates_are_chosen_on_validation_loss_per_activation():
    """Each activation at its own rate, by median validation loss (not training loss); a diverged run loses."""
    rows = [{"activation": a, "lr": lr, "seed": s, "val_loss": val, "final_loss": train}
            for a in rp.GELU_ACTIVATIONS for s in (0, 1, 2)
            for lr, val, train in ((1e-3, 1.0 if a == "gelu" else 2.0, 0.1), (1e-4, 1.5, 0.5))]
    rows[0]["val_loss"] = math.nan  # one gelu seed diverged at 1e-3: the median of (inf, 1, 1) is still 1
    assert rp.gelu_rates(rows) == {"gelu": 1e-3, "relu": 1e-4, "elu": 1e-4}


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
        monkeypatch.setattr(rp, "gelu_data", lambda n, data=data: data)
        outs.append(rp.run_gelu_mlp(item))
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
        monkeypatch.setattr(rp, "kriz_data", lambda n, data=data: data)
        outs.append(rp.run_krizhevsky(item))
    assert outs[0]["errors"] == outs[1]["errors"] and outs[0]["epochs_to_target"] == outs[1]["epochs_to_target"]
    assert rp.tuned(outs[:1], "tanh") == 0.03
