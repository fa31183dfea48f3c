"""The playground's board (the live view drawn in the browser): what the kernel sends decodes to the engine's values,
in the sizes board.py states, and the loss history goes over incrementally (the browser's replay gives the whole)."""
import math

import numpy as np
import pytest
import torch

from actlab.playground import GRID, PANELS, Playground
from actlab.playground.board import LOSS_COLUMNS, Board, boundary_bytes
from actlab.stats import HIST_BINS


def replay(chunks: list[tuple[int, bytes]]) -> np.ndarray:
    """The history the browser holds after these (loss_at, loss) messages, as playground.js applies them."""
    rows = np.empty((0, len(LOSS_COLUMNS)), dtype="<f4")
    for at, data in chunks:
        assert at <= len(rows), "a gap: the browser would ask for the whole history"
        rows = np.concatenate([rows[:at], np.frombuffer(data, "<f4").reshape(-1, len(LOSS_COLUMNS))])
    return rows


def history_array(history: list[dict]) -> np.ndarray:
    return np.array([[r[k] for k in LOSS_COLUMNS] for r in history], dtype=np.float64)


def test_the_boundary_grid_is_the_engines_colours_in_4800_bytes_top_row_first():
    pg = Playground(dataset="moons", depth=2, width=8).run(30)
    sent = pg.board.decoded()["grid"]
    assert len(pg.board.grid) == GRID * GRID * 3 == 4800
    engine_rgb = pg.engine.boundary()  # (GRID, GRID, 3), row 0 at the lowest y
    assert np.abs(sent[::-1] / 255 - engine_rgb).max() <= 0.5 / 255 + 1e-9  # uint8 rounding, nothing else
    assert not np.array_equal(sent, sent[::-1])  # the check above can see a missing flip


def test_boundary_bytes_refuses_another_shape_naming_it():
    with pytest.raises(ValueError, match="rgb must have shape"):
        boundary_bytes(np.zeros((GRID, GRID)))


def test_the_points_are_the_engines_training_and_test_points_sent_once_per_data_set():
    pg = Playground(dataset="xor", n=200, depth=2, width=8)
    e = pg.engine
    points = pg.board.decoded()["points"]
    n_train, n_test = len(e.x_train), len(e.x_test)
    assert len(pg.board.points) == 16 * (n_train + n_test)
    assert np.array_equal(points[:n_train, :2], e.x_train.numpy().astype("<f4"))
    assert np.array_equal(points[n_train:, :2], e.x_test.numpy().astype("<f4"))
    assert points[:, 2].tolist() == e.y_train.tolist() + e.y_test.tolist()
    assert points[:, 3].tolist() == [0] * n_train + [1] * n_test
    messages = []
    pg.board.observe(lambda change: messages.append(change["name"]), names=["points", "meta"])
    for _ in range(3):
        pg._frame()
    assert messages == []  # frames send no points and no layout
    pg._on_setting("noise", 0.3)  # new data: the points and the layout go again
    assert "points" in messages and "meta" in messages
    assert np.array_equal(pg.board.decoded()["points"][:len(pg.engine.x_train), :2],
                          pg.engine.x_train.numpy().astype("<f4"))


def test_each_frame_sends_only_the_new_history_rows_and_the_replay_is_the_history():
    pg = Playground(depth=2, width=8)
    chunks = [(pg.board.loss_at, pg.board.loss)]
    for _ in range(6):
        pg._frame()
        chunks.append((pg.board.loss_at, pg.board.loss))
        assert len(pg.board.loss) == 4 * len(LOSS_COLUMNS)  # one new row, 20 bytes: not the history
    pg.run(40, record_every=10)  # a headless run adds 4 rows at once
    chunks.append((pg.board.loss_at, pg.board.loss))
    assert len(pg.board.loss) == 4 * 20
    history = history_array(pg.engine.history)
    assert np.array_equal(replay(chunks), history.astype("<f4"))
    pg._on_reset()  # a new run starts the history again: loss_at 0
    assert pg.board.loss_at == 0
    chunks.append((pg.board.loss_at, pg.board.loss))
    assert np.array_equal(replay(chunks), history_array(pg.engine.history).astype("<f4"))
    assert len(replay(chunks)) == 1


