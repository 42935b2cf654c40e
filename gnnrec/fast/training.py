"""Training's speed-ups: validation on a second thread, subnormal floats flushed to zero."""

from __future__ import annotations

import concurrent.futures
import copy

import torch

from ..train import Validator, state_of


class BackgroundValidator(Validator):
    """:class:`gnnrec.train.Validator` scoring a snapshot of the weights on a second thread (the
    other core) while training goes on: the same numbers as scoring in line, at most one
    snapshot in flight, each recorded (and reported) one validation late. The thread flushes
    subnormal floats to zero: Adam's second moments decay into subnormals, on which elementwise
    ops are much slower."""

    def __init__(self, model, valid, step_fn, total, on_progress):
        super().__init__(model, valid, step_fn, total, on_progress)
        self.shadow = copy.deepcopy(model).eval()
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gnnrec-validate",
                                                          initializer=torch.set_flush_denormal, initargs=(True,))
        self.pending = None

    def _score_snapshot(self, snapshot: dict) -> float:
        self.shadow.load_state_dict(snapshot)
        return self.score(self.shadow)

    def _collect(self) -> None:
        if self.pending is not None:
            future, step, epoch, loss, snapshot = self.pending
            self.pending = None
            self.record(step, epoch, loss, future.result(), snapshot)

    def submit(self, step: int, epoch: int, loss: float) -> None:
        self._collect()
        snapshot = state_of(self.model)
        self.pending = (self.pool.submit(self._score_snapshot, snapshot), step, epoch, loss, snapshot)

    def finish(self) -> None:
        self._collect()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
