"""Tests for gnnrec.cli: `python -m gnnrec` as a process (data, an error), and `main([...])` in-process
for evaluate (one real split of Star Wars), train, models, recommend and the error exits.

In-process tests hand `gnnrec.data.load` the session's already-loaded real data (the command would
otherwise parse the same cache again, ~2 s a call); the subprocess tests load it themselves.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gnnrec.data
from gnnrec import cli, recommender, store
from gnnrec.evaluate import target_split

REPO = Path(__file__).resolve().parent.parent
MODELS = ("gnn", "gnn_target", "linear", "knn", "item_mean", "knn_baseline")  # the default preset: transfer


def run_module(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "GNNREC_DATA_DIR": str(gnnrec.data.cache_dir())}
    return subprocess.run([sys.executable, "-m", "gnnrec", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=timeout)


@pytest.fixture
def loaded(movielens, monkeypatch):
    """Commands get the session's real data instead of parsing the cache again."""
    monkeypatch.setattr(gnnrec.data, "load", lambda *a, **k: movielens)
    return movielens


# -- as a process ---------------------------------------------------------------------------------
@pytest.mark.integration
def test_data_command_process(movielens):
    proc = run_module("data")
    assert proc.returncode == 0, proc.stderr
    assert "100000 ratings, 943 users, 1682 movies" in proc.stdout
    assert f"fingerprint {movielens.fingerprint()}" in proc.stdout


def test_error_exit_process():
    proc = run_module("recommend", "--rate", "abc")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --rate 'abc': write MOVIE_ID=RATING")
    assert "Traceback" not in proc.stderr


