"""The live training playground: the headless engine learns, diagnoses and reproduces; the widget never raises."""
import asyncio
import base64
import math
import time
import types
from io import BytesIO

import numpy as np
import pytest
import torch
from PIL import Image

import actlab
from actlab.playground import (DEFAULTS, PANELS, Engine, Lines, bench, Playground, PlaygroundNet, check_config,
                               code_line, playground)

SEEDS = (0, 1, 2)
FLOAT32_FLOOR = math.log10(2.0 ** -24)  # a smaller relative update is lost to float32 rounding (-7.2 decades)


def test_depth_two_relu_net_learns_circles_over_seeds():
    accuracies = [Engine({"dataset": "circles", "depth": 2, "width": 16, "activation": "relu", "seed": s})
                  .run(150, record_every=50).history_frame()["test_acc"].iloc[-1] for s in SEEDS]
    actlab.claim_greater(accuracies, 0.95, "depth-2 ReLU test accuracy on circles > 0.95").check()
    assert min(accuracies) > 0.95


def test_fifteen_sigmoid_layers_first_update_ratio_orders_below_last():
    first, last = [], []
    for s in SEEDS:
        engine = Engine({"dataset": "spirals", "depth": 15, "width": 32, "activation": "sigmoid",
                         "optimizer": "sgd", "lr": 0.1, "seed": s}).run(40, record_every=10)
        frame = engine.layer_frame()
        frame = frame[frame["step"] > 0]
        ratio = frame.groupby("layer")["update_ratio"].mean().clip(lower=FLOAT32_FLOOR)  # -inf: did not move
        first.append(ratio.loc[1])
        last.append(ratio.loc[15])
    # "orders of magnitude": at least two decades apart, with a margin of 2 standard errors over seeds
    actlab.claim_less(first, np.array(last) - 2, "layer 1's log10 update ratio is 2+ decades below layer 15's",
                      paired=True).check()


@pytest.mark.slow  # about 15 s of CPU: make test runs it, make test-fast does not
def test_killing_learning_rate_raises_the_dead_fraction():
    def dead(lr: float, seed: int) -> tuple[float, float]:
        engine = Engine({"dataset": "spirals", "depth": 4, "width": 32, "activation": "relu", "optimizer": "adam",
                         "lr": lr, "seed": seed}).run(100, record_every=20)
        per_record = engine.layer_frame().groupby("step")["dead_fraction"].mean()
        return per_record.iloc[0], per_record.iloc[-1]

    killed = [dead(0.3, s) for s in SEEDS]
    gentle = [dead(0.003, s) for s in SEEDS]
    start, end = [k[0] for k in killed], [k[1] for k in killed]
    actlab.claim_greater(end, start, "the dead fraction rises under lr=0.3", paired=True, min_difference=0.2).check()
    actlab.claim_greater(end, [g[1] for g in gentle], "lr=0.3 leaves more dead units than lr=0.003", paired=True).check()


def test_same_seed_same_run_and_another_seed_another():
    config = {"dataset": "moons", "depth": 3, "width": 12, "activation": ["tanh", "elu", "relu"], "seed": 5}
    a, b = Engine(config).run(60), Engine(config).run(60)
    assert a.history == b.history
    assert a.layer_frame().equals(b.layer_frame())
    c = Engine({**config, "seed": 6}).run(60)
    assert c.history[-1]["train_loss"] != a.history[-1]["train_loss"]


def test_code_line_rebuilds_the_same_run():
    pg = playground(dataset="xor", noise=0.2, depth=3, width=8, activation=["tanh", "leaky_relu", "elu"],
                    params=[{}, {"alpha": 0.2}, {"alpha": 0.5}], init="xavier", batch_norm=True, optimizer="sgd",
                    lr=0.05, batch_size=16, seed=3)
    line = pg.code_line()
    assert line.startswith("actlab.playground(") and "\n" not in line
    rebuilt = eval(line, {"actlab": types.SimpleNamespace(playground=playground)})  # noqa: S307 - our own line
    assert rebuilt.config == pg.config
    assert rebuilt.run(30).history.equals(pg.run(30).history)


def test_defaults_give_a_short_line():
    assert code_line({}) == "actlab.playground()"
    assert code_line({"activation": "gelu", "depth": 2}) == "actlab.playground(depth=2, activation='gelu')"


@pytest.mark.parametrize("bad, name", [({"depth": 0}, "depth"), ({"width": 10_000}, "width"), ({"lr": -1}, "lr"),
                                       ({"activation": "relux"}, "relux"), ({"dataset": "swirl"}, "dataset"),
                                       ({"params": {"alpha": 99}, "activation": "elu"}, "alpha"),
                                       ({"activation": ["relu"] * 3, "depth": 2}, "activation"),
                                       ({"colour": 1}, "colour"), ({"batch_norm": "yes"}, "batch_norm"),
                                       ({"csv": "/no/such.csv"}, "csv")])
