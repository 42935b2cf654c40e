"""Background heavy jobs (training, live evaluation): one at a time per server, with progress and cancel.

:data:`HEAVY` is a non-blocking lock: a second job gets a clear :class:`Busy` at once.
:class:`Job` runs a computation in a daemon thread, holding that lock; :class:`ProcessJob` runs it
in a child process at the lowest CPU priority (the app's trainings and evaluations), so that the
server's page reruns never wait for the job's Python code to let go of the GIL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable

from ..data import DataError
from ..store import StoreError
from ..train import Cancelled

NICE = 19  # a heavy job's thread (or process) priority on Linux (0 = normal, 19 = lowest)
CANCEL_GRACE = 20.0  # seconds a cancelled child process gets to stop by itself before it is terminated
MODES = ("process", "thread")  # GNNREC_JOBS: where the app's heavy jobs run (default: a child process)


def use_processes() -> bool:
    """Whether the app's heavy jobs run in a child process (``GNNREC_JOBS=process``, the default)
    or in a thread of the server (``GNNREC_JOBS=thread``: for a host that forbids child processes,
    or has no memory for a second Python with torch, ~300 MB)."""
    mode = os.environ.get("GNNREC_JOBS", "process").strip().lower() or "process"
    if mode not in MODES:
        raise ValueError(f"GNNREC_JOBS={mode!r}: choose one of {MODES}")
    return mode == "process"


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
        self._finish(*_outcome(self._fn, self._report, self._cancel.is_set))

    def _finish(self, result, state: str, error: str | None) -> None:
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


def _outcome(fn, report, cancelled) -> tuple[object, str, str | None]:
    """Run ``fn(report, cancelled)``: ``(result, state, error text)``."""
    try:
        return fn(report, cancelled), "done", None
    except Cancelled:
        return None, "cancelled", "cancelled: nothing was saved"
    except (ValueError, StoreError, DataError) as e:
        return None, "failed", str(e)
    except Exception as e:  # noqa: BLE001  the page shows it; the log gets the traceback
        traceback.print_exc(file=sys.stderr)
        return None, "failed", f"{type(e).__name__}: {str(e)[:300]}"


class ProcessJob(Job):
    """A :class:`Job` whose computation runs in a child process (``spawn``: nothing of the
    server's threads or locks is inherited) at the lowest CPU priority. ``fn`` must be picklable
    (a module-level function, or a :func:`functools.partial` of one); its events and result come
    back through a queue, read by a thread of this process that also notices a child that dies
    (killed, out of memory): the job then fails with that reason, and the lock is freed.
    :meth:`cancel` sets a flag the child polls; a child that has not stopped ``CANCEL_GRACE``
    seconds later is terminated. ``on_done(result)`` runs here after a successful job.
    """

    def __init__(self, kind: str, label: str, fn, total: int | None = None,
                 on_done: Callable[[object], object] | None = None):
        super().__init__(kind, label, fn, total)
        ctx = multiprocessing.get_context("spawn")
        self._queue = ctx.Queue()
        self._cancel = ctx.Event()  # in place of the thread job's: the child polls it
        self._on_done = on_done
        self.process = ctx.Process(target=_child, args=(fn, self._queue, self._cancel), name=f"gnnrec-{kind}",
                                   daemon=True)

    def _run(self) -> None:
        try:
            self.process.start()
        except Exception as e:  # noqa: BLE001  e.g. no memory for a new process
            self._finish(None, "failed", f"could not start the {self.kind} process: {e}")
            return
        try:
            self._watch()
        except Exception as e:  # noqa: BLE001  never leave the server's one-job lock held
            traceback.print_exc(file=sys.stderr)
            if self.process.is_alive():
                self.process.terminate()
            self._finish(None, "failed", f"{type(e).__name__}: {str(e)[:300]}")

    def _watch(self) -> None:
        """Relay the child's events until its outcome arrives or it dies."""
        cancelled_at = None
        while True:
            try:
                kind, payload = self._queue.get(timeout=0.25)
            except queue.Empty:
                if self._cancel.is_set():
                    cancelled_at = cancelled_at or time.monotonic()
                    if time.monotonic() - cancelled_at > CANCEL_GRACE and self.process.is_alive():
                        self.process.terminate()
                if not self.process.is_alive():
                    self.process.join()
                    try:  # the final message may have arrived just as the child exited
                        kind, payload = self._queue.get(timeout=1.0)
                    except queue.Empty:
                        code = self.process.exitcode
                        state = "cancelled" if self._cancel.is_set() else "failed"
                        self._finish(None, state, f"the {self.kind} process ended unexpectedly (exit code {code}); "
                                                  "nothing was saved — start it again")
                        return
                else:
                    continue
            if kind == "event":
                self._report(payload)
                continue
            result, state, error = payload
            if state == "done" and self._on_done is not None:
                result = self._on_done(result)
            self.process.join(5)
            self._finish(result, state, error)
            return


def _child(fn, events, cancel) -> None:
    """The child process of a :class:`ProcessJob`."""
    _lower_priority()
    from .. import fast

    fast.configure_process()  # the child's entry point
    outcome = _outcome(fn, lambda e: events.put(("event", e)), cancel.is_set)
    events.put(("end", outcome))
    events.close()
    events.join_thread()  # everything sent before the process exits


def _lower_priority() -> None:
    """Give this thread (and the threads it starts: training's validation, the graph builder) the
    lowest CPU priority on Linux, so that on a few shared cores the visitors' page reruns come
    first and the heavy job takes what is left. Elsewhere (or if refused) nothing changes."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


def start_job(kind: str, label: str, fn, total: int | None = None, owner: str = "app", process: bool = False,
              on_done: Callable[[object], object] | None = None) -> Job:
    """Start ``fn`` in the background (a thread, or with ``process=True`` a child process:
    :class:`ProcessJob`), holding :data:`HEAVY`; :class:`Busy` (at once, nothing started) if
    another job holds it."""
    if process:
        job = ProcessJob(kind, label, fn, total, on_done)
    else:
        if on_done is not None:
            fn = (lambda f: lambda report, cancelled: on_done(f(report, cancelled)))(fn)
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