# -- evaluate: one real split, 40 epochs (run once) -----------------------------------------------
@pytest.fixture(scope="module")
def evaluated(movielens, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "out.json"
    buf = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(buf):
        mp.setattr(gnnrec.data, "load", lambda *a, **k: movielens)
        rc = cli.main(["evaluate", "--target", "50", "--splits", "1", "--json", str(out)])
    return rc, buf.getvalue(), json.loads(out.read_text())


@pytest.mark.integration
def test_evaluate_prints_table(evaluated):
    rc, text, res = evaluated
    assert rc == 0
    lines = text.splitlines()
    assert re.match(r"split 1/1 \(seed 0\): gnn \d\.\d{4}, gnn_target", lines[0])
    i = next(i for i, line in enumerate(lines) if line.startswith("Star Wars (1977): RMSE over 1 splits"))
    assert lines[i + 1].split()[:3] == ["model", "RMSE", "mean"]
    rows = [line.split() for line in lines[i + 2: i + 2 + len(MODELS)]]
    assert sorted(r[0] for r in rows) == sorted(MODELS)
    means = [float(r[1]) for r in rows]
    assert means == sorted(means)  # best first
    for name, mean, std in rows:
        assert float(mean) == pytest.approx(res["summary"][name]["mean"], abs=1e-4)
        assert float(std) == 0.0
    assert lines[-1].startswith("wrote ") and lines[-1].endswith("out.json")


@pytest.mark.integration
def test_evaluate_json(evaluated, movielens):
    _, _, res = evaluated
    assert {"task", "target", "config", "splits", "summary"} <= set(res)
    assert res["task"] == "target" and res["target"] == 50
    assert res["config"]["preset"] == "transfer" and res["config"]["splits"] == 1 and res["config"]["gnn"]["target"] == 49
    (s,) = res["splits"]
    split = target_split(movielens, 50, 0)
    assert s["seed"] == 0
    assert s["train_users"] == split.train_users.tolist() and len(s["train_users"]) == 473
    assert s["valid_users"] == split.valid_users.tolist() and len(s["valid_users"]) == 52
    assert len(s["test"]) == 58
    for r in s["test"]:
        assert set(r) == {"user", "movie", "pred", "fallback"}  # no ratings: GroupLens's terms
        assert set(r["pred"]) == set(MODELS)
        assert r["movie"] == 50
    assert [r["user"] for r in s["test"]] == split.test_users.tolist()


@pytest.mark.integration
def test_evaluate_json_rescored(evaluated, movielens):
    _, _, res = evaluated
    (s,) = res["splits"]
    y = movielens.matrix()[np.array([r["user"] for r in s["test"]]) - 1, 49]
    for name in MODELS:
        p = np.array([r["pred"][name] for r in s["test"]])
        hand = float(np.sqrt(np.mean((p - y) ** 2)))
        assert res["summary"][name]["mean"] == pytest.approx(hand, rel=1e-12)
        assert res["summary"][name]["per_split"] == [pytest.approx(hand, rel=1e-12)]
    # the trained GNN is better than the movie's mean rating
    assert res["summary"]["gnn"]["mean"] < res["summary"]["item_mean"]["mean"]


# -- error exits ----------------------------------------------------------------------------------
@pytest.mark.integration
@pytest.mark.parametrize("argv, message", [
    (["evaluate", "--target", "99999", "--splits", "1"], "unknown movie id 99999"),
    (["evaluate", "--preset", "nope", "--splits", "1"], "unknown preset 'nope'"),
    (["evaluate", "--splits", "0"], "splits=0 must be >= 1"),
    (["train", "--name", "../evil"], "model name '../evil' is not allowed"),
    (["train", "--name", ".hidden"], "model name '.hidden' is not allowed"),
    (["recommend", "--rate", "50=9"], "rating '9' of movie 50 is outside 1-5"),
    (["recommend", "--rate", "50=nan"], "rating 'nan' of movie 50 is outside 1-5"),
    (["recommend", "--rate", "50=x"], "rating 'x' of movie 50 is not a number"),
    (["recommend", "--rate", "abc"], "--rate 'abc': write MOVIE_ID=RATING"),
    (["recommend", "--rate", "x=5"], "movie id 'x' is not an integer"),
    (["recommend", "--rate", "0=5"], "unknown movie id 0"),
    (["recommend", "--rate", "50=5", "--rate", "50=4"], "movie 50 is rated twice"),
    (["recommend", "--rate", "50=5", "--top", "0"], "top=0 must be >= 1"),
    (["recommend", "--rate", "50=5", "--model", "ghost"], "no model 'ghost'"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_error_exits(loaded, capsys, tmp_path, monkeypatch, argv, message):
    if argv[0] == "train":
        monkeypatch.setenv("GNNREC_MODELS_DIR", str(tmp_path / "models"))
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert list(tmp_path.rglob("*")) == []  # nothing written (train: nothing trained or saved)


def test_argparse_errors(capsys):
    for argv in (["evaluate", "--target", "abc"], ["recommend"], ["nope"], []):
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


# -- recommend, train, models ---------------------------------------------------------------------
@pytest.mark.integration
def test_recommend_prints_both_lists(loaded, capsys):
    assert cli.main(["recommend", "--rate", "50=5", "--rate", "181=4", "--rate", "1=2", "--top", "5"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Your ratings: 50=5, 181=4, 1=2")
    assert "Top 5 by GNN (all-movies):" in text and "Top 5 by KNN (k-NN with baselines):" in text
    assert len(re.findall(r"^\s+[1-5]\. \d\.\d\d  \S", text, flags=re.M)) == 10
    expected = recommender.default_recommender().recommend({50: 5, 181: 4, 1: 2}, top=5, min_raters=20)
    for name in ("gnn", "knn"):
        for row in expected.top[name].itertuples():
            assert f"{getattr(row, name):.2f}  {row.title} ({row.year}) [id {row.movie}]" in text
    for rated in (50, 181, 1):
        assert f"[id {rated}]" not in text


@pytest.mark.integration
def test_train_then_models(loaded, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GNNREC_MODELS_DIR", str(tmp_path))
    assert cli.main(["models"]) == 0
    assert f"no models in {tmp_path}" in capsys.readouterr().out
    assert cli.main(["train", "--target", "27", "--epochs", "1", "--name", "t27"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"saved {tmp_path / 't27.pt'}") and '"test_rmse"' in out
    ckpt = store.load("t27", tmp_path, data_fingerprint=loaded.fingerprint())
    # --epochs overrides the preset
    assert ckpt.config.target == 26 and ckpt.config.train.epochs == 1 and ckpt.extra["preset"] == "best+custom"
    shutil.copyfile(REPO / "models" / "all-movies.pt", tmp_path / "all-movies.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a model")
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["all-movies", "broken", "t27", "ranking/ranking"]
    assert "target=None preset=all" in lines[0]
    assert "UNREADABLE" in lines[1] and "corrupt" in lines[1]
    assert "target=26 preset=best+custom" in lines[2]
    assert "UNAVAILABLE" in lines[3] and "train --task topn" in lines[3]  # this models folder has no ranking/


@pytest.mark.parametrize("text", ["1_0", "+5", "٥٠", "5.0", " 50"])
def test_recommend_takes_movie_ids_in_ascii_digits_only(capsys, text):
    assert cli.main(["recommend", "--rate", f"{text}=5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --rate") and "is not an integer written in digits" in err