def test_bad_settings_raise_naming_the_setting(bad, name):
    with pytest.raises(ValueError, match=name):
        check_config(bad)


def test_depth_20_width_256_with_per_layer_activations_and_batch_norm():
    acts = actlab.activation_names()[:20]
    engine = Engine({"depth": 20, "width": 256, "activation": acts, "batch_norm": True, "n": 200}).run(3, record_every=3)
    assert engine.layer_frame()["layer"].max() == 20
    assert [m.actlab_name for m in engine.model.acts] == [actlab.lookup(a).name for a in acts]


@pytest.mark.parametrize("init, activation, params", [
    ("xavier", "tanh", {}), ("kaiming", "tanh", {}), ("kaiming", "leaky_relu", {"alpha": 0.3}),
    ("recommended", "selu", {}), ("recommended", "gelu", {}), ("recommended", "relu", {}), ("lecun", "sigmoid", {}),
    ("orthogonal", "relu", {}), ("small", "elu", {}), ("large", "relu", {})])
def test_an_init_name_draws_the_same_weight_scale_in_mlp_lenet_and_the_playground(init, activation, params):
    """One table (models.INITS) and one gain rule: a 120 -> 84 layer before the activation, and the output layer,
    have the same standard deviation in all three. The draws differ (other shapes before them), so the scales are
    compared within 5 standard errors of a normal sample's std (relative 1 / sqrt(2 n)); on main the playground's
    xavier before tanh was 5/3 of MLP's and LeNet's."""
    def std(layer):
        return layer.weight.std().item()

    torch.manual_seed(0)
    mlp = actlab.MLP(2, 84, activation, params, in_features=120, out_features=10, init=init)
    lenet = actlab.LeNet(activation, params, init=init)
    net = PlaygroundNet({**DEFAULTS, "depth": 2, "width": 84, "activation": activation, "params": params,
                         "init": init}, in_features=120, classes=10)
    tolerance = 5 / math.sqrt(2 * 84 * 84)
    assert std(net.linears[1]) == pytest.approx(std(mlp.hidden.linear2), rel=2 * tolerance)
    assert std(net.linears[0]) == pytest.approx(std(lenet.fc2), rel=2 * tolerance)  # fc2: 120 -> 84, as here
    assert std(net.out) == pytest.approx(std(lenet.fc3), rel=2 * 5 / math.sqrt(2 * 840))


def test_live_change_while_paused_keeps_the_weights_and_applies_on_the_next_step():
    pg = Playground(depth=3, width=8, activation="relu", seed=1).run(20)
    weights = [p.detach().clone() for p in pg.engine.model.parameters()]
    pg.layer_pick.value = 2
    pg.act_pick.value = "tanh"
    pg.w["lr"].value = 0.1
    assert [m.actlab_name for m in pg.engine.model.acts] == ["relu", "tanh", "relu"]
    assert all(torch.equal(a, b) for a, b in zip(weights, pg.engine.model.parameters()))
    assert pg.engine.optimizer.param_groups[0]["lr"] == pytest.approx(0.1)
    assert "activation=['relu', 'tanh', 'relu']" in pg.code.value
    pg.run(5)
    assert pg.layer_stats["activation"].iloc[-2] == "tanh"


def test_structural_change_rebuilds_from_the_seed():
    pg = Playground(depth=2, width=8, seed=4).run(30)
    pg.w["depth"].value = 3
    assert pg.engine.step_count == 0 and len(pg.engine.model.acts) == 3
    assert list(pg.layer_pick.options) == ["all", 1, 2, 3]


def test_widget_callbacks_refuse_bad_values_without_raising():
    pg = Playground(depth=2, width=8)
    config = pg.config
    pg._on_setting("lr", -1.0)
    assert "refused" in pg.status.value and "lr" in pg.status.value
    assert pg.config == config and pg.w["lr"].value == config["lr"]
    pg.act_pick.value = "hardtanh"
    lower = next(s for s in pg.param_box.children if s.description == "min_val")
    lower.value = 1.0  # min_val above max_val: the registry's constraint refuses it
    assert "refused" in pg.status.value
    assert pg.config["params"][0].get("min_val", -1.0) < 1.0
    pg._on_start()  # no event loop outside a kernel: refused with the reason, no exception
    assert "event loop" in pg.status.value


