"""The server's one heavy-job slot: a lock in this process and a lock file in the models folder.

:class:`HeavyJobLock` answers a second job of this process with :class:`Busy` at once. The lock
file (``.gnnrec-job.lock``) carries the slot across processes: it is held with ``flock`` through
the ``filelock`` library, so the kernel frees it the moment its server process ends (killed or
not), and it holds a record (the server's and the job process's pid and start time, what runs)
for the message a second server shows. A restarted server, or a second one on the same models
folder, sees a job that still runs and refuses to start another beside it.

Hand-written still, and why: the job's child process is started with ``spawn``, which inherits
no lock, so a child that outlives its killed server for a moment is recognised by its pid and
start time in the record (:func:`alive`); a folder that cannot hold the file (read-only) or a
filesystem without ``flock`` leaves the slot to this process's lock alone, as before; anything
but a regular file in the lock file's place (a FIFO, a link) is removed first, as filelock would
open it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import threading
import time
from pathlib import Path

import filelock

from .. import store
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


def _record(path: Path) -> dict:
    """The lock file's record; {} if it is missing, unreadable or damaged (a bounded regular file only)."""
    try:
        held = json.loads(safe_read.read_bytes(path, 4096))
    except ValueError:  # safe_read.Refused too
        return {}
    return held if isinstance(held, dict) else {}


def _running(held: dict) -> bool:
    """Whether a process of the record ``held``, the server or its job's child, still runs."""
    return alive(held.get("pid"), held.get("start")) or alive(held.get("child"), held.get("child_start"))


def read_lock(folder: Path | None = None) -> dict | None:
    """The lock file's record if another live process holds the slot (for the sidebar; changes nothing)."""
    path = lock_path(folder)
    if HEAVY.current is not None or not os.path.lexists(path):
        return None
    held = _record(path)
    return held if held.get("pid") != os.getpid() and _running(held) else None


def _refuse(held: dict) -> Busy:
    """Busy, saying what runs in another server process (``held``: its record, maybe empty)."""
    since = held.get("since")
    mins = (time.time() - since) / 60 if isinstance(since, (int, float)) and not isinstance(since, bool) else 0
    return Busy(f"the server is busy: {str(held.get('what', 'a job'))[:80]} started {mins:.0f} min ago by "
                f"another server process (pid {held.get('child') or held.get('pid')}) still runs; only one "
                "training or live evaluation runs at a time — try again when it finishes")


def _write(fd: int, record: dict) -> None:
    """The record into the held lock file, in place (a rename would swap the locked inode)."""
    blob = json.dumps(record).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, blob, 0)


class HeavyJobLock:
    """A non-blocking lock for the one heavy job: a second job gets :class:`Busy` at once instead
    of fighting the first for the CPU cores. Thread-safe; one instance per process (:data:`HEAVY`).
    :meth:`hold` also takes the models folder's lock file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._info: JobInfo | None = None
        self._file: filelock.FileLock | None = None
        self._fd: int | None = None  # the held lock file's descriptor (filelock's, borrowed)

    @property
    def current(self) -> JobInfo | None:
        return self._info

    def _busy(self, owner: str) -> Busy:
        info = self._info
        ago = f"{time.monotonic() - info.started:.0f} s ago" if info else "just now"
        who = "you" if info and info.owner == owner else "another user"
        return Busy(f"the server is busy: {who} started {info.what if info else 'a job'} {ago}; "
                    "only one training or live evaluation runs at a time — try again when it finishes")

    def _record(self, child: int | None = None) -> dict:
        info = self._info
        return {"pid": os.getpid(), "start": process_start(os.getpid()), "child": child,
                "child_start": process_start(child) if child else None, "what": info.what,
                "since": time.time() - (time.monotonic() - info.started)}

    def _on_acquired(self, path: Path, fd: int) -> None:
        """Under the flock: refuse if the last holder's job child still runs, else write our record."""
        held = _record(path)
        if alive(held.get("child"), held.get("child_start")):
            raise _refuse(held)  # rolls the acquisition back
        self._fd = fd
        _write(fd, self._record())

    def _take_file(self, folder: Path | None) -> None:
        """The lock file, or Busy if a process of another server holds it (or its job's child still
        runs). A folder that cannot hold it (read-only, no flock) leaves the slot to this process's lock."""
        path = lock_path(folder)
        with contextlib.suppress(OSError):
            if not stat.S_ISREG(os.lstat(path).st_mode):  # a FIFO or a link in its place: nobody's lock
                path.unlink()
        lock = filelock.FileLock(path, blocking=False, thread_local=False, fallback_to_soft=False,
                                 on_acquired=lambda fd: self._on_acquired(path, fd))
        for _ in range(3):
            try:
                lock.acquire()
                self._file = lock
                return
            except filelock.Timeout:  # held by a live process (or the file was just removed: look again)
                held = _record(path)
                if held or path.exists():
                    raise _refuse(held) from None
            except OSError:  # a read-only folder, or no flock here
                return
        raise _refuse({})

    def note_child(self, pid: int) -> None:
        """Record the job's child process in the lock file (a restarted server checks it too)."""
        if self._file is not None and self._fd is not None and self._info is not None:
            with contextlib.suppress(OSError):
                _write(self._fd, self._record(pid))

    def _free_file(self) -> None:
        """The lock file removed while still held (a waiter on the old file then looks again), then released."""
        lock, self._file, self._fd = self._file, None, None
        if lock is not None:
            with contextlib.suppress(OSError):
                Path(lock.lock_file).unlink()
            with contextlib.suppress(OSError):
                lock.release()

    @contextlib.contextmanager
    def hold(self, owner: str, what: str, folder: Path | None = None):
        """``with HEAVY.hold(session, "training ..."):`` run the job, or raise Busy now."""
        if not self._lock.acquire(blocking=False):
            raise self._busy(owner)
        self._info = JobInfo(owner, what, time.monotonic())
        try:
            self._take_file(folder)
        except BaseException:
            self._info = None
            self._lock.release()
            raise
        try:
            yield self._info
        finally:
            self._free_file()
            self._info = None
            self._lock.release()


HEAVY = HeavyJobLock()