def test_a_view_opened_later_gets_the_whole_history_on_request():
    pg = Playground(depth=2, width=8).run(50, record_every=10)
    pg._frame()
    replies = []
    pg.board.send = lambda content, buffers=None: replies.append((content, buffers))
    pg.board._on_message(pg.board, {"type": "history"}, [])
    (content, buffers), = replies
    rows = np.frombuffer(buffers[0], "<f4").reshape(-1, len(LOSS_COLUMNS))
    assert content == {"type": "history", "rows": len(pg.engine.history)}
    assert np.array_equal(rows, history_array(pg.engine.history).astype("<f4"))
    pg.board._on_message(pg.board, {"type": "other"}, [])
    assert len(replies) == 1  # only the history request is answered


def test_the_panels_sent_are_the_engines_statistics():
    pg = Playground(depth=3, width=8, activation=["relu", "tanh", "sigmoid"]).run(20, record_every=10)
    e, rows = pg.engine, pg.engine.records()
    panels = pg.board.decoded()["panels"]
    assert [s["name"] for s in pg.board.meta["panels"]] == [p.name for p in PANELS]
    ylim, (centres, heights) = panels["histograms"]
    assert centres.shape == heights.shape == (3, HIST_BINS)
    assert np.allclose(heights ** 2, e.hists[-1], rtol=1e-5, atol=1e-7)  # sqrt scale of the recorded shares
    for layer, r in enumerate(rows):
        low, high = r["range"]
        assert low < centres[layer].min() and centres[layer].max() < high
        assert np.allclose(np.diff(centres[layer]), (high - low) / HIST_BINS, rtol=1e-4)
    assert ylim[0] == 0 and ylim[1] >= heights.max()
    _, fractions = panels["fractions"]
    keys = [s["key"] for s in next(p for p in pg.board.meta["panels"] if p["name"] == "fractions")["series"]]
    for k, key in enumerate(keys):
        assert fractions[k].tolist() == pytest.approx([r[key] for r in rows], rel=1e-6)
    (low, _), grads = panels["gradients"]
    want = [max(math.log10(r["grad_norm"]), low) for r in rows]
    assert grads[0].tolist() == pytest.approx(want, rel=1e-5)
    sizes = [2 + math.prod(s["shape"]) for s in pg.board.meta["panels"]]
    assert len(pg.board.layers) == 4 * sum(sizes) == 4 * (2 + 2 * 3 * HIST_BINS + 2 + 3 * 3 + 2 + 3 + 2 + 3)


def test_layer_values_are_sent_only_with_a_new_layer_record():
    pg = Playground(depth=2, width=8)
    sent = []
    pg.board.observe(lambda change: sent.append(change["name"]), names=["layers", "grid", "frame"])
    for _ in range(4):
        pg._frame()
    assert sent.count("frame") == 4 and sent.count("grid") == 4
    assert sent.count("layers") == 2  # LAYER_EVERY = 2: every other frame


def test_a_frame_sends_a_few_kilobytes():
    pg = Playground(depth=4, width=16)
    pg._frame()
    sizes = pg.board.frame_bytes()
    assert sizes["grid"] == 4800 and sizes["loss"] == 20
    assert sizes["layers"] == 4 * (2 + 2 * 4 * HIST_BINS + 2 + 3 * 4 + 2 + 4 + 2 + 4)  # 1,424 bytes


def test_the_board_is_one_widget_in_the_playground_with_the_front_end_and_palette():
    pg = Playground(depth=2, width=8)
    assert isinstance(pg.board, Board) and pg.board in pg.children
    assert not any(type(w).__name__ == "Image" for w in pg.children)
    assert "export default" in Board._esm and "uPlot" in Board._esm and ".actlab-board" in Board._css
    meta = pg.board.meta
    from actlab.style import BLUE, NORMAL, VERMILLION, dpi

    assert meta["loss_colours"]["train_loss"] == BLUE and meta["loss_colours"]["test_loss"] == VERMILLION
    assert meta["style"]["font_px"] == round(NORMAL["font"] * dpi() / 72)
    assert meta["sizes"]["boundary"] <= 300 and meta["sizes"]["loss"][1] <= 300


