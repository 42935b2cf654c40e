"""Command line: ``python -m gnnrec {data,evaluate,train,models,recommend}``."""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import cli_topn, store
from . import data as data_mod
from .evaluate import DEFAULT_TARGET
from .files import check_writable, write_json


def _print_table(summary: dict, title: str) -> None:
    print(title)
    print(f"{'model':<12} {'RMSE mean':>10} {'± std':>8}")
    for name, s in sorted(summary.items(), key=lambda kv: kv[1]["mean"]):
        print(f"{name:<12} {s['mean']:>10.4f} {s['std']:>8.4f}")


def cmd_data(args) -> int:
    d = data_mod.load()
    print(f"MovieLens-100K from {d.source}, cached in {data_mod.cache_dir()}: {len(d.ratings)} ratings, "
          f"{d.ratings['user'].nunique()} users, {len(d.movies)} movies; fingerprint {d.fingerprint()}")
    return 0


def cmd_evaluate(args) -> int:
    check_writable(args.json, "--json")
    from . import evaluate

    d = data_mod.load()
    if args.task == "topn":
        return cli_topn.evaluate(d, args)
    args.splits = 10 if args.splits is None else args.splits
    args.preset = args.preset or (evaluate.DEFAULT_PRESET if args.task == "target" else "all")
    if args.panel is not None:
        return _evaluate_panel(d, args)
    if args.task == "target":
        cfg = evaluate.EvalConfig(target=args.target, splits=args.splits, seed=args.seed, preset=args.preset)
        res = evaluate.evaluate_target(d, cfg, workers=args.workers, on_split=lambda i, r: print(
            f"split {i + 1}/{args.splits} (seed {r['seed']}): " +
            ", ".join(f"{k} {v:.4f}" for k, v in r["rmse"].items()), flush=True))
        title = f"{d.title(args.target)}: RMSE over {args.splits} splits ({res['seconds']:.1f} s)"
    else:
        from . import allmovies

        split = args.split or "random"
        res = allmovies.evaluate_all(d, splits=args.splits, seed=args.seed, preset_name=args.preset, split=split,
                                     on_split=lambda i, r: print(f"split {r['split']} (seed {r['seed']}): " + ", ".join(
                                         f"{k} {v:.4f}" for k, v in r["rmse"].items()), flush=True))
        what = f"{args.splits} random 90/10 rating splits" if split == "random" else \
            ("GroupLens's canonical splits u1-u5" if split == "canonical" else f"GroupLens's canonical split {split}")
        title = f"All movies: RMSE over {what} ({res['seconds']:.1f} s)"
    _print_table(res["summary"], title)
    write_json(args.json, res)
    return 0


def _evaluate_panel(d, args) -> int:
    from . import panels

    if args.task != "target":
        raise ValueError("--panel runs the target-movie protocol on each movie; drop --task all")
    header_done = []

    def show(i, row):
        models = list(row["rmse"])
        if not header_done:
            print(panels.format_header(models), flush=True)
            header_done.append(models)
        print(panels.format_row(row, models), flush=True)

    res = panels.evaluate_panel(d, n=args.panel, min_raters=args.min_raters, seed=args.seed, splits=args.splits,
                                split_seed=args.split_seed, preset=args.preset, workers=args.workers, on_movie=show)
    print(panels.format_summary(res["summary"], header_done[0]))
    print(f"panel seed {args.seed}, {args.panel} movies with >= {args.min_raters} raters, {args.splits} splits "
          f"(seeds {args.split_seed}..{args.split_seed + args.splits - 1}), preset {args.preset}: {res['seconds']:.0f} s")
    write_json(args.json, res)
    return 0


