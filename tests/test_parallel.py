"""Sweeps on an executor: compare and map_runs give the same numbers sequentially, on a process pool and on Dask."""
import multiprocessing
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
import torch

import actlab
from actlab.compare import compare, default_model
from actlab.cache import load_arrays, save_arrays
from actlab.parallel import RunsInterrupted, map_runs, threads_per_run, usable_cores
from actlab.training import train

SEEDS = (0, 1)
ACTIVATIONS = ["relu", "tanh"]


# Runs sent to worker processes must be importable there: module-level functions of this file.
def slow_square(item: tuple[int, float]) -> int:
    """item = (value, seconds to wait): value squared, after the wait."""
    value, seconds = item
    time.sleep(seconds)
    return value * value


def torch_thread_count(_item) -> int:
    """The number of torch threads the run was given."""
    return torch.get_num_threads()


def fail_on_three(item: int) -> int:
    """item, except for 3, which raises ValueError."""
    if item == 3:
        raise ValueError("run 3 failed")
    return item


def write_and_read(item: tuple[str, int]) -> int:
    """Write arrays to one shared path 30 times, reading it back after each write; the number of reads that worked."""
    path, value = item
    reads = 0
    for _ in range(30):
        save_arrays(path, {"w": np.full(20000, value, dtype=np.float32)}, {"writer": value})
        arrays, meta = load_arrays(path)
        reads += int(arrays["w"][0] == meta["writer"])
    return reads


@pytest.fixture(scope="module")
def pool():
    """Two worker processes started fresh (forkserver, which imports actlab once for both), not forks of this one."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["actlab.compare"])
    with ProcessPoolExecutor(2, mp_context=context) as executor:
        yield executor


@pytest.fixture(scope="module")
def dask_executor():
    """A local Dask cluster of two single-threaded worker processes, used through Client.get_executor()."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            yield client.get_executor()


@pytest.fixture(scope="module")
def data():
    """Small sets of both kinds: spirals for the MLP and CIFAR-style images for LeNet (where thread counts matter)."""
    return {"mlp": actlab.toy_2d("spirals", n=400, seed=0),
            "lenet": actlab.cifar_like(256, 64, seed=0, cache=False)}


def _numbers(result) -> tuple:
    """Everything a comparison measured except wall-clock seconds: its table and every trained weight."""
    table = result.table.drop(columns="seconds")
    weights = {key: {k: v.cpu() for k, v in model.state_dict().items()} for key, model in result.models.items()}
    return table, weights


def _assert_identical(a: tuple, b: tuple) -> None:
    """Tables equal value for value (NaN where NaN), and the same weights bit for bit."""
    assert a[0].equals(b[0])
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        assert all(torch.equal(a[1][key][name], b[1][key][name]) for name in a[1][key]), key


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mlp", "lenet"])
def test_compare_is_identical_sequentially_on_a_process_pool_and_on_dask(kind, data, pool, dask_executor):
    settings = dict(seeds=SEEDS, epochs=2, lr=0.05, progress=False, threads=1)
    rng = torch.get_rng_state()
    sequential = compare(ACTIVATIONS, data[kind], **settings)
    assert torch.equal(torch.get_rng_state(), rng)  # runs seed themselves; the caller's generator is untouched
    processes = compare(ACTIVATIONS, data[kind], executor=pool, **settings)
    dask = compare(ACTIVATIONS, data[kind], executor=dask_executor, **settings)
    reference = _numbers(sequential)
    assert len(reference[0]) == len(ACTIVATIONS) * len(SEEDS) * 3  # epochs 0, 1 and 2 of every run
    assert sequential.histories[("relu", 0)].steps != sequential.histories[("relu", 1)].steps  # seeds matter
    _assert_identical(reference, _numbers(processes))
    _assert_identical(reference, _numbers(dask))
    assert dask.dead_fractions(data[kind]).equals(sequential.dead_fractions(data[kind]))


def test_sequential_compare_gives_the_numbers_of_a_run_seeded_as_the_notebooks_did(data):
    result = compare(["tanh"], data["mlp"], seeds=(3,), epochs=2, lr=0.05, progress=False)
    torch.manual_seed(3)  # what compare did before it had executors: seed the global generator, build, train
    net = default_model(data["mlp"])("tanh")
    history = train(net, data["mlp"], epochs=2, lr=0.05, seed=3, progress=False)
    assert [r["test_loss"] for r in result.histories[("tanh", 3)].epochs] == [r["test_loss"] for r in history.epochs]
    assert all(torch.equal(a, b) for a, b in zip(result.models[("tanh", 3)].state_dict().values(),
                                                 net.state_dict().values()))


@pytest.mark.slow
def test_map_runs_returns_results_in_item_order_whatever_finishes_first(pool, dask_executor):
    items = [(value, 0.1 * (4 - value)) for value in range(4)]  # the first item finishes last
    expected = [0, 1, 4, 9]
    assert map_runs(slow_square, items, progress=False) == expected
    assert map_runs(slow_square, items, pool, progress=False) == expected
    assert map_runs(slow_square, items, dask_executor, progress=False) == expected
    with ThreadPoolExecutor(2) as threads:
        assert map_runs(slow_square, items, threads, progress=False) == expected


