"""Benchmark: the graph shift product S @ Z on the all-movies graph, SciPy's CSR kernel (the fast
path's ShiftOperator) against torch's sparse CSR tensor (the reference), alone and inside one
forward + backward pass of the all-movies GNN (32 users).

    python bench/ops_speed.py [--repeats 20]

Prints milliseconds per call and the ratio torch / SciPy (above 1: SciPy is faster).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from gnnrec import data as data_mod
from gnnrec import fast
from gnnrec.fast import ops
from gnnrec.graph import ItemGraph
from gnnrec.models import LocalGNN, sparse_shift
from gnnrec.presets import PRESETS


def timed(f, repeats: int) -> float:
    f()
    t0 = time.perf_counter()
    for _ in range(repeats):
        f()
    return (time.perf_counter() - t0) / repeats * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    fast.configure_process()
    d = data_mod.load()
    graph = ItemGraph.build(d.matrix(), PRESETS["all"].graph)
    scipy_s, torch_s = ops.ShiftOperator(graph.shift), sparse_shift(graph.shift)
    print(f"all-movies graph: {graph.shift.nnz} edges; {torch.get_num_threads()} thread(s); "
          f"load average {os.getloadavg()[0]:.1f}")
    for cols in (64, 1024):
        z = torch.from_numpy(np.random.default_rng(0).random((graph.shift.shape[0], cols), dtype=np.float32))
        a, b = timed(lambda z=z: scipy_s @ z, args.repeats), timed(lambda z=z: torch_s @ z, args.repeats)
        print(f"S @ Z, {cols:>4} columns: SciPy {a:7.2f} ms, torch {b:7.2f} ms, torch/SciPy {b / a:.2f}")
    model = LocalGNN(PRESETS["all"].predictor.model)
    sig = torch.randn(32, graph.shift.shape[0], model.config.in_features)

    def step(s):
        model.zero_grad()
        ops.forward(model, sig, s).sum().backward()

    a, b = timed(lambda: step(scipy_s), max(3, args.repeats // 4)), timed(lambda: step(torch_s), max(3, args.repeats // 4))
    print(f"forward + backward, 32 users: SciPy {a:6.0f} ms, torch {b:6.0f} ms, torch/SciPy {b / a:.2f}")


if __name__ == "__main__":
    main()