def cmd_train(args) -> int:
    from . import evaluate

    if args.task == "folds":
        return _train_folds(args)
    if args.task == "topn":
        return cli_topn.train(args)
    args.preset = args.preset or ("best" if args.task == "target" else "all")
    if args.preset == "transfer":
        raise ValueError("--preset transfer is the target task's evaluation recipe, built per split from the fold "
                         "models; train those with --task folds (or a one-movie model with --preset best)")
    name = args.name or (f"target-{args.target}-{args.preset}" if args.task == "target" else f"all-{args.preset}")
    check_new_model(name, args.task, args.force)
    check_writable(store.path_for(name), "model file")
    from .presets import customise, preset

    # the configs check the architecture (gnnrec.models' bounds, the store's) before any work
    recipe = customise(preset(args.preset, task=args.task), features=_ints(args.features, "--features"),
                       taps=_ints(args.taps, "--taps"), k=args.k, epochs=args.epochs)
    d = data_mod.load()
    t0 = time.perf_counter()
    if args.task == "target":
        ckpt_pred, metrics, extra = evaluate.train_target_model(d, args.target, recipe, seed=args.seed)
    else:
        from . import allmovies

        ckpt_pred, metrics, extra = allmovies.train_all_model(d, recipe, seed=args.seed)
    extra["preset"] = args.preset if recipe == preset(args.preset) else f"{args.preset}+custom"
    path = store.save(ckpt_pred, name, metrics=metrics, data_fingerprint=d.fingerprint(), extra=extra)
    print(f"saved {path} ({path.stat().st_size / 1024:.0f} KiB) in {time.perf_counter() - t0:.1f} s; "
          f"metrics: {json.dumps(metrics)}")
    return 0