@pytest.mark.slow
def test_each_worker_gets_its_share_of_the_cores(pool, dask_executor):
    share = max(1, usable_cores() // 2)
    assert threads_per_run(pool) == share and threads_per_run(dask_executor) == share
    assert map_runs(torch_thread_count, range(4), pool, progress=False) == [share] * 4
    assert map_runs(torch_thread_count, range(4), dask_executor, progress=False) == [share] * 4
    assert map_runs(torch_thread_count, range(2), pool, threads=3, progress=False) == [3, 3]


def test_sequential_runs_keep_the_callers_thread_count_unless_told():
    before = torch.get_num_threads()
    assert threads_per_run(None) is None
    assert map_runs(torch_thread_count, range(2), progress=False) == [before, before]
    assert map_runs(torch_thread_count, range(2), threads=1, progress=False) == [1, 1]
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_concurrent_cache_writers_never_leave_a_file_half_written(tmp_path, pool):
    path = str(tmp_path / "train-shared.npz")
    assert map_runs(write_and_read, [(path, 1), (path, 2)], pool, progress=False) == [30, 30]
    arrays, meta = load_arrays(path)
    assert arrays["w"][0] == meta["writer"] in (1, 2)
    assert [p.name for p in tmp_path.iterdir()] == ["train-shared.npz"]  # no temporary file left behind


def test_an_interrupt_keeps_the_finished_runs():
    def run(item):
        if item == 2:
            raise KeyboardInterrupt
        return item * 10

    with pytest.raises(RunsInterrupted) as caught:
        map_runs(run, range(5), progress=False)
    assert caught.value.done == {0: 0, 1: 10} and caught.value.total == 5
    assert isinstance(caught.value, KeyboardInterrupt)


class _InterruptSecondRun(actlab.Callback):
    """Stands in for Ctrl-C: raises KeyboardInterrupt at the first step of the second run it sees."""

    def __init__(self):
        self.runs = 0

    def on_train_begin(self, model, optimizer):
        self.runs += 1

    def on_after_backward(self, model, step):
        if self.runs == 2:
            raise KeyboardInterrupt


@pytest.mark.filterwarnings("ignore:interrupted at step")  # train's own warning about the run cut short
def test_an_interrupted_compare_returns_the_runs_that_finished(data):
    with pytest.warns(UserWarning, match="1 finished runs of 4 are kept"):
        result = compare(ACTIVATIONS, data["mlp"], seeds=SEEDS, epochs=1, progress=False,
                         callbacks=[_InterruptSecondRun()])
    assert list(result.histories) == [("relu", 0)] and list(result.models) == [("relu", 0)]
    assert result.histories[("relu", 0)].status == "completed"


def test_a_failing_run_raises_its_own_error():
    with pytest.raises(ValueError, match="run 3 failed"):
        map_runs(fail_on_three, range(5), progress=False)


@pytest.mark.slow
def test_a_failing_run_on_a_pool_raises_its_error_and_cancels_the_rest(pool):
    with warnings.catch_warnings(record=True), pytest.raises(ValueError, match="run 3 failed"):
        map_runs(fail_on_three, range(5), pool, progress=False)


def test_a_pool_that_forks_its_workers_is_refused_before_it_can_hang():
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as executor:
        with pytest.raises(ValueError, match="forks its workers.*forkserver"):
            map_runs(slow_square, [(1, 0)], executor)


def test_what_cannot_reach_a_worker_process_is_named(data):
    spawned = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawned) as executor:  # nothing is submitted: the checks run first
        with pytest.raises(TypeError, match=r"^run cannot be sent .*module-level function"):
            map_runs(lambda x: x, [1], executor)
        with pytest.raises(TypeError, match=r"^items\[1\] cannot be sent"):
            map_runs(slow_square, [(1, 0), (lambda: 0, 0)], executor)
        with pytest.raises(TypeError, match="run cannot be sent"):
            compare(["relu"], data["mlp"], model=lambda name: actlab.MLP(2, 8, name), executor=executor)
        with pytest.raises(TypeError, match="defined in __main__"):
            slow_square.__module__, saved = "__main__", slow_square.__module__
            try:
                map_runs(slow_square, [(1, 0)], executor)
            finally:
                slow_square.__module__ = saved


def test_bad_arguments_raise_clear_errors(data):
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        map_runs(abs, [1], threads=0)
    with pytest.raises(TypeError, match="executor must be a concurrent.futures.Executor"):
        map_runs(abs, [1], executor="processes")
    with pytest.raises(TypeError, match="run must be callable"):
        map_runs(None, [1])
    with ThreadPoolExecutor(2) as threads, pytest.raises(ValueError, match="up to 2 trainings in one process"):
        compare(["relu"], data["mlp"], executor=threads)


@pytest.mark.slow
def test_dask_workers_running_two_trainings_at_once_are_refused(data):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client, pytest.raises(ValueError, match="threads_per_worker=1"):
            compare(["relu"], data["mlp"], executor=client.get_executor())


def test_default_model_is_picklable_and_builds_both_kinds(data):
    import pickle

    for kind, cls in (("mlp", actlab.MLP), ("lenet", actlab.LeNet)):
        factory = pickle.loads(pickle.dumps(default_model(data[kind])))
        net = factory("leaky_relu", alpha=0.2)
        assert isinstance(net, cls) and net.activation_name == actlab.lookup("leaky_relu").label(alpha=0.2)
