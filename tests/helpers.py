"""Helpers shared by the tests and the benchmarks: a real ``streamlit run app.py`` on a free port,
a temporary copy of the models folder, and a small synthetic evaluation result.

Tests import it as ``helpers`` (pytest puts tests/ on the path); bench/ scripts put tests/ on
``sys.path`` first.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def models_copy(folder: Path) -> Path:
    """``folder`` made, holding a copy of the committed models and their ``folds/`` (the transfer
    preset's, Compare's default live run), so a test never writes into models/."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in (ROOT / "models").glob("*.pt"):
        shutil.copy(f, folder / f.name)
    for sub in ("ranking", "folds"):  # the ranking GNN the GNN list comes from; the transfer GNN's fold models
        if (ROOT / "models" / sub).is_dir():
            shutil.copytree(ROOT / "models" / sub, folder / sub, dirs_exist_ok=True)
    return folder


def start_streamlit(port: int, env: dict, log, timeout: float = 60) -> subprocess.Popen:
    """``streamlit run app.py`` on 127.0.0.1:port (its output to the open file ``log``), returned
    once its health check answers; RuntimeError with the log's tail if it exits or stays unhealthy."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            log.flush()
            tail = Path(log.name).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"streamlit exited with {proc.returncode}: {tail}")
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc
        except OSError:
            pass
        if time.time() > deadline:
            stop_streamlit(proc)
            raise RuntimeError(f"streamlit did not become healthy within {timeout:.0f} s")
        time.sleep(0.3)


def stop_streamlit(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def raters(data, movie: int = 50) -> list[int]:
    """The real users who rated ``movie`` (a results file's records must be real ratings: the
    app looks their true values up in the data)."""
    r = data.ratings
    return sorted(int(u) for u in r.loc[r["movie"] == movie, "user"])


def synthetic_result(data, splits: int = 2, users: int = 20) -> dict:
    """A small evaluation in the format of :func:`gnnrec.evaluate.evaluate_target` (made-up
    predictions and RMSEs of real raters of Star Wars, movie 50; no ratings, as saved files)."""
    models = {"gnn": 0.05, "gnn_last": 0.1, "linear": 0.2, "knn": 0.3, "item_mean": 0.45}
    out = []
    for s in range(splits):
        test = [{"user": u, "movie": 50,
                 "pred": {m: round(1 + u % 5 + (off + 0.02 * s) * (-1) ** u, 3) for m, off in models.items()}}
                for u in raters(data)[:users]]
        out.append({"seed": s, "test": test, "rmse": {m: off + 0.02 * s for m, off in models.items()},
                    "best_step": 100 + s})
    per = {m: [off + 0.02 * s for s in range(splits)] for m, off in models.items()}
    summary = {m: {"mean": sum(v) / splits, "std": 0.0163, "per_split": v} for m, v in per.items()}
    return {"task": "target", "target": 50, "title": "Star Wars (1977)", "config": {"preset": "test"},
            "splits": out, "summary": summary}


PANEL_MOVIES = (100, 181, 127, 98, 1, 258)  # Fargo, Return of the Jedi, The Godfather, Silence of the Lambs, ...


def synthetic_panel(data, movies=PANEL_MOVIES, splits: int = 2, users: int = 10) -> dict:
    """A small panel in the format of :func:`gnnrec.panels.evaluate_panel` (``rows`` and
    ``summary`` made by gnnrec.panels from made-up RMSEs; each movie's result holds real raters
    of that movie and made-up predictions, no ratings). The GNN wins on the even positions."""
    from gnnrec import panels

    results, rows = [], []
    for i, movie in enumerate(movies):
        rmse = {"gnn": 0.80 + 0.05 * i - (0.1 if i % 2 == 0 else -0.1), "knn_baseline": 0.85 + 0.05 * i,
                "knn": 0.95 + 0.05 * i, "item_mean": 1.05 + 0.05 * i}
        out = [{"seed": s, "rmse": dict(rmse), "best_step": 10,
                "test": [{"user": u, "movie": movie, "pred": {m: round(1 + (u + s) % 5 + 0.1 * j, 3)
                                                               for j, m in enumerate(rmse)}}
                         for u in raters(data, movie)[:users]]} for s in range(splits)]
        res = {"task": "target", "target": movie, "title": data.title(movie), "config": {"preset": "best"},
               "splits": out, "summary": {m: {"mean": v, "std": 0.01, "per_split": [v] * splits}
                                          for m, v in rmse.items()}}
        results.append(res)
        rows.append(panels.movie_row(data, res))
    return {"task": "panel", "panel": {"n": len(movies), "min_raters": 100, "seed": 7, "movies": list(movies)},
            "config": {"splits": splits, "split_seed": 0, "preset": "best", "reference": panels.REFERENCE},
            "data_fingerprint": data.fingerprint(), "results": results, "rows": rows,
            "summary": panels.panel_summary(rows), "seconds": 1.0}


def app_folders(tmp_path: Path, monkeypatch) -> dict:
    """A models copy and a results folder holding one synthetic result, both handed to the app
    through ``GNNREC_MODELS_DIR`` / ``GNNREC_RESULTS_DIR`` (the AppTest files' shared set-up)."""
    import json

    from gnnrec.app import catalog

    models, results = models_copy(tmp_path / "models"), tmp_path / "results"
    results.mkdir()
    (results / "synthetic.json").write_text(json.dumps(synthetic_result(catalog.load_data())))
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(models))
    monkeypatch.setenv("GNNREC_RESULTS_DIR", str(results))
    return {"models": models, "results": results}


def random_slot(obj, rng):
    """A random (container, key) of a leaf inside ``obj`` (nested dicts and lists)."""
    slots = []

    def walk(v):
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        for k, x in items:
            slots.append((v, k))
            walk(x)

    walk(obj)
    return rng.choice(slots)


def damaged_loads(good: dict, path: Path, data, values: list, copies: int, use) -> int:
    """``copies`` copies of the result ``good``, each with one random value replaced by one of
    ``values`` and written to ``path``: each is loaded with the data and handed to ``use``, or
    refused with ``ResultError``. Returns how many were refused."""
    import copy
    import json
    import random

    from gnnrec.app import results

    rng, refused = random.Random(0), 0
    for _ in range(copies):
        res = copy.deepcopy(good)
        parent, key = random_slot(res, rng)
        parent[key] = rng.choice(values)
        path.write_text(json.dumps(res))
        try:
            loaded = results.load_result(path, data)
        except results.ResultError:
            refused += 1
            continue
        use(loaded)
    return refused
