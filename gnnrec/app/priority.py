"""How a heavy job keeps out of the visitors' way: the lowest CPU priority, and dying with the server."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time

NICE = 19  # a heavy job's thread (or process) priority on Linux (0 = normal, 19 = lowest)
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int, poll: float = 1.0) -> None:
    """End this process as soon as ``parent`` (the server) is gone, so that a server killed by
    SIGKILL (the out-of-memory killer) leaves no training behind to save a model nobody asked for.
    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (the kernel sends it when the thread that started
    this process ends; it outlives the child). Everywhere: a daemon thread that polls the parent's
    pid, in case the signal is unavailable or the parent died before it was set."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(70)  # the parent is gone: no clean-up, nothing saved (saves are atomic)

    if os.getppid() != parent:
        os._exit(70)
    threading.Thread(target=watch, name="gnnrec-parent-watch", daemon=True).start()


def _lower_priority() -> None:
    """Give this thread (and the threads it starts: training's validation, the graph builder) the
    lowest CPU priority on Linux, so that on a few shared cores the visitors' page reruns come
    first and the heavy job takes what is left. Elsewhere (or if refused) nothing changes."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
