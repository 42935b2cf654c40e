"""The server's one heavy-job slot: a lock in this process and a lock file in the models folder.

:class:`HeavyJobLock` answers a second job of this process with :class:`Busy` at once. The lock
file (``.gnnrec-job.lock``: the server's and the job process's pid and start time, what runs)
carries the slot across processes: a restarted server, or a second one on the same models folder,
sees a job that still runs and refuses to start another beside it. A lock file whose processes are
gone (or whose pids now belong to other processes) is stale: it is removed and the slot is free.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
from pathlib import Path

from .. import store
from ..data import atomic_write_bytes
from . import safe_read

LOCK_NAME = ".gnnrec-job.lock"  # hidden, not a .pt: the store never lists it


class Busy(RuntimeError):
    """Another heavy job holds the server; the message says which and for how long."""


@dataclasses.dataclass
class JobInfo:
    owner: str  # who started it (a session id or a label; never shown)
    what: str  # e.g. "training my-gnn"
    started: float  # time.monotonic()
    job: object = None  # the running gnnrec.app.jobs.Job, once started


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks since boot, /proc/PID/stat field 22), or
    None if there is no such process, it has ended (a zombie nobody reaped yet), or no /proc:
    with the pid it names one process for good."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid, start) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs (not a new one reusing its pid)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    now = process_start(pid)
    if now is not None:
        return start is None or now == start
    if Path("/proc/self/stat").exists():  # /proc works: the process has ended
        return False
    try:  # no /proc: the pid alone
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, not ours to signal
        return True
    return True


def lock_path(folder: Path | None = None) -> Path:
    return (folder or store.models_dir()) / LOCK_NAME


def read_lock(folder: Path | None = None) -> dict | None:
    """The lock file's record if another live process holds the slot; a stale file is removed."""
    path = lock_path(folder)
    if not os.path.lexists(path):
        return None
    try:  # a bounded regular file only (a FIFO put there must not block every job)
        held = json.loads(safe_read.read_bytes(path, 4096))
        if not isinstance(held, dict):
            raise ValueError("not a record")
    except ValueError:  # unreadable or damaged (safe_read.Refused too): nobody can hold the slot through it
        held = {}
    if held.get("pid") == os.getpid() and held.get("start") == process_start(os.getpid()):
        if HEAVY.current is not None:  # this process's own job: not another's, and not stale
            return None
    elif alive(held.get("pid"), held.get("start")) or alive(held.get("child"), held.get("child_start")):
        return held
    with contextlib.suppress(OSError):
        path.unlink()
    return None


def _write_lock(path: Path, record: dict, exclusive: bool) -> None:
    if not exclusive:
        atomic_write_bytes(path, json.dumps(record).encode())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(record, f)


def _own(path: Path) -> bool:
    try:
        held = json.loads(safe_read.read_bytes(path, 4096))
        return held.get("pid") == os.getpid() and held.get("start") == process_start(os.getpid())
    except (OSError, ValueError, AttributeError):
        return False


def _refuse_if_held(held: dict | None) -> None:
    """Busy, saying what runs, if another live process holds the lock file (``held``: :func:`read_lock`)."""
    if held is not None:
        since = held.get("since")
        mins = (time.time() - since) / 60 if isinstance(since, (int, float)) and not isinstance(since, bool) else 0
        raise Busy(f"the server is busy: {str(held.get('what', 'a job'))[:80]} started {mins:.0f} min ago by "
                   f"another server process (pid {held.get('child') or held.get('pid')}) still runs; only one "
                   "training or live evaluation runs at a time — try again when it finishes")


class HeavyJobLock:
    """A non-blocking lock for the one heavy job: a second job gets :class:`Busy` at once instead
    of fighting the first for the CPU cores. Thread-safe; one instance per process (:data:`HEAVY`).
    :meth:`hold` also takes the models folder's lock file (:func:`read_lock`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._info: JobInfo | None = None
        self._file: Path | None = None

    @property
    def current(self) -> JobInfo | None:
        return self._info

    def _busy(self, owner: str) -> Busy:
        info = self._info
        ago = f"{time.monotonic() - info.started:.0f} s ago" if info else "just now"
        who = "you" if info and info.owner == owner else "another user"
        return Busy(f"the server is busy: {who} started {info.what if info else 'a job'} {ago}; "
                    "only one training or live evaluation runs at a time — try again when it finishes")

    def _take_file(self, what: str, folder: Path | None) -> None:
        """The lock file, or Busy if a live process of another server holds it. A folder that cannot
        hold it (read-only) leaves the slot to this process's lock alone."""
        path = lock_path(folder)
        record = {"pid": os.getpid(), "start": process_start(os.getpid()), "child": None, "child_start": None,
                  "what": what, "since": time.time()}
        for _ in range(3):
            _refuse_if_held(read_lock(folder))
            try:
                _write_lock(path, record, exclusive=True)
                self._file = path
                return
            except FileExistsError:
                if not _own(path):
                    continue  # another process took it meanwhile, or a stale file stays: look again
                try:  # left by this process (its job ended without removing it): take it over
                    _write_lock(path, record, exclusive=False)
                    self._file = path
                except OSError:  # it cannot be rewritten (a read-only folder): this process's lock alone
                    self._file = None
                return
            except OSError:
                self._file = None
                return
        # no live process holds it, yet it is still there: a stale file that cannot be removed (a
        # read-only folder, where no process can take the slot through a file either)
        _refuse_if_held(read_lock(folder))
        self._file = None

    def note_child(self, pid: int) -> None:
        """Record the job's child process in the lock file (a restarted server checks it too)."""
        if self._file is not None and self._info is not None:
            with contextlib.suppress(OSError):
                _write_lock(self._file, {"pid": os.getpid(), "start": process_start(os.getpid()), "child": pid,
                                         "child_start": process_start(pid), "what": self._info.what,
                                         "since": time.time() - (time.monotonic() - self._info.started)}, False)

    @contextlib.contextmanager
    def hold(self, owner: str, what: str, folder: Path | None = None):
        """``with HEAVY.hold(session, "training ..."):`` run the job, or raise Busy now."""
        if not self._lock.acquire(blocking=False):
            raise self._busy(owner)
        self._info = JobInfo(owner, what, time.monotonic())
        try:
            self._take_file(what, folder)
        except BaseException:
            self._info = None
            self._lock.release()
            raise
        try:
            yield self._info
        finally:
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.unlink()
                self._file = None
            self._info = None
            self._lock.release()


HEAVY = HeavyJobLock()
