"""The command line's top-N commands: ``evaluate --task topn`` and ``train --task topn``."""

from __future__ import annotations

import dataclasses
import time

from . import data as data_mod
from . import store
from .files import check_writable, write_json


def evaluate(d, args) -> int:
    from .topn import protocol

    if args.panel is not None or args.split is not None:
        raise ValueError("--task topn splits each user's ratings 75/25; drop --panel and --split")
    models = protocol.check_models(args.models.split(",")) if args.models else protocol.MODELS
    splits = 1 if args.splits is None else args.splits
    if splits < 1:
        raise ValueError(f"--splits {splits}: give at least 1")
    seeds = range(args.seed, args.seed + splits)
    res = protocol.evaluate_topn(d, seeds, args.k, models, on_model=lambda seed, name, m, secs: print(
        f"seed {seed} {name:<14} nDCG@{args.k} {m['ndcg']:.4f}  P@{args.k} {m['precision']:.4f}  "
        f"coverage {m['coverage']:.3f}  ({secs:.1f} s)", flush=True))
    print(f"Top-{args.k} lists, each user's ratings split 75/25 (seeds {', '.join(map(str, seeds))}; "
          f"{res['seconds']:.0f} s); means over the splits:")
    print(protocol.format_table(res["summary"], args.k))
    write_json(args.json, res)
    return 0


def train(args) -> int:
    """The ranking GNN the app's lists come from, trained on every rating (gnnrec.topn)."""
    from .topn import store as rank_store
    from .topn.training import RankTrainConfig, fit_rank_gnn

    if args.features or args.taps or args.k or args.preset:
        raise ValueError("--task topn trains the ranking GNN's recipe (docs/experiments.md); drop --features, --taps, "
                         "--k and --preset")
    name = args.name or rank_store.DEFAULT_RANKER
    path = rank_store.folder_for() / f"{store.check_name(name)}.pt"
    if path.exists() and not args.force:
        raise ValueError(f"ranking model {name!r} exists already; add --force to replace it")
    check_writable(path, "model file")
    tc = RankTrainConfig(seed=args.seed, **({"epochs": args.epochs} if args.epochs else {}))
    d = data_mod.load()
    t0 = time.perf_counter()
    ranker = fit_rank_gnn(d.matrix(), tc=tc, on_progress=lambda p: print(
        f"epoch {p.epoch}/{p.epochs}: loss {p.loss:.4f}", flush=True))
    seconds = time.perf_counter() - t0
    path = rank_store.save(ranker, name, metrics={"train_seconds": seconds}, data_fingerprint=d.fingerprint(),
                           extra={"task": "topn", "train": dataclasses.asdict(tc)})
    print(f"saved {path} ({path.stat().st_size / 1024:.0f} KiB) in {seconds:.1f} s")
    return 0
