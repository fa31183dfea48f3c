"""Run independent training runs one after another or on any concurrent.futures.Executor, results in order.

Sequential by default; a local process pool (concurrent.futures.ProcessPoolExecutor); a Dask cluster
(distributed.Client(...).get_executor()); or any engine whose executor offers submit() and returns
concurrent.futures-style futures. Each run gets cores // workers torch threads so that workers do not fight
for cores. Results are identical, number for number, across executors when every run seeds itself from its
item and runs with the same number of threads (PyTorch's CPU convolutions round differently with other thread
counts): pass threads= to fix it, e.g. threads=1 everywhere.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Callable, Iterable

import torch
from tqdm.auto import tqdm


class RunsInterrupted(KeyboardInterrupt):
    """Ctrl-C or a kernel interrupt during map_runs; .done maps item index to the result of each finished run."""

    def __init__(self, done: dict[int, object], total: int):
        super().__init__(f"interrupted after {len(done)} of {total} runs; the finished runs' results are kept in .done")
        self.done = done
        self.total = total


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else os.cpu_count())."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _dask_client(executor):
    """The distributed.Client behind a Dask ClientExecutor (Client.get_executor()), else None."""
    client = getattr(executor, "_client", None)
    return client if type(executor).__module__.startswith("distributed") and client is not None else None


def _dask_threads(client) -> int:
    """Threads per task on a Dask cluster: per host, its cores // the task slots of its workers; the least over hosts.

    One value for every task, so a run's result does not depend on which worker it lands on.
    """
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not workers:
        raise ValueError("the Dask client has no workers: start the cluster's workers before submitting runs")
    cores = client.run(usable_cores)  # address -> cores of that worker's machine (as the worker sees them)
    slots: dict[str, int] = {}
    host_cores: dict[str, int] = {}
    for address, info in workers.items():
        host = info.get("host", address)
        slots[host] = slots.get(host, 0) + int(info.get("nthreads", 1))
        host_cores[host] = cores.get(address, 1)
    return max(1, min(host_cores[h] // slots[h] for h in slots))


def threads_per_run(executor: Executor | None) -> int | None:
    """torch threads each run should use: cores // concurrent runs, at least 1; None when the executor is unknown.

    Sequential (None): None, the caller's setting is kept (the training cache's key records it).
    ProcessPoolExecutor or ThreadPoolExecutor: cores // max_workers.
    Dask (Client.get_executor()): per host, its cores // the threads of its workers, the least over hosts.
    """
    if executor is None:
        return None
    client = _dask_client(executor)
    if client is not None:
        return _dask_threads(client)
    workers = getattr(executor, "_max_workers", None)  # ProcessPoolExecutor and ThreadPoolExecutor keep it here
    return max(1, usable_cores() // workers) if isinstance(workers, int) and workers > 0 else None


def _call(function: Callable, item):
    """function(item); on Dask, function is submitted as a scattered future, which Dask resolves before the call."""
    return function(item)


def runs_per_process(executor: Executor | None) -> int | None:
    """How many runs may share one process at once (and so torch's global random generator); None if unknown.

    Sequential or a ProcessPoolExecutor: 1. ThreadPoolExecutor: its max_workers. Dask: the most threads of a worker.
    """
    if executor is None or isinstance(executor, ProcessPoolExecutor):
        return 1
    if isinstance(executor, ThreadPoolExecutor):
        return executor._max_workers
    client = _dask_client(executor)
    if client is not None:
        return max((int(n) for n in client.nthreads().values()), default=1)
    return None


class _WithThreads:
    """A picklable wrapper: run(item) with torch set to a given number of threads (restored afterwards)."""

    def __init__(self, run: Callable, threads: int | None):
        self.run, self.threads = run, threads

    def __call__(self, item):
        with torch_threads(self.threads):
            return self.run(item)


@contextmanager
def torch_threads(threads: int | None):
    """Within the block torch uses threads intra-op threads (None: unchanged); the previous count is restored."""
    previous = torch.get_num_threads()
    if threads is not None and threads != previous:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def _start_method(executor) -> str | None:
    """How a ProcessPoolExecutor starts its workers ('fork', 'spawn', 'forkserver'); None for other executors."""
    if not isinstance(executor, ProcessPoolExecutor):
        return None
    context = getattr(executor, "_mp_context", None)
    return context.get_start_method() if context is not None else multiprocessing.get_start_method()


def _check_picklable(run: Callable, items: list, executor) -> None:
    """Raise TypeError naming run or the first item that cannot be sent to another process; ValueError for a pool
    that forks its workers."""
    if _start_method(executor) == "fork":
        raise ValueError("executor forks its workers from this process (ProcessPoolExecutor's default on Linux): "
                         "torch's OpenMP threads do not survive a fork, and training in such a worker can hang; "
                         "use ProcessPoolExecutor(n, mp_context=multiprocessing.get_context('forkserver')) or "
                         "'spawn'")
    target = getattr(run, "func", run)  # a functools.partial names its function here
    if _start_method(executor) in ("spawn", "forkserver") and getattr(target, "__module__", None) == "__main__":
        raise TypeError(f"run ({getattr(target, '__qualname__', target)!r}) is defined in __main__ (a notebook or "
                        "script), which spawned or forkserver workers cannot import; move it into a module")
    for what, value in [("run", run), *((f"items[{i}]", item) for i, item in enumerate(items))]:
        try:
            pickle.dumps(value)
        except Exception as exc:  # pickle raises PicklingError, TypeError or AttributeError depending on the object
            raise TypeError(f"{what} cannot be sent to the workers of {type(executor).__name__} ({type(exc).__name__}: "
                            f"{exc}); use a module-level function and plain data (no lambdas, no functions defined "
                            "in a notebook or inside another function), or executor=None") from None


def map_runs(run: Callable, items: Iterable, executor: Executor | None = None, threads: int | None = None,
             progress: bool = True, describe: Callable | None = None, bar=None) -> list:
    """[run(item) for item in items], sequentially when executor is None, else each item submitted to executor.

    Results come back in item order. Each run uses threads torch threads (default: threads_per_run(executor),
    i.e. cores // concurrent runs on a pool or cluster, the caller's own setting when sequential, the workers' own
    with an unknown executor; an int >= 1 overrides it). A process executor (anything but a ThreadPoolExecutor)
    needs run and items picklable: a module-level function and plain data; otherwise TypeError says which one is
    not. On Dask, run is scattered to the workers once (with the data it holds), not sent with every item.
    A ProcessPoolExecutor that forks its workers (Linux's default before Python 3.14) is refused (ValueError):
    training hangs in a worker forked after torch's OpenMP threads started; give it
    mp_context=multiprocessing.get_context("forkserver") or "spawn". Each run must seed itself from its item,
    never from the process, so any executor gives the same results.
    A tqdm bar (progress=True; or bar, one the caller made and closes) counts runs as they complete, described by
    describe(item) -> str when given ("run 2 of 4: relu, seed 1"). On Ctrl-C or a kernel interrupt the runs not yet
    started are cancelled (runs already on workers finish there) and RunsInterrupted (a KeyboardInterrupt) is
    raised with the finished runs' results in .done. A run that raises stops the map and its error propagates.
    """
    _check_arguments(run, executor, threads)
    items = list(items)
    threads = threads_per_run(executor) if threads is None else threads
    if executor is not None and not isinstance(executor, ThreadPoolExecutor):
        _check_picklable(run, items, executor)
    done: dict[int, object] = {}
    own_bar = bar is None
    bar = tqdm(total=len(items), desc="runs", disable=not progress, leave=False) if own_bar else bar
    try:
        if executor is None:
            _map_here(run, items, done, bar, describe, threads)
        else:
            _map_executor(run, executor, items, done, bar, describe, threads)
    except KeyboardInterrupt:
        raise RunsInterrupted(done, len(items)) from None
    finally:
        if own_bar:
            bar.close()
    return [done[i] for i in range(len(items))]


def _check_arguments(run: Callable, executor, threads) -> None:
    """ValueError or TypeError naming a bad threads, executor or run."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be an integer >= 1 (or None: cores // workers), got {threads!r}")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor (or offer submit()), got {executor!r}")
    if not callable(run):
        raise TypeError(f"run must be callable, got {run!r}")


def _map_here(run: Callable, items: list, done: dict, bar, describe, threads: int | None) -> None:
    """Run the items one after another in this process, with threads torch threads."""
    with torch_threads(threads):
        for index, item in enumerate(items):
            if describe is not None:
                bar.set_description(f"run {index + 1} of {len(items)}: {describe(item)}")
            done[index] = run(item)
            bar.update()


def _map_executor(run: Callable, executor, items: list, done: dict, bar, describe, threads: int | None) -> None:
    """Run the items on executor: in its worker processes with threads torch threads each, or on a thread pool."""
    in_process = isinstance(executor, ThreadPoolExecutor)
    task, lead = (run, ()) if in_process else (_WithThreads(run, threads), ())
    client = _dask_client(executor)
    if client is not None:  # ship run (and the data it holds) to each worker once, not with every item
        task, lead = _call, (client.scatter(task, broadcast=True, hash=False),)
    _map_on(executor, task, lead, items, done, bar, describe, threads if in_process else None)


def _map_on(executor, task: Callable, lead: tuple, items: list, done: dict, bar, describe,
            local_threads: int | None) -> None:
    """Submit task(*lead, item) for every item, filling done[index] as runs complete; cancel the rest on any error."""
    futures = {}
    try:
        with torch_threads(local_threads):  # a thread pool's runs share this process's torch threads
            futures = {executor.submit(task, *lead, item): index for index, item in enumerate(items)}
            for future in as_completed(futures):
                index = futures[future]
                done[index] = future.result()
                if describe is not None:
                    bar.set_description(f"{len(done)} of {len(items)} runs finished, last {describe(items[index])}")
                bar.update()
    except BaseException:
        pending = [f for f in futures if not f.done()]
        for future in pending:
            future.cancel()
        if pending:
            warnings.warn(f"{len(done)} of {len(items)} runs finished; {len(pending)} were cancelled (runs already "
                          "started on workers finish there: shut the executor down to stop them)", stacklevel=3)
        raise
