"""Background heavy jobs (training, live evaluation): one at a time per server, owned, bounded.

The slot: :data:`HEAVY` (:mod:`gnnrec.app.slot`), a second job gets a clear :class:`Busy` at once.
:class:`Job` runs a computation in a daemon thread; :class:`ProcessJob` runs it in a child process
at the lowest CPU priority (the app's trainings and evaluations), so that the server's page
reruns never wait for the job's Python code to let go of the GIL. Every job stops by itself at
its wall-clock limit, and a job started with a grace period stops once its owner has not been
seen (:meth:`Job.touch`) for that long: the session that started it is gone. A child process dies
with the server (Linux parent-death signal, and a watchdog on its parent's pid).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import secrets
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from ..data import DataError
from ..store import StoreError
from ..train import Cancelled
from .priority import NICE, _die_with_parent, _lower_priority  # noqa: F401  (NICE re-exported)
from .slot import HEAVY, Busy, HeavyJobLock, JobInfo  # noqa: F401  (re-exported: the app's job API)

CANCEL_GRACE = 20.0  # seconds a cancelled child process gets to stop by itself before it is terminated
WALL_LIMIT = 600.0  # seconds any job may run (twice the training budget of gnnrec.app.live)
ABANDON_GRACE = 60.0  # seconds a job outlives the last sign of its session (a closed tab)
MODES = ("process", "thread")  # GNNREC_JOBS: where the app's heavy jobs run (default: a child process)


def use_processes() -> bool:
    """Whether the app's heavy jobs run in a child process (``GNNREC_JOBS=process``, the default)
    or in a thread of the server (``GNNREC_JOBS=thread``: for a host that forbids child processes,
    or has no memory for a second Python with torch, ~300 MB)."""
    mode = os.environ.get("GNNREC_JOBS", "process").strip().lower() or "process"
    if mode not in MODES:
        raise ValueError(f"GNNREC_JOBS={mode!r}: choose one of {MODES}")
    return mode == "process"


class Job:
    """One background computation (training or evaluation) with progress events and a cancel flag.

    ``fn(report, cancelled)`` runs in a daemon thread; ``report(event)`` appends to
    :meth:`events`; ``cancelled()`` is True once :meth:`cancel` was called, the wall-clock
    ``limit`` has passed, or (with ``grace``) the owner was not seen for ``grace`` seconds. The
    :data:`HEAVY` slot is taken before the thread starts and freed when it ends.
    """

    def __init__(self, kind: str, label: str, fn: Callable[[Callable, Callable[[], bool]], object],
                 total: int | None = None, owner: str = "app", limit: float = WALL_LIMIT, grace: float | None = None):
        self.kind, self.label, self._fn, self.total, self.owner = kind, label, fn, total, owner
        self.token = secrets.token_urlsafe(16)  # what the owner's address carries (never the owner's id)
        self.limit, self.grace = limit, grace
        self.started, self.finished = time.time(), None
        self._t0 = self._seen = time.monotonic()
        self.state = "running"  # running, done, failed, cancelled
        self.result = None
        self.error: str | None = None
        self.stop_reason: str | None = None
        self._events: list = []
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._hold = None  # the HEAVY slot's context, exited by the job's thread
        self.thread = threading.Thread(target=self._run, name=f"gnnrec-{kind}", daemon=True)

    def _run(self) -> None:
        _lower_priority()
        self._finish(*_outcome(self._fn, self._report, self._should_stop))

    def _finish(self, result, state: str, error: str | None) -> None:
        if state == "cancelled" and self.stop_reason:
            error = f"{self.stop_reason}; nothing was saved"
        with self._lock:
            self.result, self.state, self.error, self.finished = result, state, error, time.time()
        if self._hold is not None:
            self._hold.__exit__(None, None, None)

    def _report(self, event) -> None:
        with self._lock:
            self._events.append(event)

    def _should_stop(self) -> bool:
        """The cancel flag, set here too once the job is over its time limit or abandoned."""
        if not self._cancel.is_set():
            now = time.monotonic()
            if now - self._t0 > self.limit:
                self.cancel(f"stopped after {_duration(self.limit)}, the limit for one job on this server")
            elif self.grace is not None and now - self._seen > self.grace:
                self.cancel(f"stopped: the session that started it was gone for {self.grace:.0f} s")
        return self._cancel.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._cancel.is_set():
            self.stop_reason = reason
        self._cancel.set()

    def touch(self) -> None:
        """The owner's session is still here (it ran just now)."""
        self._seen = time.monotonic()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def running(self) -> bool:
        return self.state == "running"

    def events(self) -> list:
        with self._lock:
            return list(self._events)

    def progress(self) -> float:
        """Share done, 0..1: the last training step of its total, else events of ``total``."""
        events = self.events()
        if self.state == "done":
            return 1.0
        for e in reversed(events):  # the latest event that says how far (a training's stages do not)
            if hasattr(e, "fraction"):  # a live evaluation's gnnrec.app.progress.EvalProgress
                return float(e.fraction)
            if hasattr(e, "step") and getattr(e, "total_steps", 0):
                return min(1.0, e.step / e.total_steps)
        return min(1.0, len(events) / (self.total or 1))

    def wait(self, timeout: float | None = None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def elapsed(self) -> float:
        return (self.finished or time.time()) - self.started


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} minutes"


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
    server's threads or locks is inherited) at the lowest CPU priority, dying with the server.
    ``fn`` must be picklable (a module-level function, or a :func:`functools.partial` of one);
    its events and result come back through a queue, read by a thread of this process that also
    notices a child that dies (killed, out of memory): the job then fails with that reason, and
    the slot is freed. :meth:`cancel` (or the time limit, or an abandoned job) sets a flag the child
    polls; a child that has not stopped ``CANCEL_GRACE`` seconds later is terminated.
    ``on_done(result)`` runs here after a successful job.
    """

    def __init__(self, kind: str, label: str, fn, total: int | None = None,
                 on_done: Callable[[object], object] | None = None, **limits):
        super().__init__(kind, label, fn, total, **limits)
        ctx = multiprocessing.get_context("spawn")
        self._queue = ctx.Queue()
        self._cancel = ctx.Event()  # in place of the thread job's: the child polls it
        self._on_done = on_done
        self.process = ctx.Process(target=_child, args=(fn, self._queue, self._cancel, os.getpid()),
                                   name=f"gnnrec-{kind}", daemon=True)

    def _run(self) -> None:
        try:
            self.process.start()  # from this thread, which outlives the child: see _die_with_parent
        except Exception as e:  # noqa: BLE001  e.g. no memory for a new process
            self._finish(None, "failed", f"could not start the {self.kind} process: {e}")
            return
        HEAVY.note_child(self.process.pid)
        try:
            self._watch()
        except Exception as e:  # noqa: BLE001  never leave the server's one-job slot held
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
                if self._should_stop():
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


def _child(fn, events, cancel, parent: int) -> None:
    """The child process of a :class:`ProcessJob`."""
    _die_with_parent(parent)
    _lower_priority()
    from .. import fast

    fast.configure_process()  # the child's entry point
    outcome = _outcome(fn, lambda e: events.put(("event", e)), cancel.is_set)
    events.put(("end", outcome))
    events.close()
    events.join_thread()  # everything sent before the process exits


def start_job(kind: str, label: str, fn, total: int | None = None, owner: str = "app", process: bool = False,
              on_done: Callable[[object], object] | None = None, limit: float = WALL_LIMIT,
              grace: float | None = None, folder: Path | None = None, first_event: object = None) -> Job:
    """Start ``fn`` in the background (a thread, or with ``process=True`` a child process:
    :class:`ProcessJob`), holding :data:`HEAVY` (and the lock file in ``folder``, default the
    models folder); :class:`Busy` (at once, nothing started) if another job holds it. The job
    stops by itself after ``limit`` seconds, and with ``grace`` once ``owner`` was not seen
    (:meth:`Job.touch`) for that long. ``first_event`` (if given) is the job's first event, there
    before the work can report anything."""
    limits = {"owner": owner, "limit": limit, "grace": grace}
    if process:
        job = ProcessJob(kind, label, fn, total, on_done, **limits)
    else:
        if on_done is not None:
            fn = (lambda f: lambda report, cancelled: on_done(f(report, cancelled)))(fn)
        job = Job(kind, label, fn, total, **limits)
    hold = HEAVY.hold(owner, f"{kind} {label}", folder)
    hold.__enter__().job = job  # raises Busy
    job._hold = hold
    if first_event is not None:
        job._report(first_event)
    try:
        job.thread.start()
    except BaseException:
        hold.__exit__(None, None, None)
        raise
    return job


def running() -> Job | None:
    """The job holding this server's slot, or None."""
    info = HEAVY.current
    job = info.job if info is not None else None
    return job if isinstance(job, Job) else None
