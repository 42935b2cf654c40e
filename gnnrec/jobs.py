"""One heavy job (training, live evaluation) at a time per server process: a lock with a clear 'busy'."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time


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