def test_live_loop_trains_redraws_and_stops_on_pause():
    async def scenario(pg):
        await _click_then_watch(pg, ("start",), False)  # until two frames are drawn, however long that takes
        grid = pg.board.grid
        pg._on_pause()
        await asyncio.wait_for(asyncio.gather(*_live_loops(), return_exceptions=True), timeout=120)
        return grid

    pg = Playground(depth=2, width=8, fps=20)
    before, sent = pg.board.grid, pg.board.frame
    during = asyncio.run(scenario(pg))
    assert pg.frames >= 2 and pg.engine.step_count > 0 and pg.board.frame >= sent + 2
    assert during != before  # the boundary the board sent changed while training
    steps, grid, sent = pg.engine.step_count, pg.board.grid, pg.board.frame
    asyncio.run(asyncio.sleep(0.1))
    assert pg.engine.step_count == steps and pg.board.grid == grid and pg.board.frame == sent


def test_static_png_in_the_display_data():
    pg = Playground(depth=2, width=8).run(10)
    data, _ = pg._repr_mimebundle_()
    image = Image.open(BytesIO(base64.b64decode(data["image/png"])))
    assert image.format == "PNG" and image.width > 600
    assert "application/vnd.jupyter.widget-view+json" in data


def test_user_arrays_with_three_classes_and_a_csv(tmp_path):
    gen = np.random.default_rng(0)
    x = gen.normal(size=(300, 2)) + np.repeat([[0, 3], [3, 0], [-3, 0]], 100, axis=0)
    y = np.repeat([0, 1, 2], 100)
    pg = playground(data=(x, y), depth=2, width=16).run(100)
    assert pg.history["test_acc"].iloc[-1] > 0.9
    assert pg.code_line().startswith("actlab.playground(data=data")
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,label\n" + "\n".join(f"{a},{b},{c}" for (a, b), c in zip(x, y)))
    from_csv = Engine({"csv": str(path), "depth": 2, "width": 16}).run(100).history_frame()
    assert from_csv["test_acc"].iloc[-1] > 0.9
    with pytest.raises(ValueError, match="two features"):
        playground(data=(np.zeros((20, 3)), np.zeros(20)))


def test_gaussians_are_two_blobs_a_linear_net_separates():
    data = actlab.data.toy_2d("gaussians", 400, noise=0.0, seed=0)
    means = [data.x_train[data.y_train == k].mean(0) for k in (0, 1)]
    assert torch.allclose(means[0], torch.tensor([-0.5, -0.5]), atol=0.05)
    assert torch.allclose(means[1], torch.tensor([0.5, 0.5]), atol=0.05)
    engine = Engine({"dataset": "gaussians", "depth": 1, "width": 4, "activation": "relu"}).run(100)
    assert engine.history[-1]["test_acc"] > 0.98
    with pytest.raises(ValueError, match="noise"):
        actlab.data.toy_2d("gaussians", noise=3)


def test_default_init_scales_with_the_gain():
    torch.manual_seed(0)
    net = PlaygroundNet({**DEFAULTS, "depth": 2, "width": 512, "activation": "relu"})
    std = net.linears[1].weight.std().item()
    assert std == pytest.approx(math.sqrt(2) / math.sqrt(512), rel=0.05)


def test_bench_reports_ratios():
    assert playground.bench is bench  # actlab.playground.bench() works once actlab exports the function
    result = bench(seconds=0.2, rounds=1)
    assert {"ratio", "ratio_cpu", "frames_per_s", "live_steps_per_s", "bare_steps_per_s", "load"} <= set(result)
    assert result["live_steps_per_s"] > 0 and result["bare_steps_per_s"] > 0