def test_the_static_png_still_comes_for_viewers_without_widgets():
    pg = Playground(depth=2, width=8).run(20)
    data, _ = pg._repr_mimebundle_()
    assert "image/png" in data and "application/vnd.jupyter.widget-view+json" in data


def test_the_static_view_is_laid_out_at_its_next_draw_and_shows_the_new_run():
    pg = Playground(depth=2, width=8)
    pg._on_setting("depth", 3)  # a rebuild: the board gets the new layout now, the Matplotlib view when it draws
    assert pg.view.stale and pg.board.meta["depth"] == 3
    pg.plot()
    assert not pg.view.stale
    assert len(pg.view.panel("fractions").lines["dead_fraction"].get_xdata()) == 3


def test_the_readout_is_sent_at_most_every_readout_period_while_training_and_at_once_otherwise():
    from actlab.playground.widget import READOUT_PERIOD

    pg = Playground(depth=2, width=8)
    now = [pg.clock() + 1000.0]  # a fake clock, ahead of the real one the first readout was sent at
    pg.clock = lambda: now[0]
    texts = []
    pg.readout.observe(lambda change: texts.append(change["new"]), names="value")
    pg._running = True  # as in the live loop (frames driven by hand)
    for _ in range(5):
        pg._frame()
        now[0] += 0.6 * READOUT_PERIOD
    assert len(texts) == 3 and pg.board.frame >= 6  # at 0, 1.2 and 2.4 periods; the board got every frame
    now[0] += 0.1 * READOUT_PERIOD
    pg._frame()  # a frame whose readout is held back ...
    assert f"step {pg.engine.step_count}<" not in texts[-1]
    pg._on_pause()  # ... is sent by the pause, which leaves no step unrecorded
    assert f"step {pg.engine.step_count}<" in texts[-1] and pg.engine.history[-1]["step"] == pg.engine.step_count
    pg._on_step()  # not training: the readout follows at once
    assert f"step {pg.engine.step_count}<" in texts[-1]


def test_a_panel_with_only_build_and_update_shows_in_the_static_figure_and_the_board_skips_it():
    from actlab.playground import Panel

    class Drawn(Panel):
        name, title = "drawn_only", "drawn in Matplotlib only"

        def build(self, ax, engine):
            ax.set_title(self.title)
            self.ax = ax
            return []

        def update(self, engine, rows):
            return False

    PANELS.append(Drawn())
    try:
        pg = Playground(depth=2, width=8).run(10)
        assert "drawn_only" not in [s["name"] for s in pg.board.meta["panels"]]
        assert set(pg.board.decoded()["panels"]) == {p.name for p in PANELS[:-1]}
        pg.view.layer_jpeg()
        assert pg.view.panel("drawn_only").ax.get_title() == "drawn in Matplotlib only"
        assert "refused" not in pg.status.value
    finally:
        PANELS.pop()


def test_a_diverged_net_is_sent_as_a_white_boundary_and_its_loss_row_as_nan(recwarn):
    pg = Playground(depth=2, width=8)
    with torch.no_grad():
        pg.engine.model.out.weight.fill_(float("nan"))
    pg.engine.record()
    pg.redraw()
    sent = pg.board.decoded()
    assert pg.engine.status == "diverged"
    assert (sent["grid"] == 255).all() and np.isnan(sent["loss"][-1, 1])
    # the static picture (viewers without widgets) draws the same white boundary: its centre, away from the points
    from io import BytesIO

    from PIL import Image

    picture = np.asarray(Image.open(BytesIO(pg.view.boundary_jpeg())).convert("RGB"))
    clear = picture[picture.shape[0] // 2 - 4:picture.shape[0] // 2 + 4, 2:10]  # a strip at the left edge, mid-height
    assert clear.min() >= 235, f"the static boundary of a diverged net is not white: {clear.min()}"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
