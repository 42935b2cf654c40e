"""The target task with what the classical reference learns from: all-movies GNNs blind to a fold of
movies, used (and optionally fine-tuned) for a target movie of that fold.

The per-target GNN of the seed's protocol learns from the target's ~300 training users only;
``knn_baseline`` is fitted on every rating except the test ones. Here the GNN may use the same:

1. **Pretraining, once for all targets.** The movies are split into :data:`FOLDS` folds (a fixed,
   seeded permutation). Fold model f is the all-movies GNN trained on every rating except those
   of fold f's movies (their columns are zeroed: no input, no label, no graph edge). For a target
   in fold f, none of its ratings — the test users' included — ever reached model f.
2. **Per split.** The graph and the means are built from every rating except the split's test
   cells (the test users' ratings of the target), as for ``knn_baseline``; the fold model's
   weights predict the target for the test users from their other ratings. With ``finetune``
   epochs, the weights are first trained further on the target's training users (the seed's
   task, starting from the fold model, the best step picked on the validation users; step 0 is
   the fold model itself).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from . import store
from .allmovies import train_all_model
from .data import MovieLens
from .fitting import fit_target
from .gnn import GNNPredictor
from .graph import ItemGraph
from .train import TrainConfig

FOLDS = 5  # movie folds, one pretrained model each
FOLD_SEED = 2024  # the permutation that assigns movies to folds (fixed: the committed models depend on it)


def fold_of(movie_index: int, n_movies: int) -> int:
    """The fold of a movie column (0-based index)."""
    return int(np.random.default_rng(FOLD_SEED).permutation(n_movies)[movie_index] % FOLDS)


def fold_columns(fold: int, n_movies: int) -> np.ndarray:
    """The movie columns of ``fold``, sorted."""
    if not 0 <= fold < FOLDS:
        raise ValueError(f"fold={fold!r}: folds run 0..{FOLDS - 1}")
    return np.flatnonzero(np.random.default_rng(FOLD_SEED).permutation(n_movies) % FOLDS == fold)


def blind(x: np.ndarray, fold: int) -> np.ndarray:
    """``(U, N)`` ratings without fold ``fold``'s columns (a copy)."""
    out = x.copy()
    out[:, fold_columns(fold, x.shape[1])] = 0
    return out


def folder(base: Path | None = None) -> Path:
    """Where the fold models live: ``models/folds/`` (not listed among the app's models)."""
    return (base or store.models_dir()) / "folds"


def model_name(fold: int) -> str:
    return f"fold-{fold}"


def load_fold(fold: int, data: MovieLens, base: Path | None = None) -> GNNPredictor:
    """Fold model ``fold`` from the store, checked against ``data``."""
    try:
        return store.load(model_name(fold), folder(base), data_fingerprint=data.fingerprint(),
                          n_movies=data.n_movies).predictor
    except store.StoreError as e:
        raise store.StoreError(f"{e} (the transfer GNN needs the {FOLDS} fold models: "
                               "`python -m gnnrec train --task folds`)") from None


_loaded: dict[tuple, GNNPredictor] = {}  # fold models loaded in this process, by (folder, fold, data)


def fold_model_for(target: int, data: MovieLens, base: Path | None = None) -> GNNPredictor:
    """The fold model blind to ``target`` (column index), loaded once per process."""
    fold = fold_of(target, data.n_movies)
    key = (str(folder(base)), fold, data.fingerprint())
    if key not in _loaded:
        _loaded[key] = load_fold(fold, data, base)
    return _loaded[key]


def check_blind(fold_model: GNNPredictor, target: int) -> None:
    """Raise ValueError unless ``fold_model`` never saw a rating of ``target`` (column index): its
    held-out movies (those without a known mean: no training rating) must include the target. A
    fold model of another fold, or any all-movies model, would leak the test users' ratings."""
    known = np.asarray(fold_model.item_known, dtype=bool)  # (N,)
    if not 0 <= target < known.shape[0] or known[target]:
        raise ValueError(f"the fold model used for movie {target + 1} has seen ratings of that movie (it is not the "
                         f"model of its fold, {fold_of(target, known.shape[0])}); its predictions would leak the test "
                         "users' ratings. Retrain the fold models: `python -m gnnrec train --task folds --force`")


def fit_transfer(fold_model: GNNPredictor, known: np.ndarray, target: int, train_users: np.ndarray,
                 valid_users: np.ndarray, finetune: TrainConfig | None, seed: int = 0,
                 name: str = "gnn", members: int = 1) -> GNNPredictor:
    """The transfer GNN for one split of ``target`` (column index).

    Args:
        fold_model: the all-movies GNN blind to ``target``'s fold.
        known: ``(U, N)`` every rating except the split's test cells.
        train_users, valid_users: row indices of the target's training and validation users.
        finetune: training settings for fine-tuning on the training users, or None to use the
            fold model's weights as they are.
        members: fine-tuned copies of each fold member (shuffling seeds seed, seed+1, ...),
            their predictions averaged; without ``finetune`` there is one copy.
    """
    if fold_model.config.target is not None:
        raise ValueError("fold models are all-movies models; this one predicts a single movie")
    check_blind(fold_model, target)
    graph = ItemGraph.build(known, fold_model.graph.config)
    if not isinstance(members, int) or members < 1:
        raise ValueError(f"members={members!r} must be an integer >= 1")
    cfg = dataclasses.replace(fold_model.config, target=int(target),
                              ensemble=len(fold_model.models) * (members if finetune is not None else 1),
                              train=dataclasses.replace(finetune or TrainConfig(), seed=seed))
    pred = GNNPredictor(cfg, name)
    if finetune is None:
        pred.use(known, graph)
        pred.models = list(fold_model.models)
        return pred
    states = [m.state_dict() for m in fold_model.models]
    return fit_target(pred, known[train_users], graph, known[valid_users], init=states, means_from=known)


def train_folds(data: MovieLens, preset: str = "all", seed: int = 0, base: Path | None = None,
                folds: list[int] | None = None, on_fold=None) -> list[Path]:
    """Train and save the fold models (each the all-movies GNN of ``preset`` on every rating but
    its fold's columns, validated as :func:`gnnrec.allmovies.fit_gnn` does). Returns the paths."""
    x = data.matrix()
    paths = []
    for fold in folds if folds is not None else range(FOLDS):
        gnn, metrics, extra = train_all_model(data, preset, seed, x=blind(x, fold), blind_fold=fold, folds=FOLDS,
                                              fold_seed=FOLD_SEED)
        paths.append(store.save(gnn, model_name(fold), metrics=metrics, data_fingerprint=data.fingerprint(),
                                extra=extra, folder=folder(base)))
        if on_fold is not None:
            on_fold(fold, metrics)
    return paths
