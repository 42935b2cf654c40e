"""Background heavy jobs (training, live evaluation): one at a time per process, with progress and cancel.

:data:`HEAVY` is a non-blocking lock: a second job gets a clear :class:`Busy` at once.
:class:`Job` runs a computation in a daemon thread, holding that lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
import time
import traceback
from typing import Callable

from .data import DataError
from .store import StoreError
from .train import Cancelled


NICE = 19  # a heavy job's thread priority on Linux (0 = normal, 19 = lowest)


class Busy(RuntimeError):
    """Another heavy job holds the server; the message says which and for how long."""


@dataclasses.dataclass(frozen=True)
class JobInfo:
    owner: str  # who started it (a session id or a label)
    what: str  # e.g. "training all-movies model 'mine'"
    started: float  # time.monotonic()


class HeavyJobLock:
    """A non-blocking lock: a second job gets :class:`Busy` at once instead of fighting the
    first for the CPU cores.

    Shapes: none. Thread-safe; one instance per process (:data:`HEAVY`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._info: JobInfo | None = None

    @property
    def current(self) -> JobInfo | None:
        return self._info

    @contextlib.contextmanager
    def hold(self, owner: str, what: str):
        """``with HEAVY.hold(session, "training ..."):`` run the job, or raise Busy now."""
        if not self._lock.acquire(blocking=False):
            info = self._info
            ago = f"{time.monotonic() - info.started:.0f} s ago" if info else "just now"
            who = "you" if info and info.owner == owner else "another user"
            raise Busy(f"the server is busy: {who} started {info.what if info else 'a job'} {ago}; "
                       "only one training or live evaluation runs at a time — try again when it finishes")
        self._info = JobInfo(owner, what, time.monotonic())
        try:
            yield self._info
        finally:
            self._info = None
            self._lock.release()


HEAVY = HeavyJobLock()


class Job:
    """One background computation (training or evaluation) with progress events and a cancel flag.

    ``fn(report, cancelled)`` runs in a daemon thread; ``report(event)`` appends to
    :meth:`events`; ``cancelled()`` is True once :meth:`cancel` was called. The process-wide
    :data:`HEAVY` lock is taken before the thread starts and freed when it ends.
    """

    def __init__(self, kind: str, label: str, fn: Callable[[Callable, Callable[[], bool]], object],
                 total: int | None = None):
        self.kind, self.label, self._fn, self.total = kind, label, fn, total
        self.started, self.finished = time.time(), None
        self.state = "running"  # running, done, failed, cancelled
        self.result = None
        self.error: str | None = None
        self._events: list = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._hold = None  # the HEAVY lock's context, exited by the job's thread
        self.thread = threading.Thread(target=self._run, name=f"gnnrec-{kind}", daemon=True)

    def _run(self) -> None:
        _lower_priority()
        try:
            result = self._fn(self._report, self._cancel.is_set)
            state, error = "done", None
        except Cancelled:
            result, state, error = None, "cancelled", "cancelled: nothing was saved"
        except (ValueError, StoreError, DataError) as e:
            result, state, error = None, "failed", str(e)
        except Exception as e:  # noqa: BLE001  the page shows it; the log gets the traceback
            traceback.print_exc(file=sys.stderr)
            result, state, error = None, "failed", f"{type(e).__name__}: {str(e)[:300]}"
        with self._lock:
            self.result, self.state, self.error, self.finished = result, state, error, time.time()
        if self._hold is not None:
            self._hold.__exit__(None, None, None)

    def _report(self, event) -> None:
        with self._lock:
            self._events.append(event)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def events(self) -> list:
        with self._lock:
            return list(self._events)

    def wait(self, timeout: float | None = None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started


def _lower_priority() -> None:
    """Give this thread (and the threads it starts: training's validation, the graph builder) the
    lowest CPU priority on Linux, so that on a few shared cores the visitors' page reruns come
    first and the heavy job takes what is left. Elsewhere (or if refused) nothing changes."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


def start_job(kind: str, label: str, fn, total: int | None = None, owner: str = "app") -> Job:
    """Start ``fn`` in the background, holding :data:`HEAVY`; :class:`Busy`
    (at once, nothing started) if another job holds it."""
    job = Job(kind, label, fn, total)
    hold = HEAVY.hold(owner, f"{kind} {label}")
    hold.__enter__()  # raises Busy
    job._hold = hold
    try:
        job.thread.start()
    except BaseException:
        hold.__exit__(None, None, None)
        raise
    return job
