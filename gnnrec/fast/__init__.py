"""Speed-ups of the reference computation, all behind one switch.

:mod:`gnnrec.models` and :mod:`gnnrec.train` compute the method plainly. With the switch on (the
default) the same numbers come faster from:

- :mod:`.ops`: a SciPy CSR shift operator, filters evaluated in the cheaper order (Horner's rule
  when a layer narrows), node-major activations with in-place ReLUs;
- :mod:`.local`: the exact partial forward pass for a few target nodes (:class:`LocalPlan`), and
  the folded input of a linear filter;
- :mod:`.localstep`: a hand-written gradient of that pass for one-target training;
- :mod:`.training`: validation on a second thread, subnormal floats flushed to zero.

Each is held equal to the reference by tests (``tests/test_fast.py``). Turn them off with
``GNNREC_FAST=0`` in the environment or ``with gnnrec.fast.disabled(): ...``. The switch is read
here only, by :func:`enabled`; an object decides once, when it is built (a
:class:`gnnrec.gnn.GNNPredictor` keeps ``self.fast`` and passes it on to its training).
"""

from __future__ import annotations

import contextlib
import os

_on = os.environ.get("GNNREC_FAST", "1").strip().lower() not in ("0", "false", "no", "off")


def enabled() -> bool:
    """Whether the speed-ups are on (``GNNREC_FAST``, default on)."""
    return _on


@contextlib.contextmanager
def disabled():
    """Objects built inside this block compute plainly (the switch is off for the whole process)."""
    global _on
    before, _on = _on, False
    try:
        yield
    finally:
        _on = before


def configure_process() -> None:
    """Process-wide torch settings for this package's small-batch training, made once by an entry
    point (the CLI, a job's child process, an evaluation worker, a benchmark), never by library
    code: one intra-op thread (at these batch sizes a second gains nothing, and OpenMP's
    barriers stall when another process holds the other core), and with the speed-ups on,
    subnormal floats flushed to zero in the calling thread (Adam's second moments decay into
    subnormals, on which elementwise ops are much slower)."""
    import torch

    torch.set_num_threads(1)
    if enabled():
        torch.set_flush_denormal(True)