def test_csv_typed_into_the_widget_replaces_the_toy_data(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("\n".join(f"{i % 7},{i % 5},{i % 2}" for i in range(40)))
    pg = Playground(depth=1, width=4)
    pg.w["csv"].value = str(path)
    assert pg.engine.dataset.source == "csv two.csv" and pg.w["dataset"].disabled
    assert "csv=" in pg.code.value
    pg.w["csv"].value = str(tmp_path / "missing.csv")
    assert "refused" in pg.status.value and pg.engine.config["csv"] == str(path)


def test_every_batch_is_full_so_batch_norm_never_sees_one_example():
    engine = Engine({"n": 101, "test_fraction": 0.1, "batch_norm": True, "batch_size": 45, "depth": 1, "width": 4})
    sizes = []
    original = engine.model.forward
    engine.model.forward = lambda x: (sizes.append(len(x)), original(x))[1]
    for _ in range(5):
        engine.step()
    assert sizes == [45] * 5  # 91 training points: 2 full batches per pass, the last 1 point dropped
    with pytest.raises(ValueError, match="batch_size"):
        check_config({"batch_norm": True, "batch_size": 1})


def test_colorful_dimension_of_a_run():
    pg = Playground(depth=3, width=8, activation=["sigmoid", "tanh", "relu"]).run(40)
    hists = pg.engine.histograms()
    assert sorted(hists) == [1, 2, 3] and hists[1][1].shape == (5, 41)  # records at steps 0, 10, 20, 30, 40
    assert [h[3] for h in hists.values()] == [(0.0, 1.0), (-1.0, 1.0), (0.0, 4.0)]  # each activation's range
    assert np.allclose(hists[2][1].sum(1), 1.0)
    fig = pg.plot_colorful_dimension()
    assert sum(ax.get_visible() for ax in fig.axes) == 3


def test_a_registered_custom_activation_with_a_parameter_trains():
    import torch as t

    actlab.custom_activation("pg_bent", lambda x, a=0.5: x + a * (t.sqrt(x * x + 1) - 1),
                             params=(actlab.Param("a", 0.5, 0.0, 1.0, 0.05),), replace=True)
    try:
        engine = Engine({"dataset": "xor", "depth": 2, "width": 16, "activation": ["pg_bent", "relu"],
                         "params": [{"a": 0.8}, {}]}).run(150, record_every=50)
        assert engine.model.acts[0].actlab_params == {"a": 0.8}
        assert engine.history[-1]["test_acc"] > engine.history[0]["test_acc"]
    finally:
        actlab.unregister("pg_bent")


def test_step_and_reset_buttons():
    pg = Playground(depth=2, width=8, seed=2)
    initial = [p.detach().clone() for p in pg.engine.model.parameters()]
    pg._on_step()
    assert pg.engine.step_count == 1 and pg.history["step"].tolist() == [0, 1]
    assert not all(torch.equal(a, b) for a, b in zip(initial, pg.engine.model.parameters()))
    pg.run(20)
    pg._on_reset()
    assert pg.engine.step_count == 0 and "reset" in pg.status.value
    assert all(torch.equal(a, b) for a, b in zip(initial, pg.engine.model.parameters()))


# ----------------------------------------------------------------------------- frame costs (issue 11, speed)


def test_layer_statistics_and_panel_every_other_frame():
    from actlab.playground import LAYER_EVERY

    pg = Playground(depth=3, width=8)
    records, layer_rows, panel = len(pg.engine.history), len(pg.engine.layer_records), pg.board.layers
    changed = []
    for _ in range(2 * LAYER_EVERY):
        pg._frame()
        changed.append(pg.board.layers != panel)
        panel = pg.board.layers
    assert len(pg.engine.history) == records + 2 * LAYER_EVERY  # the loss curve gets every frame
    assert len(pg.engine.layer_records) == layer_rows + 2 * 3  # 2 layer frames x 3 layers
    assert changed == [i % LAYER_EVERY == 0 for i in range(2 * LAYER_EVERY)]
    layer_steps = {r["step"] for r in pg.engine.layer_records}
    assert layer_steps <= {r["step"] for r in pg.engine.history}
    assert all(math.isfinite(r["update_ratio"]) for r in pg.engine.layer_records[-3:])  # measured on layer frames


class FakeClock:
    """A monotonic clock that moves only when the test moves it (Playground.clock): no verdict depends on load."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_training_budget_keeps_training_share_when_frames_are_slow():
    from actlab.playground import TRAIN_SHARE

    pg = Playground(depth=1, width=4, fps=10)
    pg.clock = FakeClock()

    def budget_after_frame(wall: float, cpu: float) -> float:
        """The budget computed right after a frame that was due now, with frames of this wall and CPU time."""
        pg.frame_times, pg.frame_cpu = [wall] * 10, [cpu] * 10
        pg._due = pg.clock.now
        return pg._training_budget()

    assert budget_after_frame(0.002, 0.002) == pytest.approx(0.1 - 0.002)  # cheap frames: the rate holds
    assert budget_after_frame(0.05, 0.002) == pytest.approx(0.1 - 0.05)  # waiting for a core: it holds
    budget = budget_after_frame(0.05, 0.05)
    assert budget == pytest.approx(0.05 * TRAIN_SHARE / (1 - TRAIN_SHARE))
    assert budget / (budget + 0.05) == pytest.approx(TRAIN_SHARE)  # costly frames: fewer frames, not less training


def test_frames_are_due_on_a_fixed_beat():
    """A period that ran late (loop overhead, a costlier frame) is taken from the next budget, so the rate holds."""
    from actlab.playground import TRAIN_SHARE

    pg = Playground(depth=1, width=4, fps=10)
    pg.clock = clock = FakeClock()
    pg.frame_times, pg.frame_cpu = [0.01] * 10, [0.001] * 10
    pg._due = clock.now + 0.03  # this frame was due 30 ms from now: the next is due 130 ms from now
    assert pg._training_budget() == pytest.approx(0.13 - 0.01)
    assert pg._due == pytest.approx(clock.now + 0.13)
    clock.now += 0.5  # far behind (after a pause): a frame now, then a fresh beat, no catching up
    assert pg._training_budget() == pytest.approx(0.001 * TRAIN_SHARE / (1 - TRAIN_SHARE))  # the CPU floor
    assert pg._due == clock.now


def test_loss_curve_follows_the_history_and_restarts_on_reset():
    """The static figure's loss curve (view.py, drawn when asked: plot(), the PNG for viewers without widgets)."""
    pg = Playground(depth=1, width=4).run(300, record_every=10)
    pg.view.loss_jpeg()
    steps = [r["step"] for r in pg.engine.history]
    assert list(pg.view.train_line.get_xdata()) == steps
    assert list(pg.view.test_line.get_ydata()) == [r["test_loss"] for r in pg.engine.history]
    assert pg.view.loss_ax.get_xlim()[1] == 512  # widened to the next power of two above step 300
    pg._on_reset()
    pg.view.loss_jpeg()
    assert list(pg.view.train_line.get_xdata()) == [0]


def test_measurement_passes_run_on_one_thread_and_restore_the_setting():
    from actlab.playground import one_thread

    before = torch.get_num_threads()
    seen = []
    engine = Engine({"depth": 1, "width": 4})
    engine.model.register_forward_hook(lambda *args: seen.append(torch.get_num_threads()))
    engine.record()
    engine.step()
    assert seen[:-1] and set(seen[:-1]) == {1}  # evaluation and statistics passes
    assert seen[-1] == before and torch.get_num_threads() == before  # the training step keeps the setting
    with pytest.raises(RuntimeError):
        with one_thread():
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_pinned_axis_labels_match_a_fresh_layout_after_the_axes_widen(monkeypatch):
    from actlab.playground.view import _Canvas

    view = Playground(depth=2, width=8).view
    view.loss_jpeg()  # drawn once: its labels are pinned where matplotlib put them
    view.loss_ax.set_xlim(0, 4096)
    view.loss.background = view.loss.base = None  # a full draw
    pinned = np.asarray(Image.open(BytesIO(view.loss.jpeg([]))), dtype=float)
    monkeypatch.setattr(_Canvas, "_freeze_labels", lambda self: None)
    fresh = Playground(depth=2, width=8).view  # never pinned: matplotlib places the labels at every draw
    fresh.loss_jpeg()
    fresh.loss_ax.set_xlim(0, 4096)
    fresh.loss.background = fresh.loss.base = None
    placed = np.asarray(Image.open(BytesIO(fresh.loss.jpeg([]))), dtype=float)
    assert view.loss.full_draws == 2 and fresh.loss.full_draws == 2
    assert np.abs(pinned - placed).max() < 40  # the same picture up to JPEG noise: no label moved


def test_a_wider_step_axis_redraws_only_that_axis_and_gives_the_same_picture():
    pg = Playground(depth=2, width=8)
    view = pg.view
    view.loss_jpeg()  # the static figure drawn once (the first draw draws everything)
    pg.run(300, record_every=10)  # the step axis widens 128 -> 512 in the run
    layered = np.asarray(Image.open(BytesIO(view.loss_jpeg())), dtype=float)
    assert view.loss.full_draws == 1 and view.loss.axis_draws >= 1  # the layered path drew the new limits
    view.loss.background = view.loss.base = None
    full = np.asarray(Image.open(BytesIO(view.loss.jpeg([view.train_line, view.test_line]))), dtype=float)
    assert view.loss.full_draws == 2
    assert np.abs(layered - full).max() < 40  # the same picture up to JPEG noise


def test_a_second_record_at_the_same_step_is_not_a_divergence():
    engine = Engine({"depth": 1, "width": 4}).run(5, record_every=5)
    row = engine.record()  # no step since the last record: no mini-batch loss
    assert math.isnan(row["batch_loss"]) and engine.status != "diverged"
    engine.step()
    assert math.isfinite(engine.record()["batch_loss"])


# ----------------------------------------------------------------------------- under real use (issue 20)


def _live_loops() -> list:
    """The playground live-loop tasks on the running event loop that have not finished."""
    return [t for t in asyncio.all_tasks() if not t.done() and t.get_coro().__qualname__ == "Playground._loop"]


async def _click_then_watch(pg, clicks, yield_between: bool) -> tuple[int, set]:
    """Press the buttons in order (yielding to the event loop between clicks or not), wait for two frames drawn
    after the last click, and return (live loops then, the tasks that trained during those frames)."""
    frames, trainers = asyncio.Queue(), set()
    draw, train = pg._frame, pg.engine.train_for
    pg._frame = lambda: (draw(), frames.put_nowait(1))[0]

    def train_for(seconds, *args, **kwargs):
        trainers.add(asyncio.current_task())
        return train(seconds, *args, **kwargs)

    pg.engine.train_for = train_for
    for name in clicks:
        getattr(pg, f"_on_{name}")()
        if yield_between:
            await asyncio.sleep(0)
    while not frames.empty():
        frames.get_nowait()
    trainers.clear()
    for _ in range(2):  # an event per frame: the verdict does not depend on how fast the machine is
        await asyncio.wait_for(frames.get(), timeout=120)
    return len(_live_loops()), set(trainers)


@pytest.mark.parametrize("yield_between", [False, True], ids=["same-tick", "one-yield-apart"])
@pytest.mark.parametrize("clicks", [("start", "pause", "start"), ("start", "reset", "start"),
                                    ("start", "start", "start"), ("start", "pause", "start", "reset", "start"),
                                    ("reset", "start")], ids="-".join)
def test_exactly_one_live_loop_whatever_the_clicks(clicks, yield_between):
    async def scenario():
        pg = Playground(depth=1, width=4, n=64, fps=60)
        live, trainers = await _click_then_watch(pg, clicks, yield_between)
        pg._on_pause()
        await asyncio.wait_for(asyncio.gather(*_live_loops(), return_exceptions=True), timeout=120)
        steps = pg.engine.step_count
        await asyncio.sleep(0)
        return live, len(trainers), len(_live_loops()), steps == pg.engine.step_count

    live, trainers, after_pause, stopped = asyncio.run(scenario())
    assert (live, trainers) == (1, 1), f"{live} live loops, {trainers} of them trained after {clicks}"
    assert after_pause == 0 and stopped


def test_engine_leaves_the_global_generator_as_it_was_and_follows_only_its_seed():
    config = {"activation": "rrelu", "depth": 2, "width": 4, "n": 64}  # RReLU draws its slopes in training
    runs = []
    for caller_seed in (1, 2):
        torch.manual_seed(caller_seed)
        before = torch.get_rng_state()
        engine = Engine(config).run(5, record_every=5)
        engine.update(seed=3)  # a rebuild
        engine.run(5, record_every=5)
        assert torch.equal(torch.get_rng_state(), before)
        runs.append(engine.history)
    assert runs[0] == runs[1]


def _write(path, text: str, bom: bool = False):
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize("bom", [False, True], ids=["plain", "utf8-bom"])
@pytest.mark.parametrize("header", ["", "x1,x2,label\n"], ids=["no-header", "header"])
def test_csv_keeps_every_data_row_with_or_without_a_bom_and_header(tmp_path, bom, header):
    from actlab.playground import read_csv

    rows = [(0.5, 1.5, 1), (2.0, -1.0, 0), (3.25, 4.0, 1)]
    path = _write(tmp_path / "p.csv", header + "\r\n".join(f"{a},{b},{c}" for a, b, c in rows) + "\r\n", bom)
    x, y = read_csv(path)
    assert x.tolist() == [[a, b] for a, b, _ in rows] and y.tolist() == [c for *_, c in rows]


@pytest.mark.parametrize("text, line, column", [
    ("1.0,,0\n2,3,1\n", 1, 2),  # a missing value in the first row is refused like any other
    ("1,2,0\n2,,1\n", 2, 2),
    ("x1,x2,label\n1,2,0\n2,3,oops\n", 3, 3),
    ("1,2,0\n\n2,nan,1\n", 3, 2),  # blank lines are skipped but counted
    ("1,2,0\n2,3\n", 2, 3),
])
def test_csv_names_the_line_and_column_of_a_bad_or_missing_value(tmp_path, text, line, column):
    from actlab.playground import read_csv

    path = _write(tmp_path / "bad.csv", text, bom=True)
    with pytest.raises(ValueError, match=f"line {line}, column {column}"):
        read_csv(path)




def test_the_widget_shows_the_line_of_a_bad_csv_value_and_keeps_the_run(tmp_path):
    path = _write(tmp_path / "gap.csv", "\n".join(f"{i % 7},{'' if i == 5 else i % 5},{i % 2}" for i in range(40)))
    pg = Playground(depth=1, width=4)
    pg.w["csv"].value = str(path)
    assert "refused" in pg.status.value and "line 6, column 2" in pg.status.value
    assert pg.engine.config["csv"] is None and pg.w["csv"].value == ""
def test_a_split_with_too_few_points_per_class_is_refused_naming_the_numbers():
    with pytest.raises(ValueError, match=r"test_fraction=0.9.*training.*class"):
        Engine({"n": 8, "test_fraction": 0.9})
    gen = np.random.default_rng(0)
    x, y = gen.normal(size=(40, 2)), np.array([0] * 38 + [1] * 2)
    with pytest.raises(ValueError, match=r"class 1: 2 points"):
        Engine({}, data=(x, y))  # 2 points of class 1 cannot give 2 to train and 1 to test, whatever the seed
    Engine({"n": 200, "test_fraction": 0.9, "dataset": "xor"})  # 20 training points, both classes: accepted


def test_the_widget_shows_why_a_split_is_refused_and_keeps_the_run():
    pg = Playground(depth=1, width=4, n=8, test_fraction=0.25, dataset="xor", seed=1)
    config, model = pg.config, pg.engine.model
    pg.w["test_fraction"].value = 0.9
    assert "refused" in pg.status.value and "test_fraction" in pg.status.value
    assert pg.config == config and pg.engine.model is model and pg.w["test_fraction"].value == 0.25


def test_standardisation_floor_follows_the_data_scale():
    eps = np.finfo(np.float32).eps  # each standardised value is rounded once to float32: std within eps of 1
    gen = np.random.default_rng(0)
    x = gen.normal(size=(200, 2)) * np.array([1e-9, 1.0]) + np.array([0.0, 5.0])
    y = (x[:, 0] > 0).astype(int)
    engine = Engine({}, data=(x, y))
    std = engine.x_train.double().std(0)
    assert torch.all((std - 1).abs() <= eps), std
    constant = np.column_stack([x[:, 1], np.full(200, 7.25)])
    engine = Engine({}, data=(constant, y))
    assert torch.isfinite(engine.x_train).all() and torch.isfinite(engine.x_test).all()
    assert engine.x_train[:, 1].eq(0).all() and engine.x_test[:, 1].eq(0).all()
    assert (engine.x_train[:, 0].double().std() - 1).abs() <= eps


@pytest.mark.parametrize("labels, found", [((1, 2), r"\[1, 2\]"), ((0, 2), r"\[0, 2\]")])
def test_labels_must_be_zero_to_k_minus_one(labels, found):
    x = np.random.default_rng(0).normal(size=(40, 2))
    y = np.resize(labels, 40)
    with pytest.raises(ValueError, match=rf"labels.*0\.\.K-1.*{found}"):
        playground(data=(x, y))


def test_the_widget_shows_why_csv_labels_are_refused(tmp_path):
    path = _write(tmp_path / "one_two.csv", "\n".join(f"{i % 7},{i % 5},{1 + i % 2}" for i in range(40)))
    pg = Playground(depth=1, width=4)
    pg.w["csv"].value = str(path)
    assert "refused" in pg.status.value and "0..K-1" in pg.status.value and "[1, 2]" in pg.status.value
    assert pg.engine.config["csv"] is None and pg.engine.classes == 2


def test_a_bad_share_cores_setting_is_shown_and_the_live_loop_trains_without_turns(monkeypatch):
    from actlab import cores

    monkeypatch.setenv("ACTLAB_SHARE_CORES", "sometimes")
    with pytest.raises(ValueError, match="ACTLAB_SHARE_CORES"):
        cores.CoreTurns()  # the headless API refuses the value, naming the variable
    entered, enter = [], cores.CoreTurns.__enter__

    def recording_enter(self):
        """Note whether this slice's turns are enabled, then enter as usual (the nesting depth stays balanced)."""
        entered.append(self.enabled)
        return enter(self)

    monkeypatch.setattr(cores.CoreTurns, "__enter__", recording_enter)

    async def scenario(pg):
        await _click_then_watch(pg, ("start",), False)  # two frames trained and drawn, however long that takes
        status = pg.status.value
        pg._on_pause()
        await asyncio.wait_for(asyncio.gather(*_live_loops(), return_exceptions=True), timeout=120)
        return status

    pg = Playground(depth=1, width=4, n=64, fps=60)
    status = asyncio.run(scenario(pg))
    assert "ACTLAB_SHARE_CORES" in status and "without taking turns" in status and "sometimes" in status
    assert pg.frames >= 2 and pg.engine.step_count > 0 and entered and not any(entered)
    assert "paused" in pg.status.value


@pytest.mark.parametrize("activation, params, bias, dead, near_dead", [
    ("relu", {}, -1.0, 1.0, 1.0),  # slope exactly 0 everywhere: dead, and so near-dead
    ("leaky_relu", {"alpha": 0.005}, -1.0, 0.0, 1.0),  # slope 0.005: below 1% of the peak 1, never 0
    ("leaky_relu", {"alpha": 0.01}, -1.0, 0.0, 0.0),  # Leaky ReLU's own floor is not near-dead (strict)
    ("sigmoid", {}, -5.0, 0.0, 0.0),  # sigmoid'(-5) = 0.0066: below 0.01, but 2.7% of sigmoid's peak 1/4
    ("sigmoid", {}, -7.0, 0.0, 1.0),  # sigmoid'(-7) = 0.00091: below 1% of 1/4
], ids=["relu", "leaky-0.005", "leaky-0.01", "sigmoid-at-5", "sigmoid-at-7"])
def test_dead_and_near_dead_units_are_the_vocabularys_and_both_are_shown(activation, params, bias, dead, near_dead):
    pg = Playground(depth=2, width=4, activation=activation, params=params)
    with torch.no_grad():  # every unit of layer 1 gets pre-activation `bias` on every probe point
        pg.engine.model.linears[0].weight.zero_()
        pg.engine.model.linears[0].bias.fill_(bias)
    pg.engine.record()
    pg.redraw()
    first, second = pg.engine.layer_records[-2:]
    assert (first["dead_fraction"], first["near_dead_fraction"]) == (dead, near_dead)
    spec = next(p for p in pg.board.meta["panels"] if p["name"] == "fractions")  # the live view (browser)
    keys = [s["key"] for s in spec["series"]]
    sent = pg.board.decoded()["panels"]["fractions"][1]
    assert sent[keys.index("dead_fraction")].tolist() == [first["dead_fraction"], second["dead_fraction"]]
    assert sent[keys.index("near_dead_fraction")].tolist() == [first["near_dead_fraction"],
                                                              second["near_dead_fraction"]]
    assert {"dead units", "near-dead units"} <= {s["label"] for s in spec["series"]}
    pg.view.layer_jpeg()  # the static figure
    lines = pg.view.panel("fractions").lines
    assert list(lines["dead_fraction"].get_ydata()) == [first["dead_fraction"], second["dead_fraction"]]
    assert list(lines["near_dead_fraction"].get_ydata()) == [first["near_dead_fraction"], second["near_dead_fraction"]]
    labels = [t.get_text() for t in lines["dead_fraction"].axes.get_legend().get_texts()]
    assert "dead units" in labels and "near-dead units" in labels


def test_a_panel_registered_in_panels_is_measured_recorded_and_drawn():
    """A new diagnostic is one object added to PANELS: the engine records what it measures, the live view and the
    static figure draw its axes with its line at those values."""
    def weight_means(engine):
        return [{"weight_mean": layer.weight.mean().item()} for layer in engine.model.linears]

    panel = Lines("weight_means", "mean weight", [("weight_mean", "mean weight", "k", "o-")], (-1, 1),
                  measure=weight_means)
    built_in = len(PANELS)
    PANELS.append(panel)  # registering: the one list the engine, the view and the static figure read
    try:
        pg = Playground(depth=3, width=8).run(10)
        want = [layer.weight.mean().item() for layer in pg.engine.model.linears]
        assert pg.layer_stats["weight_mean"].tail(3).tolist() == pytest.approx(want)
        layer_jpeg = pg.view.layer_jpeg()  # the static figure, drawn when asked
        drawn = pg.view.panel("weight_means")
        assert drawn.ax.get_title() == "mean weight" and drawn.ax in pg.view.layers.figure.axes
        assert list(drawn.lines["weight_mean"].get_ydata()) == pytest.approx(want)
        assert len(pg.view.layers.figure.axes) == built_in + 1
        assert Image.open(BytesIO(layer_jpeg)).width > 840  # one panel more than the four built in
        assert pg.board.meta["panels"][-1]["title"] == "mean weight"  # the live view draws it too
        assert pg.board.decoded()["panels"]["weight_means"][1][0].tolist() == pytest.approx(want)
        assert len(pg.plot().axes) == 3  # the static figure shows the layer image with it
    finally:
        PANELS.remove(panel)


@pytest.mark.parametrize("how", ["run", "train_for"])
def test_training_steps_run_on_one_thread_and_the_caller_s_count_comes_back(monkeypatch, how):
    """A small net on 2-D points gains nothing from a second thread, which only waits under load (notebook 00's
    headless playground run took minutes on a busy 2-core machine); one thread also fixes the rounding."""
    engine = Engine({"dataset": "xor", "depth": 2, "width": 8, "activation": "relu", "seed": 0})
    seen, step = [], engine.step
    monkeypatch.setattr(engine, "step", lambda *a, **k: (seen.append(torch.get_num_threads()), step(*a, **k)))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        engine.run(5) if how == "run" else engine.train_for(0.05, share_cores=False)
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_benchmark_refuses_no_rounds_or_no_time_by_name():
    with pytest.raises(ValueError, match=r"rounds must be an integer in \[1, inf\)"):
        bench(rounds=0)
    with pytest.raises(ValueError, match="seconds must be"):
        bench(seconds=0)
