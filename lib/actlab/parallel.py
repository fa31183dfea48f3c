"""Run independent training runs one after another or on any concurrent.futures.Executor, results in order."""
from __future__ import annotations

from concurrent.futures import Executor
from typing import Callable, Iterable


def map_runs(run: Callable, items: Iterable, executor: Executor | None = None) -> list:
    """[run(item) for item in items], sequentially when executor is None, else each item submitted to executor.

    run and items must be picklable for a process pool or a Dask client (a module-level function, plain data).
    Each run must seed itself from its item, never from the process, so any executor gives the same results.
    """
    items = list(items)
    if executor is None:
        return [run(item) for item in items]
    if not isinstance(executor, Executor) and not hasattr(executor, "submit"):
        raise TypeError(f"executor must be a concurrent.futures.Executor (or offer submit()), got {executor!r}")
    futures = [executor.submit(run, item) for item in items]
    return [f.result() for f in futures]
