"""Small synthetic graphs, models and rating matrices shared by the core tests."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from gnnrec.models import GNNConfig, LocalGNN


def random_graph(seed: int, n: int = 40, p: float = 0.08, isolated: int = 5) -> sp.csr_matrix:
    """Sparse symmetric weights of either sign, zero diagonal, the first ``isolated`` nodes with no
    edge, spectral radius 1 (so that S^k stays bounded)."""
    rng = np.random.default_rng(seed)
    a = np.triu(rng.uniform(-1, 1, size=(n, n)) * (rng.random((n, n)) < p), 1)
    a = a + a.T
    a[:isolated, :] = 0
    a[:, :isolated] = 0
    a /= np.max(np.abs(np.linalg.eigvalsh(a)))
    return sp.csr_matrix(a)


def small_dense_graph(seed: int, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.triu(rng.uniform(-1, 1, size=(n, n)), 1)
    a[0, 3] = a[1, 4] = 0.0  # a few missing edges
    a = a + a.T
    return a / np.max(np.abs(np.linalg.eigvalsh(a)))


def make_model(config: GNNConfig, seed: int) -> LocalGNN:
    torch.manual_seed(seed)
    model = LocalGNN(config)
    # non-trivial biases so that ReLUs cut at various places
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape))
    return model


def synthetic_ratings(seed: int = 0, users: int = 60, movies: int = 12, target: int = 0) -> np.ndarray:
    """Ratings driven by one latent taste; every user rated the ``target`` movie."""
    rng = np.random.default_rng(seed)
    taste = rng.normal(size=(users, 1))
    load = rng.uniform(-1, 1, size=(1, movies))
    load[0, target] = 1.0
    x = np.clip(np.round(3 + 1.2 * taste * load + 0.4 * rng.normal(size=(users, movies))), 1, 5)
    x[rng.random((users, movies)) < 0.5] = 0
    x[:, target] = np.clip(np.round(3 + 1.2 * taste[:, 0] + 0.3 * rng.normal(size=users)), 1, 5)
    return x
