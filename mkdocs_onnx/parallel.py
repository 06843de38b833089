"""Cold builds on every core.

What dominates a cold build, analysing models and drawing their charts, runs in worker
processes ahead of the sequential build, which then finds every result in the cache. A
warm build finds nothing missing and starts no process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterator, Optional, Sequence


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(jobs: int, requested: Optional[int] = None) -> int:
    """Workers for ``jobs`` tasks: one per core (or as ``requested``), never more than tasks."""
    return max(1, min(jobs, requested or cores()))


def _fork_is_safe() -> bool:
    # Forking a process that runs other threads (mkdocs serve's file watcher) can copy a
    # held lock into the child; such builds run in-process instead.
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def run_all(fn: Callable[..., Any], calls: Sequence[tuple], workers: int) -> Iterator[tuple[int, Any]]:
    """``(i, fn(*calls[i]))`` for every call, as each finishes; an exception is yielded, not raised.

    With more than one worker the calls run in forked processes (which start with every
    module already imported, so even short jobs gain); ``fn`` and its results must pickle.
    Yielding results as they come lets the caller store each at once: a build killed
    half-way keeps what it finished.
    """
    if workers <= 1 or len(calls) <= 1 or not _fork_is_safe():
        for i, args in enumerate(calls):
            yield i, _call(fn, args)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {pool.submit(_call, fn, args): i for i, args in enumerate(calls)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _call(fn: Callable[..., Any], args: tuple) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # the caller decides; the worker must not die on one bad model
        return exc