def _train_folds(args) -> int:
    """The transfer GNN's fold models (gnnrec.transfer), each the all-movies preset trained on every
    rating but one fold of movies, saved in models/folds/."""
    from . import transfer

    if args.name or args.features or args.taps or args.k or args.epochs:
        raise ValueError("--task folds trains the fold models of an all-movies preset as they are; drop --name, "
                         "--features, --taps, --k and --epochs")
    preset = args.preset or "all"
    existing = [n for n in (transfer.model_name(f) for f in range(transfer.FOLDS))
                if n in store.list_names(transfer.folder())]
    if existing and not args.force:
        raise ValueError(f"fold models exist already ({', '.join(existing)}); add --force to replace them")
    for f in range(transfer.FOLDS):
        check_writable(store.path_for(transfer.model_name(f), transfer.folder()), "model file")
    d = data_mod.load()
    t0 = time.perf_counter()
    transfer.train_folds(d, preset, args.seed, on_fold=lambda f, m: print(
        f"fold {f} of {transfer.FOLDS}: valid RMSE {m['valid_rmse']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True))
    print(f"saved {transfer.FOLDS} fold models in {transfer.folder()} in {time.perf_counter() - t0:.0f} s")
    return 0


def check_new_model(name: str, task: str, force: bool) -> None:
    """Overwrites on purpose only: an existing model needs ``--force``, and the app's default
    model can only ever be replaced by another all-movies model."""
    from .recommender import DEFAULT_MODEL

    store.check_name(name)
    if name == DEFAULT_MODEL and task != "all":
        raise ValueError(f"--name {name}: {name!r} is the default all-movies model that recommendations use; a "
                         "one-movie model cannot replace it. Choose another name")
    if name in store.list_names() and not force:
        raise ValueError(f"--name {name}: a model of that name exists already; add --force to replace it, or "
                         "choose another name (nothing was trained)")


def _ints(text: str | None, flag: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",")] if text.strip() else []
    except ValueError:
        raise ValueError(f"{flag} {text!r}: give comma-separated integers, e.g. 64,32") from None


def cmd_models(args) -> int:
    names = store.list_names()
    if not names:
        print(f"no models in {store.models_dir()}")
    for n in names:
        try:
            c = store.load(n, n_movies=data_mod.N_MOVIES)
            print(f"{n:<28} target={c.config.target} preset={c.extra.get('preset')} metrics={json.dumps(c.metrics)}")
        except store.StoreError as e:
            print(f"{n:<28} UNREADABLE: {e}")
    from .topn import store as rank_store

    try:
        r = rank_store.load(n_movies=data_mod.N_MOVIES)
        print(f"{'ranking/' + r.name:<28} the ranking GNN (the app's GNN list) metrics={json.dumps(r.metrics)}")
    except store.StoreError as e:
        print(f"{'ranking/' + rank_store.DEFAULT_RANKER:<28} UNAVAILABLE: {e}")
    return 0


def cmd_recommend(args) -> int:
    from . import recommender as rec

    ratings = {}
    for item in args.rate:
        movie, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--rate {item!r}: write MOVIE_ID=RATING, e.g. --rate 50=5")
        try:
            mid = data_mod.parse_movie_id(movie)
        except ValueError as e:
            raise ValueError(f"--rate {item!r}: {e}") from None
        if mid in ratings:
            raise ValueError(f"movie {mid} is rated twice (--rate {item}); give each movie once")
        ratings[mid] = value
    result = rec.recommend(ratings, top=args.top, min_raters=args.min_raters, model=args.model)
    print(rec.format_result(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gnnrec", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("data", help="fetch MovieLens-100K into the cache and check it").set_defaults(fn=cmd_data)

    e = sub.add_parser("evaluate", help="RMSE of GNN, linear filter, k-NN and item mean over random splits")
    e.add_argument("--task", choices=["target", "all", "topn"], default="target",
                   help="target: one movie's ratings (RMSE); all: every movie's ratings (RMSE); topn: top-K lists "
                   "against held-out movies (nDCG, precision, recall, MAP, hit rate, coverage)")
    e.add_argument("--k", type=int, default=10, help="--task topn: list length scored (default 10)")
    e.add_argument("--models", help="--task topn: comma-separated models (default: all of them)")
    e.add_argument("--target", type=int, default=DEFAULT_TARGET, help="GroupLens movie id (default %(default)s, Star Wars)")
    e.add_argument("--panel", type=int, metavar="N", help="instead of --target: N target movies drawn at random "
                   "(with --seed) among those with >= --min-raters raters, the protocol run on each")
    e.add_argument("--min-raters", type=int, default=100, help="--panel: raters a movie needs to be drawn (default 100)")
    e.add_argument("--split-seed", type=int, default=0, help="--panel: each movie's splits are seeded SPLIT_SEED, ...")
    e.add_argument("--split", choices=["random", "canonical", "u1", "u2", "u3", "u4", "u5"], default=None,
                   help="--task all: random 90/10 splits (default), GroupLens's canonical u1..u5, or all five")
    e.add_argument("--splits", type=int, default=None, help="splits (default 10; --task topn: 1)")
    e.add_argument("--seed", type=int, default=0, help="splits are seeded SEED, SEED+1, ...; with --panel the "
                   "panel's seed")
    e.add_argument("--preset", default=None, help="GNN preset: transfer (default for --task target: fold models "
                   "fine-tuned per movie), best (per-target only), seed (the reference configuration), or all "
                   "(default for --task all)")
    e.add_argument("--json", help="write every prediction and the summary here")
    e.add_argument("--workers", type=int, default=2, help="processes running target-task splits at once (default 2)")
    e.set_defaults(fn=cmd_evaluate)

    t = sub.add_parser("train", help="train a GNN and save it in the model store")
    t.add_argument("--task", choices=["target", "all", "folds", "topn"], default="target",
                   help="target: one movie; all: every movie; folds: the transfer GNN's fold models; topn: the "
                   "ranking GNN the app's lists come from (models/ranking/)")
    t.add_argument("--target", type=int, default=DEFAULT_TARGET)
    t.add_argument("--preset", default=None, help="default: best for --task target, all for --task all")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    t.add_argument("--features", help="layer widths, e.g. 64,32 (default: the preset's)")
    t.add_argument("--taps", help="taps per layer, e.g. 5,5 (default: the preset's first, for every layer)")
    t.add_argument("--k", type=int, help="graph neighbours per movie (default: the preset's)")
    t.add_argument("--name", help="model name in models/ (default from task and preset)")
    t.add_argument("--force", action="store_true", help="replace an existing model of that name (the default "
                   "all-movies model only by another all-movies model)")
    t.set_defaults(fn=cmd_train)

    sub.add_parser("models", help="list the stored models").set_defaults(fn=cmd_models)

    r = sub.add_parser("recommend", help="predictions and top-N lists for a new user")
    r.add_argument("--rate", action="append", default=[], metavar="MOVIE=RATING", required=True)
    r.add_argument("--top", type=int, default=10)
    r.add_argument("--min-raters", type=int, default=20, help="skip movies with fewer ratings (default 20)")
    r.add_argument("--model", default=None, help="all-movies model name (default: the committed one)")
    r.set_defaults(fn=cmd_recommend)
    return p


def one_line(e: BaseException) -> str:
    """An error as one line (a message over several lines is joined)."""
    return " ".join(str(e).split()) or type(e).__name__


def main(argv: list[str] | None = None) -> int:
    """Run a command; every error is one line on stderr (``error: ...``) and exit code 2."""
    args = build_parser().parse_args(argv)
    from . import fast

    fast.configure_process()
    try:
        return args.fn(args)
    except (ValueError, data_mod.DataError, store.StoreError, OSError) as e:  # OSError: disk full, permissions
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001  a bug: still one line (the type says where to look), exit 2
        print(f"error: {type(e).__name__}: {one_line(e)[:500]}", file=sys.stderr)
        return 2
