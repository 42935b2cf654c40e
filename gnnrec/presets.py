"""Named GNN recipes (the reference configuration and the tuned ones) and small variations of them."""

from __future__ import annotations

import dataclasses
from typing import Literal

from . import train as train_mod
from .gnn import GNNPredictorConfig
from .graph import GraphConfig


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named GNN recipe: the predictor and the graph it runs on."""

    predictor: GNNPredictorConfig
    graph: GraphConfig
    description: str
    task: Literal["target", "all"] = "target"  # what the training schedule is made for
    transfer: bool = False  # target task: the GNN is a fold model (gnnrec.transfer); predictor: the per-target one beside it
    finetune: train_mod.TrainConfig | None = None  # transfer: fine-tuning on the target's training users (None: none)
    finetune_members: int = 1  # transfer: fine-tuned copies (shuffling seeds seed, seed+1, ...), averaged


_ALL_TRAIN = train_mod.TrainConfig(epochs=20, batch_size=32, valid_every=27, loss="mse")  # all movies: ~28 steps an epoch

_BEST = Preset(GNNPredictorConfig(encoding="baseline+observed", item_damping=5.0, user_damping=50.0, ensemble=3,
                                  train=dataclasses.replace(train_mod.TrainConfig(), epochs=10, weight_decay=1e-3)),
               GraphConfig(k=10, min_common=10, sign="abs", shrinkage=100.0),
               "ratings minus the item mean and the user's offset (damped by 5 and 50 ratings) plus an "
               "observed channel; k=10 graph by |correlation| shrunk by n/(n+100) (n co-raters), >=10 "
               "co-raters; 3 seeds averaged, 10 epochs each, weight decay 1e-3")
_FINETUNE = train_mod.TrainConfig(epochs=3, batch_size=16, lr=0.001, valid_every=5, loss="mse")  # one target, from a fold model

PRESETS: dict[str, Preset] = {
    "seed": Preset(GNNPredictorConfig(), GraphConfig(k=10, min_common=1),
                   "the seed/reference: raw ratings in, k=10 graph with no co-rater minimum"),
    "best": _BEST,
    "transfer": Preset(_BEST.predictor, _BEST.graph,
                       "the all-movies GNN blind to the target's fold of movies (gnnrec.transfer), its graph and "
                       "means from every rating but the test cells, fine-tuned on the target's training users; "
                       "the per-target 'best' GNN beside it as gnn_target", transfer=True, finetune=_FINETUNE),
    "all": Preset(GNNPredictorConfig(encoding="baseline+observed", train=_ALL_TRAIN, item_damping=5.0, user_damping=5.0),
                  GraphConfig(k=20, min_common=2, shrinkage=25.0),
                  "one model for every movie: ratings minus item mean and user offset (both damped by 5 "
                  "ratings), observed channel; labels resampled each epoch and kept out of the training graph; "
                  "k=20 graph, correlations shrunk by n/(n+25) (n co-raters); 20 epochs, MSE loss", task="all"),
}


def preset(name: str | Preset, task: str | None = None) -> Preset:
    """The preset called ``name`` (a :class:`Preset` passes through); with ``task``, refuse one
    made for the other task."""
    if isinstance(name, Preset):
        p = name
    elif name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    else:
        p = PRESETS[name]
    if task is not None and p.task != task:
        fits = sorted(n for n, q in PRESETS.items() if q.task == task)
        label = name if isinstance(name, str) else "this custom preset"
        raise ValueError(f"preset {label!r} is made for the {p.task!r} task, not {task!r}; choose one of {fits}")
    return p


def preset_label(p: str | Preset) -> str:
    return p if isinstance(p, str) else "custom"


def customise(p: Preset, features=None, taps=None, k=None, epochs=None) -> Preset:
    """A copy of ``p`` with other layer widths, taps, graph neighbours or epochs (None: keep);
    the configs validate the values (e.g. taps < 1 raises ValueError)."""
    model, train, graph = p.predictor.model, p.predictor.train, p.graph
    if features is not None or taps is not None:
        feats = tuple(features) if features is not None else model.features
        tps = tuple(taps) if taps is not None else (model.taps[0],) * len(feats)
        model = dataclasses.replace(model, features=feats, taps=tps)
    if epochs is not None:
        train = dataclasses.replace(train, epochs=epochs)
    if k is not None:
        graph = dataclasses.replace(graph, k=k)
    return dataclasses.replace(p, predictor=dataclasses.replace(p.predictor, model=model, train=train), graph=graph)


def linear_twin(cfg: GNNPredictorConfig) -> GNNPredictorConfig:
    """The same predictor without nonlinearity: a (multi-layer) linear graph filter."""
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, nonlinearity="none"))
